using Switchboard.Testing.Webhooks;
using Switchboard.Webhooks;

namespace Switchboard.Core.Tests.Webhooks;

public sealed class InMemoryWebhookStoreTests : WebhookStoreSpecification
{
    protected override IWebhookStore CreateStore() => new InMemoryWebhookStore();
}
