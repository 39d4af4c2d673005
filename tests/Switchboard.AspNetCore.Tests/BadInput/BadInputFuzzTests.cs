using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;
using Xunit.Abstractions;

namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>The bad-input server with long polls capped at one second, so a mutation that happens to be a valid held poll ends quickly.</summary>
public sealed class FuzzServer : BadInputServer
{
    protected override void Configure(SwitchboardOptions options)
    {
        base.Configure(options);
        options.Polling.MaxWait = TimeSpan.FromSeconds(1);
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        using var request = new HttpRequestMessage(HttpMethod.Put, "v1/config/fuzzapp") { Content = HubApi.Json("""{"a":1,"flag":{"rollout":50}}""") };
        (await Client.SendAsync(request)).EnsureSuccessStatusCode();
    }
}

/// <summary>
/// Seeded fuzzing of the WebSocket protocol and of the query strings of polling, SSE and config. Bounded in count
/// and in time (it stops early when the budget is spent). Set <c>SWITCHBOARD_FUZZ_SEED</c> to replay a failure:
/// every failure message names the seed and the mutation.
/// </summary>
public sealed class BadInputFuzzTests(FuzzServer hub, ITestOutputHelper output) : IClassFixture<FuzzServer>
{
    private const int Mutations = 1000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(20);

    /// <summary>The error codes the protocol documents; any other code is a finding.</summary>
    private static readonly HashSet<string> DocumentedErrorCodes =
    [
        "invalid_json", "invalid_message", "missing_field", "invalid_field", "unknown_op", "invalid_pattern", "invalid_topic", "missing_topic",
        "too_many_patterns", "invalid_cursor", "invalid_type", "reserved_type", "payload_too_large", "forbidden", "duplicate_subscription",
        "too_many_subscriptions", "not_subscribed", "rate_limited",
    ];

    /// <summary>Closes a client's bad input may cause; 1011 (an internal error) never is one.</summary>
    private static readonly HashSet<WebSocketCloseStatus> ProtocolCloses =
    [
        WebSocketCloseStatus.ProtocolError, WebSocketCloseStatus.InvalidMessageType, WebSocketCloseStatus.InvalidPayloadData,
        WebSocketCloseStatus.PolicyViolation, WebSocketCloseStatus.MessageTooBig,
    ];

    private static int Seed { get; } = Environment.GetEnvironmentVariable("SWITCHBOARD_FUZZ_SEED") is { Length: > 0 } text
        ? int.Parse(text, CultureInfo.InvariantCulture)
        : Random.Shared.Next();

    [Fact]
    public async Task WebSocket_MutatedMessages_NeverCloseWith1011NorStopAnswering()
    {
        var mutator = new Mutator(Seed);
        var cursor = hub.Server.Hub.FormatCursor(hub.Seeded[2].GetProperty("seq").GetInt64());
        string[] templates =
        [
            """{"op":"subscribe","id":"s1","topics":["chat.fuzz"],"history":3}""",
            """{"op":"subscribe","id":"s2","topics":["seed.intact","chat.>"],"after":"earliest"}""",
            $$"""{"op":"subscribe","id":"s3","topics":["seed.intact"],"after":"{{cursor}}"}""",
            """{"op":"subscribe","id":"room","topics":["chat.room"],"presence":true}""",
            """{"op":"unsubscribe","id":7,"subscription":"s1"}""",
            """{"op":"unsubscribe","id":8,"topics":["chat.fuzz"]}""",
            """{"op":"publish","id":9,"topic":"chat.fuzz","type":"chat.message","data":{"text":"hi","n":[1,2,3]}}""",
            """{"op":"presence","id":10,"topic":"chat.room"}""",
            """{"op":"ping","id":11}""",
        ];

        var clock = Stopwatch.StartNew();
        var done = 0;
        var reconnects = 0;
        var socket = await HubSocket.ConnectAsync(hub.Server, name: "fuzzer");
        try
        {
            await FuzzWebSocketAsync();
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"seed {Seed}, mutation {done}: {ex}");
        }
        finally
        {
            await socket.DisposeAsync();
        }

        await hub.AssertStillServingAsync($"WebSocket fuzzing (seed {Seed}, {done} mutations, {reconnects} reconnects)");
        output.WriteLine($"WebSocket fuzzing: seed {Seed}, {done} mutations in {clock.Elapsed.TotalSeconds:0.0} s, {reconnects} reconnects.");

