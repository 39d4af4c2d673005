using System.Net;
using System.Text;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Config;

/// <summary>The watcher against the real hub over real sockets.</summary>
public sealed class ConfigWatcherTests
{
    private static readonly ConfigWatcherOptions Fast = new()
    {
        Hold = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromSeconds(10),
        MinBackoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(300),
    };

    [Fact]
    public async Task Watcher_FollowsChanges_RaisesChanged_AndEvaluatesFlags()
    {
        await using var server = await HubServer.StartAsync();
        using var admin = server.CreateClient();
        await PutAsync(admin, "shop", """{"newCheckout":false}""");
        using var http = server.CreateClient();
        await using var watcher = new ConfigWatcher(http, "shop", Fast);
        var changed = new TaskCompletionSource<ConfigChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.Changed += (_, e) => changed.TrySetResult(e);

        await watcher.StartAsync();
        Assert.Equal(1, watcher.Version);
        Assert.False(watcher.IsEnabled("newCheckout"));
        changed = new TaskCompletionSource<ConfigChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        await PutAsync(admin, "shop", """{"newCheckout":true,"beta":{"rollout":50}}""");
        var change = await changed.Task.Within();

        Assert.Equal(1, change.Previous.Version);
        Assert.Equal(2, change.Current.Version);
        Assert.True(watcher.IsEnabled("newCheckout"));
        foreach (var user in new[] { "alice", "bob", "carol", "dave" })
        {
            Assert.Equal(FeatureFlags.Bucket("beta", user) < 50, watcher.IsEnabled("beta", user));
        }
    }

