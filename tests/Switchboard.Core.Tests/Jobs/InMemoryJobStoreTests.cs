using Switchboard.Jobs;
using Switchboard.Testing.Jobs;

namespace Switchboard.Core.Tests.Jobs;

public sealed class InMemoryJobStoreTests : JobStoreSpecification
{
    protected override IJobStore CreateStore() => new InMemoryJobStore();
}
