using Switchboard.Testing.Webhooks;

namespace Switchboard.Webhooks.Tests;

public sealed class InMemoryWebhookStoreTests : WebhookStoreSpecification
{
    protected override IWebhookStore CreateStore() => new InMemoryWebhookStore();
}
