using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Switchboard.AspNetCore.Webhooks;
using Switchboard.Testing;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>Leadership over webhook delivery moves at run time (nodes sharing a store); the API and the metrics read the endpoints meanwhile.</summary>
public sealed class WebhookLeadershipTests
{
    [Fact]
    public async Task LeadershipChanges_WhileTheEndpointsAreListed_NeverCorruptTheList()
    {
        var leadership = new SwitchableLeadership();
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), services: s =>
        {
            s.RemoveAll<IWebhookLeadership>();
            s.AddSingleton<IWebhookLeadership>(leadership);
        });
        var dispatcher = server.App.Services.GetRequiredService<WebhookDispatcher>();
        using var client = server.CreateClient();
        leadership.Grant();
        await Waiting.UntilAsync(() => leadership.Acquired, "the dispatcher to take the lease");
        const int Endpoints = 64;
        for (var i = 0; i < Endpoints; i++)
        {
            await client.CreateWebhookAsync($$"""{"url":"http://127.0.0.1:9/hook/{{i}}","topics":["orders.{{i}}"]}""");
        }

        // Readers list the endpoints without pause (as GET /v1/webhooks and the endpoints gauge do) while the lease comes and goes.
        using var stop = new CancellationTokenSource();
        var lists = 0L;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var count = dispatcher.List().Count;
                Assert.True(count is 0 or <= Endpoints, $"listed {count} endpoints");
                Interlocked.Increment(ref lists);
            }
        })).ToArray();

        for (var flip = 0; flip < 40; flip++)
        {
            leadership.Revoke();
            await Waiting.UntilAsync(() => dispatcher.List().Count == 0, "the resigned node to forget its endpoints");
            leadership.Grant();
            await Waiting.UntilAsync(() => dispatcher.List().Count == Endpoints, "the new leader to load every endpoint");
        }

        await stop.CancelAsync();
        await Task.WhenAll(readers).Within(); // rethrows what a reader saw
        Assert.True(Interlocked.Read(ref lists) > 100, $"the readers listed only {lists} times");
    }

    /// <summary>A lease the test hands out and takes back.</summary>
    private sealed class SwitchableLeadership : IWebhookLeadership
    {
        private readonly object _gate = new();
        private TaskCompletionSource<CancellationToken> _granted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenSource? _lease;
        private volatile bool _acquired;

        public bool IsShared => true;

        public bool IsLeader => _acquired;

        public string? LeaderAddress => null;

        public bool Acquired => _acquired;

        public Task<CancellationToken> AcquireAsync(CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                return _granted.Task.WaitAsync(cancellationToken).ContinueWith(t =>
                {
                    _acquired = true;
                    return t.Result;
                }, cancellationToken, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
        }

        public void Grant()
        {
            lock (_gate)
            {
                _lease = new CancellationTokenSource();
                _granted.TrySetResult(_lease.Token);
            }
        }

        public void Revoke()
        {
            lock (_gate)
            {
                _acquired = false;
                _granted = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
                _lease?.Cancel();
            }
        }
    }
}
