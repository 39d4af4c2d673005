using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Testing;

namespace Switchboard.Webhooks.Tests;

/// <summary>
/// The dispatcher and its endpoint workers without a server: the in-memory log and store, a receiver that is an
/// <see cref="HttpMessageHandler"/>, and a <see cref="FakeTimeProvider"/> that moves only when a test says so.
/// </summary>
public sealed class WebhookDispatcherTests : IAsyncDisposable
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan BreakDuration = TimeSpan.FromMinutes(5);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SwitchboardMetrics _metrics = new();
    private readonly InMemoryEventLog _log;
    private readonly InMemoryWebhookStore _store = new();
    private readonly FakeReceiver _receiver;
    private readonly WebhookSender _sender;
    private readonly WebhookDispatcher _dispatcher;

    public WebhookDispatcherTests()
    {
        _log = new InMemoryEventLog(_time);
        _receiver = new FakeReceiver(_time);
        var options = new FixedOptions<WebhookOptions>(new WebhookOptions
        {
            RetrySchedule = [FirstRetry, TimeSpan.FromMinutes(1)], RetryJitter = 0, CircuitFailureThreshold = 2, CircuitBreakDuration = BreakDuration,
        });
        _sender = new WebhookSender(options, _time, _receiver);
        _dispatcher = new WebhookDispatcher(_store, _log, _sender, options, _time, NullLogger<WebhookDispatcher>.Instance, _metrics, new SingleNodeWebhookPartitions());
    }

    public async ValueTask DisposeAsync()
    {
        await _dispatcher.StopAsync(CancellationToken.None);
        _dispatcher.Dispose();
        _sender.Dispose();
        await _store.DisposeAsync();
        await _log.DisposeAsync();
        _metrics.Dispose();
    }

    [Fact]
    public async Task AnEventOnAMatchingTopic_IsPostedOnce_SignedWithTheEndpointsSecret()
    {
        await _dispatcher.StartAsync(CancellationToken.None);
        var endpoint = await CreateAsync("shop.*");

        await _log.AppendAsync([new EventDraft("other.orders", "order.created", """{"n":0}"""u8.ToArray()), new EventDraft("shop.orders", "order.created", """{"n":1}"""u8.ToArray())]);

        await Waiting.UntilAsync(() => Delivered(endpoint.Id) == 1, "the delivery to be recorded");
        var request = Assert.Single(_receiver.Requests);
        Assert.Equal("https://receiver.test/hook", request.Url);
        Assert.Contains("\"n\":1", System.Text.Encoding.UTF8.GetString(request.Body), StringComparison.Ordinal);
        var timestamp = long.Parse(request.Headers["webhook-timestamp"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(_time.GetUtcNow().ToUnixTimeSeconds(), timestamp);
        Assert.Equal(WebhookSecret.SignatureHeader([endpoint.Secret], request.Headers["webhook-id"], timestamp, request.Body), request.Headers["webhook-signature"]);
    }

    [Fact]
    public async Task AFailedAttempt_IsRetriedAfterTheFirstDelayOfTheSchedule_AndNotBefore()
    {
        _receiver.Respond = attempt => attempt == 1 ? HttpStatusCode.InternalServerError : HttpStatusCode.NoContent;
        await _dispatcher.StartAsync(CancellationToken.None);
        var endpoint = await CreateAsync("shop.*");

        await _log.AppendAsync([new EventDraft("shop.orders", "order.created", "{}"u8.ToArray())]);
        await Waiting.UntilAsync(() => Live(endpoint.Id)?.Pending == 1 && _receiver.Requests.Count == 1, "the first attempt to fail and its retry to be scheduled");

        // The clock moves a second per poll until the retry goes out; it must not go out before the schedule says.
        await Waiting.UntilAsync(() =>
        {
            if (_receiver.Requests.Count < 2)
            {
                _time.Advance(TimeSpan.FromSeconds(1));
            }

            return Delivered(endpoint.Id) == 1;
        }, "the retry to succeed");

        var attempts = _receiver.Requests.ToArray();
        Assert.Equal(2, attempts.Length);
        Assert.InRange(attempts[1].At - attempts[0].At, FirstRetry, FirstRetry + TimeSpan.FromSeconds(1));
        Assert.Equal(attempts[0].Headers["webhook-id"], attempts[1].Headers["webhook-id"]); // the same message, for the receiver's dedupe
        var progress = Live(endpoint.Id)!.Progress;
        Assert.Equal(1, progress.FailedAttempts);
        Assert.Equal(1, progress.SucceededAttempts);
    }

    [Fact]
    public async Task AReceiverThatKeepsFailing_OpensTheCircuit_AndAfterTheBreakOneProbeAloneGoesOut()
    {
        _receiver.Respond = _ => HttpStatusCode.ServiceUnavailable;
        await _dispatcher.StartAsync(CancellationToken.None);
        var endpoint = await CreateAsync("shop.*", maxInFlight: 1);

        await _log.AppendAsync([.. Enumerable.Range(0, 5).Select(i => new EventDraft("shop.orders", "order.created", "{}"u8.ToArray()))]);

        await Waiting.UntilAsync(() => Live(endpoint.Id) is { Circuit: CircuitState.Open, InFlight: 0 }, "the circuit to open");
        Assert.Equal(2, _receiver.Requests.Count); // the threshold's worth, then nothing while open
        Assert.Equal(_time.GetUtcNow() + BreakDuration, Live(endpoint.Id)!.CircuitOpenUntil);

        // After the break every earlier failure's retry is due too, yet only one probe may go; it fails and reopens.
        _time.Advance(BreakDuration);
        var reopenedUntil = _time.GetUtcNow() + BreakDuration;
        await Waiting.UntilAsync(() => Live(endpoint.Id) is { Circuit: CircuitState.Open, InFlight: 0 } live && live.CircuitOpenUntil == reopenedUntil,
            "the probe to fail and reopen the circuit");
        Assert.Equal(3, _receiver.Requests.Count);
    }

    private async Task<WebhookEndpoint> CreateAsync(string topic, int maxInFlight = 10)
    {
        var now = _time.GetUtcNow();
        var endpoint = new WebhookEndpoint
        {
            Id = WebhookDispatcher.NewEndpointId(),
            Url = "https://receiver.test/hook",
            Topics = [topic],
            MaxInFlight = maxInFlight,
            Secret = WebhookSecret.Generate(),
            CreatedAt = now,
            UpdatedAt = now,
        };
        return (await _dispatcher.CreateAsync(endpoint, CancellationToken.None)).Endpoint;
    }

    private WebhookLiveStatus? Live(string id) => _dispatcher.Find(id)?.Live;

    private long Delivered(string id) => Live(id)?.Progress.Delivered ?? 0;

    private sealed record ReceivedRequest(string Url, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset At);

    /// <summary>Answers every POST with <see cref="Respond"/>'s status for the attempt number, and keeps what it got.</summary>
    private sealed class FakeReceiver(TimeProvider time) : HttpMessageHandler
    {
        public Func<int, HttpStatusCode> Respond { get; set; } = _ => HttpStatusCode.OK;

        public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
            var status = Respond(Requests.Count + 1);
            Requests.Enqueue(new ReceivedRequest(request.RequestUri!.ToString(), headers, body, time.GetUtcNow()));
            return new HttpResponseMessage(status) { RequestMessage = request };
        }
    }
}
