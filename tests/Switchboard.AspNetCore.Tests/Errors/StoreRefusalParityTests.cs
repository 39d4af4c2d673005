using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Problems;
using Switchboard.Testing;
using Switchboard.Testing.Log;

namespace Switchboard.AspNetCore.Tests.Errors;

/// <summary>
/// A publish the store refuses is reported with the same code over HTTP (problem+json) and over WebSocket (an error
/// op), because both go through <c>ErrorMapping</c>.
/// </summary>
public sealed class StoreRefusalParityTests
{
    public enum Refusal
    {
        Full,
        Outage,
    }

    [Theory]
    [InlineData(Refusal.Full, HttpStatusCode.InsufficientStorage, "store-full", "store_full")]
    [InlineData(Refusal.Outage, HttpStatusCode.ServiceUnavailable, "store-unavailable", "store_unavailable")]
    public async Task PublishRefusedByTheStore_SameCode_OverHttpAndWebSocket(Refusal refusal, HttpStatusCode status, string httpCode, string socketCode)
    {
        await using var server = await HubServer.StartAsync(services: services =>
        {
            var original = services.Last(d => d.ServiceType == typeof(IEventLog));
            services.Remove(original);
            services.AddSingleton<IEventLog>(sp => new RefusingEventLog(original.ImplementationFactory is { } factory
                ? (IEventLog)factory(sp)
                : throw new InvalidOperationException("Expected the store to be registered with a factory."), refusal));
            services.AddSingleton<IStoreFaultClassifier, OutageClassifier>();
        });
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);

        using var response = await client.PostAsync(HubApi.EventsPath("chat.room"), """{"type":"t","data":1}""");
        var problem = await response.AssertProblemAsync(status, httpCode);
        Assert.True(response.Headers.RetryAfter is not null, "A refused write says when to retry.");

        var error = await socket.RequestAsync("""{"op":"publish","id":"p1","topic":"chat.room","type":"t","data":1}""");
        Assert.Equal("error", error.GetProperty("op").GetString());
        Assert.Equal(socketCode, error.GetProperty("code").GetString());
        Assert.Equal(httpCode.Replace('-', '_'), error.GetProperty("code").GetString());
        Assert.Equal(problem.GetProperty("detail").GetString(), error.GetProperty("message").GetString());
        await socket.AssertPingPongAsync(); // a refused publish leaves the connection open
    }

    private sealed class RefusingEventLog(IEventLog inner, Refusal refusal) : DelegatingEventLog(inner)
    {
        public override Task<AppendResult> AppendAsync(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency = null, CancellationToken cancellationToken = default) =>
            refusal == Refusal.Full
                ? throw new StoreFullException("The test store is full.")
                : throw new StoreOutage();
    }

    private sealed class StoreOutage : Exception;

    private sealed class OutageClassifier : IStoreFaultClassifier
    {
        public SwitchboardException? Classify(Exception exception) => exception is StoreOutage ? StoreProblems.Unavailable("The test store is away.") : null;
    }
}
