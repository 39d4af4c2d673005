using Switchboard.Jobs;
using Switchboard.Testing.Jobs;

namespace Switchboard.Jobs.Tests;

public sealed class InMemoryJobStoreTests : JobStoreSpecification
{
    protected override IJobStore CreateStore() => new InMemoryJobStore();
}