        async Task FuzzWebSocketAsync()
        {
            for (; done < Mutations && clock.Elapsed < Budget; done++)
            {
                var template = mutator.Pick(templates);
                var (bytes, description) = mutator.MutateMessage(template);
                var type = mutator.Next(50) == 0 ? WebSocketMessageType.Binary : WebSocketMessageType.Text;
                var what = $"seed {Seed}, mutation {done} ({type} of {template}: {description})";

                // The mutated message, then a ping: the pong proves the message was handled and the connection lives.
                var pingId = "fuzz-" + done.ToString(CultureInfo.InvariantCulture);
                bool open;
                try
                {
                    await socket.SendAsync(bytes, type);
                    await socket.SendAsync($$"""{"op":"ping","id":"{{pingId}}"}""");
                    await socket.WaitForAsync(m => m.Op() == "pong" && m.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String && id.GetString() == pingId, "the pong");
                    open = true;
                }
                catch (Exception ex) when (ex is TimeoutException or WebSocketException or OperationCanceledException)
                {
                    open = false;
                }

                foreach (var message in socket.Pending())
                {
                    if (message.Op() == "error")
                    {
                        Assert.True(message.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String && DocumentedErrorCodes.Contains(code.GetString()!),
                            $"{what}: undocumented error {message.GetRawText()}");
                        Assert.False(string.IsNullOrWhiteSpace(message.Str("message")), $"{what}: error without a message {message.GetRawText()}");
                    }
                }

                if (!open)
                {
                    WebSocketCloseStatus? status;
                    string? reason;
                    try
                    {
                        (status, reason) = await socket.WaitForCloseAsync();
                    }
                    catch (TimeoutException ex)
                    {
                        throw new Xunit.Sdk.XunitException($"{what}: no pong and no close, the connection hangs ({ex.Message})");
                    }


                    // A text message that is not UTF-8 is failed by the runtime with 1007, and ASP.NET Core aborts the
                    // connection right after, which can lose the close frame: a drop is accepted only then.
                    var droppedAfterInvalidUtf8 = status is null && type == WebSocketMessageType.Text && !IsUtf8(bytes);
                    Assert.True(status is { } closed ? ProtocolCloses.Contains(closed) : droppedAfterInvalidUtf8,
                        $"{what}: the connection ended with close {(int?)status} '{reason}' (failure: {socket.Failure?.Message}); expected one of {string.Join(", ", ProtocolCloses.Select(c => (int)c))}");
                    await socket.DisposeAsync();
                    socket = await HubSocket.ConnectAsync(hub.Server, name: "fuzzer");
                    reconnects++;
                }
            }
        }
    }

    private static bool IsUtf8(byte[] bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    [Fact]
    public async Task Http_MutatedQueryStrings_NeverAnswer5xxNorHang()
    {
        var mutator = new Mutator(Seed);
        var cursor = hub.Server.Hub.FormatCursor(hub.Seeded[2].GetProperty("seq").GetInt64());
        (string Path, string Query)[] templates =
        [
            ("/v1/events", "topic=seed.intact&after=earliest&limit=5"),
            ("/v1/events", "topic=chat.*&topic=orders.>&after=latest&limit=10&wait=0"),
            ("/v1/events", $"topic=seed.intact&after={cursor}&limit=2"),
            ("/v1/stream", "topic=seed.intact&after=earliest"),
            ("/v1/stream", $"topic=chat.>&topic=seed.*&after={cursor}"),
            ("/v1/config/fuzzapp", "version=1&wait=0"),
            ("/v1/config", "watch=fuzzapp:1,other:0&wait=0"),
            ("/v1/config/fuzzapp/history", "limit=3"),
        ];

        var clock = Stopwatch.StartNew();
        var done = 0;
        var statuses = new SortedDictionary<int, int>();
        for (; done < Mutations && clock.Elapsed < Budget; done++)
        {
            var (path, template) = mutator.Pick(templates);
            var (query, description) = mutator.MutateQuery(template);
            var target = path + "?" + query;
            var what = $"seed {Seed}, mutation {done} (GET {RawHttp.Printable(target)}: {description})";

            RawResponse response;
            try
            {
                response = await RawHttp.SendAsync(hub.Server, "GET", target, timeout: TimeSpan.FromSeconds(10));
            }
            catch (Exception ex) when (ex is TimeoutException or IOException or FormatException or System.Net.Sockets.SocketException)
            {
                throw new Xunit.Sdk.XunitException($"{what}: no answer, or not HTTP ({ex.Message})");
            }

            statuses[response.Status] = statuses.GetValueOrDefault(response.Status) + 1;
            Assert.True(response.Status < 500, $"{what}: {response.Describe()}");
            if (response.Status >= 400)
            {
                // Kestrel refuses a request line with raw control or non-ASCII bytes before the hub sees it, without a body.
                var rawBytes = target.Any(c => c is <= ' ' or >= '\u007f' or '#');
                if (!(rawBytes && response.Status == 400 && response.MediaType is null))
                {
                    Assert.True(response.MediaType == "application/problem+json", $"{what}: a {response.Status} without a problem: {response.Describe()}");
                    var problem = response.Json();
                    Assert.True(problem.TryGetProperty("code", out var code) && code.GetString() is { Length: > 0 }, $"{what}: a problem without a code: {response.Describe()}");
                    Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), $"{what}: a problem without a detail");
                }
            }
        }

        await hub.AssertStillServingAsync($"HTTP fuzzing (seed {Seed}, {done} mutations, statuses {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))})");
        output.WriteLine($"HTTP fuzzing: seed {Seed}, {done} mutations in {clock.Elapsed.TotalSeconds:0.0} s, statuses {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))}.");
    }
}
