using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>
/// A switchboard.v1 client for presence: a background reader fills an inbox, so pings are answered and no message is
/// lost; waiting for one message keeps the others, in order, for later waits.
/// </summary>
internal sealed class PresenceSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<JsonElement> _inbox = Channel.CreateUnbounded<JsonElement>();
    private readonly List<JsonElement> _kept = [];
    private Task _reader = Task.CompletedTask;

    public static async Task<PresenceSocket> ConnectAsync(Uri baseAddress, string name)
    {
        var client = new PresenceSocket();
        client._socket.Options.AddSubProtocol("switchboard.v1");
        var url = new UriBuilder(baseAddress) { Scheme = "ws", Path = "/v1/ws", Query = "name=" + Uri.EscapeDataString(name) }.Uri;
        await client._socket.ConnectAsync(url, CancellationToken.None).Within();
        client._reader = Task.Run(client.ReadAsync);
        return client;
    }

    public async Task SendAsync(string json) =>
        await _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None).Within();

    /// <summary>Subscribes to <paramref name="room"/> with presence; returns the reply (ack or error) and, after an ack, the joiner's member list.</summary>
    public async Task<string[]> JoinAsync(string subscription, string room)
    {
        var reply = await RequestAsync($$"""{"op":"subscribe","id":"{{subscription}}","topics":["{{room}}"],"presence":true}""");
        Assert.True(reply.GetProperty("op").GetString() == "ack", "expected an ack, got " + reply.GetRawText());
        var own = await WaitForAsync(m => IsPresence(m, room) && !m.TryGetProperty("id", out _) && !m.TryGetProperty("joined", out _) && !m.TryGetProperty("left", out _),
            "the joiner's member list");
        return Members(own);
    }

    /// <summary>Sends a request and returns the reply with its id.</summary>
    public async Task<JsonElement> RequestAsync(string json)
    {
        var id = JsonDocument.Parse(json).RootElement.GetProperty("id").GetRawText();
        await SendAsync(json);
        return await WaitForAsync(m => m.TryGetProperty("id", out var replyId) && replyId.GetRawText() == id, "the reply to " + json);
    }

    /// <summary>The <c>presence</c> op's answer: who is in the room, as this client's node sees it.</summary>
    public async Task<string[]> MembersAsync(string room)
    {
        var reply = await RequestAsync($$"""{"op":"presence","id":"q-{{Guid.NewGuid():N}}","topic":"{{room}}"}""");
        Assert.True(reply.GetProperty("op").GetString() == "presence", "expected presence, got " + reply.GetRawText());
        return Members(reply);
    }

    public Task<JsonElement> JoinedAsync(string room, string name, TimeSpan? timeout = null) =>
        WaitForAsync(m => IsPresence(m, room) && m.TryGetProperty("joined", out var joined) && joined.GetString() == name, $"{name} joining {room}", timeout);

    public Task<JsonElement> LeftAsync(string room, string name, TimeSpan? timeout = null) =>
        WaitForAsync(m => IsPresence(m, room) && m.TryGetProperty("left", out var left) && left.GetString() == name, $"{name} leaving {room}", timeout);

    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what, TimeSpan? timeout = null)
    {
        var index = _kept.FindIndex(m => match(m));
        if (index >= 0)
        {
            var found = _kept[index];
            _kept.RemoveAt(index);
            return found;
        }

        using var cancel = new CancellationTokenSource(timeout ?? Waiting.DefaultTimeout);
        try
        {
            while (true)
            {
                var message = await _inbox.Reader.ReadAsync(cancel.Token);
                if (match(message))
                {
                    return message;
                }

                _kept.Add(message);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            throw new TimeoutException($"Waiting for {what}; received meanwhile: {string.Join(" ", _kept.Select(m => m.GetRawText()))}", ex);
        }
    }

    /// <summary>Everything received and not yet waited for.</summary>
    public List<JsonElement> Pending()
    {
        var all = new List<JsonElement>(_kept);
        _kept.Clear();
        while (_inbox.Reader.TryRead(out var message))
        {
            all.Add(message);
        }

        return all;
    }

    public async Task CloseAsync()
    {
        await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).Within();
        await _reader.Within();
    }

    public static bool IsPresence(JsonElement message, string room) =>
        message.GetProperty("op").GetString() == "presence" && message.GetProperty("topic").GetString() == room;

    public static string[] Members(JsonElement message) => [.. message.GetProperty("members").EnumerateArray().Select(m => m.GetString()!)];

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                _inbox.Writer.TryWrite(JsonDocument.Parse(buffer.AsMemory(0, length)).RootElement.Clone());
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection ended.
        }
        finally
        {
            _inbox.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Abort();
        await _reader.WaitAsync(TimeSpan.FromSeconds(5));
        _socket.Dispose();
    }
}

/// <summary><c>switchboard serve</c> in a process of its own, so a test can kill it with SIGKILL as a crash would.</summary>
internal sealed partial class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private ServeProcess(Process process) => _process = process;

    public Uri BaseAddress { get; private set; } = null!;

    public string Output => string.Join('\n', _output);

    public static async Task<ServeProcess> StartAsync(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "switchboard.dll"));
        start.ArgumentList.Add("serve");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var server = new ServeProcess(new Process { StartInfo = start, EnableRaisingEvents = true });
        server._process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.Exited += (_, _) => server._listening.TrySetException(new InvalidOperationException("switchboard serve exited before listening:\n" + server.Output));
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        server.BaseAddress = await server._listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return server;
    }

    /// <summary>SIGKILL: the process dies at once; it neither closes its sockets cleanly nor tells Redis anything.</summary>
    public async Task KillAsync()
    {
        using (var kill = Process.Start("kill", ["-9", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value + "/"));
        }
    }

    [GeneratedRegex(@"listening on (https?://[^\s]+)")]
    private static partial Regex ListeningLine();
}
