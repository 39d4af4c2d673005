using Switchboard.Log;
using Switchboard.Testing.Log;

namespace Switchboard.Core.Tests.Log;

public sealed class InMemoryEventLogTests : EventLogSpecification
{
    protected override IEventLog CreateLog() => new InMemoryEventLog(Time);

    [Fact]
    public void Epoch_IsNewForEveryInstance() => Assert.NotEqual(NewLog().Epoch, NewLog().Epoch);
}