    [Fact]
    public async Task Watcher_SurvivesAServerRestart_KeepingTheLastValues()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "hub.db");
        var first = await HubServer.StartAsync(sqlitePath: path);
        using var switchable = new SwitchableHandler(first.BaseAddress);
        using var http = new HttpClient(switchable) { BaseAddress = new Uri("http://hub.test/"), Timeout = Timeout.InfiniteTimeSpan };
        using (var admin = first.CreateClient())
        {
            await PutAsync(admin, "svc", """{"mode":"a"}""");
        }

        await using var watcher = new ConfigWatcher(http, "svc", Fast);
        await watcher.StartAsync();
        Assert.Equal(1, watcher.Version);

        await first.DisposeAsync();
        await Waiting.UntilAsync(() => watcher.LastError is not null, "the watcher to notice the hub is gone");
        Assert.Equal(1, watcher.Version);
        Assert.True(watcher.Current.TryGetValue("mode", out var mode) && mode.GetString() == "a");

        await using var second = await HubServer.StartAsync(sqlitePath: path);
        switchable.Target = second.BaseAddress;
        await Waiting.UntilAsync(() => watcher.LastError is null, "the watcher to reach the restarted hub");
        using var again = second.CreateClient();
        await PutAsync(again, "svc", """{"mode":"b"}""");
        await Waiting.UntilAsync(() => watcher.Version == 2, "the change made after the restart");

        Assert.True(watcher.Current.TryGetValue("mode", out mode) && mode.GetString() == "b");
    }

    [Fact]
    public async Task Watcher_HubLostTheApp_KeepsTheLastValuesUntilItReturns()
    {
        var first = await HubServer.StartAsync(sqlite: false);
        using var switchable = new SwitchableHandler(first.BaseAddress);
        using var http = new HttpClient(switchable) { BaseAddress = new Uri("http://hub.test/"), Timeout = Timeout.InfiniteTimeSpan };
        using (var admin = first.CreateClient())
        {
            await PutAsync(admin, "mem", """{"n":1}""");
            await PutAsync(admin, "mem", """{"n":2}""");
        }

        await using var watcher = new ConfigWatcher(http, "mem", Fast);
        await watcher.StartAsync();
        await first.DisposeAsync();
        await using var second = await HubServer.StartAsync(sqlite: false);
        switchable.Target = second.BaseAddress;
        await Waiting.UntilAsync(() => switchable.NotFoundAnswers > 0, "the restarted hub to answer that it has no such app");
        Assert.Equal(2, watcher.Version);

        using var admin2 = second.CreateClient();
        await PutAsync(admin2, "mem", """{"n":10}""");
        await Waiting.UntilAsync(() => watcher.Version == 1, "the watcher to take the recreated app's first version");

        Assert.Equal(10, watcher.Current.Values.GetProperty("n").GetInt32());
    }

    [Theory]
    [InlineData("""{"error":"maintenance"}""")]
    [InlineData("""{"version":"7","values":{}}""")]
    [InlineData("""{"version":1.5,"values":{}}""")]
    [InlineData("""[1,2]""")]
    public async Task Watcher_AnswerOfAnotherShape_IsAFailedPoll_AndTheWatcherGoesOn(string body)
    {
        await using var server = await HubServer.StartAsync();
        using (var admin = server.CreateClient())
        {
            await PutAsync(admin, "edge", """{"on":true}""");
        }

        // A proxy in front of the hub that answers 200 with its own JSON until it is told to pass requests on.
        using var proxy = new ImpostorHandler(server.BaseAddress, body);
        using var http = new HttpClient(proxy) { BaseAddress = new Uri("http://hub.test/"), Timeout = Timeout.InfiniteTimeSpan };
        await using var watcher = new ConfigWatcher(http, "edge", Fast);

        await watcher.StartAsync();
        Assert.IsType<System.Text.Json.JsonException>(watcher.LastError);
        await Waiting.UntilAsync(() => proxy.Impostures > 1, "the watcher to poll again after the odd answer");
        Assert.Equal(0, watcher.Version);

        proxy.PassOn = true;
        await Waiting.UntilAsync(() => watcher.Version == 1, "the watcher to reach the hub once the proxy passes requests on");
        Assert.True(watcher.IsEnabled("on"));
    }

    [Fact]
    public async Task Watcher_DisposedWhileItsFirstPollIsHeld_StartEndsQuietly_AndDisposingAgainIsHarmless()
    {
        using var holding = new HoldingHandler();
        using var http = new HttpClient(holding) { BaseAddress = new Uri("http://hub.test/"), Timeout = Timeout.InfiniteTimeSpan };
        var watcher = new ConfigWatcher(http, "edge", Fast);

        var starting = watcher.StartAsync();
        await holding.Entered.Task.Within();
        await watcher.DisposeAsync().AsTask().Within();
        await starting.Within(); // no ObjectDisposedException from the stopped watcher's source
        await watcher.DisposeAsync().AsTask().Within();

        Assert.Equal(1, holding.Requests);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => watcher.StartAsync());
    }

    [Fact]
    public async Task Watcher_StartedTwice_IsRefused()
    {
        await using var server = await HubServer.StartAsync();
        using var http = server.CreateClient();
        await using var watcher = new ConfigWatcher(http, "edge", Fast);
        await watcher.StartAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => watcher.StartAsync());
    }

    [Fact]
    public void Options_RequestTimeoutNotAboveHold_AreRefused()
    {
        using var http = new HttpClient();
        Assert.Throws<ArgumentException>(() => new ConfigWatcher(http, "app", new ConfigWatcherOptions { Hold = TimeSpan.FromSeconds(60), RequestTimeout = TimeSpan.FromSeconds(60) }));
    }

    private static async Task PutAsync(HttpClient client, string app, string json)
    {
        using var response = await client.PutAsync($"v1/config/{app}", new StringContent(json, Encoding.UTF8, "application/json")).Within();
        Assert.True(response.IsSuccessStatusCode, $"PUT answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Sends to whichever hub is current, as a DNS name or load balancer would after a restart.</summary>
    private sealed class SwitchableHandler(Uri target) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _notFound;

        public Uri Target { get; set; } = target;

        public int NotFoundAnswers => Volatile.Read(ref _notFound);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.RequestUri = new Uri(Target, request.RequestUri!.PathAndQuery);
            var response = await base.SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                Interlocked.Increment(ref _notFound);
            }

            return response;
        }
    }

    /// <summary>Answers 200 with a fixed JSON body, of another shape than the hub's, until <see cref="PassOn"/>.</summary>
    private sealed class ImpostorHandler(Uri target, string body) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _impostures;

        public volatile bool PassOn;

        public int Impostures => Volatile.Read(ref _impostures);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!PassOn)
            {
                Interlocked.Increment(ref _impostures);
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
            }

            request.RequestUri = new Uri(target, request.RequestUri!.PathAndQuery);
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Holds every request until it is canceled, as a hub that accepted the connection and never answers.</summary>
    private sealed class HoldingHandler : HttpMessageHandler
    {
        private int _requests;

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Requests => Volatile.Read(ref _requests);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            Entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new OperationCanceledException(cancellationToken);
        }
    }
}
