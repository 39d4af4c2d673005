using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Subscribing;

public sealed class ServiceRegistrationTests
{
    [Fact]
    public async Task AddSwitchboardClient_GivesAClientWhoseRequestsGoThroughTheFactoryClient()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        var handler = new CountingHandler();
        var services = new ServiceCollection();
        services.AddSwitchboardClient(o => o.BaseAddress = hub.BaseAddress).AddHttpMessageHandler(() => handler);
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<SwitchboardClient>();

        var published = await client.PublishAsync("orders", JsonSerializer.SerializeToElement(new { id = 1 }));

        Assert.Same(client, provider.GetRequiredService<SwitchboardClient>());
        Assert.Equal("orders", published.Topic);
        Assert.Equal(1, handler.Requests);
    }

    [Fact]
    public void SubscriberTokens_RefuseAShortSecret_AndCarryTheGrants()
    {
        Assert.Throws<ArgumentException>(() => SubscriberTokens.Create("short", "alice", [], [], null, TimeSpan.FromMinutes(1)));
        var token = SubscriberTokens.Create("a-secret-that-is-long-enough-0123456789", "alice", ["chat.>"], ["chat.lobby"], "Alice", TimeSpan.FromMinutes(5));
        var payload = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[1])).RootElement;
        Assert.Equal("alice", payload.GetProperty("sub").GetString());
        Assert.Equal("chat.>", payload.GetProperty("switchboard").GetProperty("subscribe")[0].GetString());
        Assert.Equal("Alice", payload.GetProperty("switchboard").GetProperty("presence").GetString());
        Assert.Equal(300, payload.GetProperty("exp").GetInt64() - payload.GetProperty("iat").GetInt64());
    }

    private sealed class CountingHandler : DelegatingHandler
    {
        public int Requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Requests);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
