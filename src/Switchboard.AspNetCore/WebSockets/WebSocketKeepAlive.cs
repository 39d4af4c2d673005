namespace Switchboard.AspNetCore.WebSockets;

/// <summary>What a keep-alive visit does to a connection.</summary>
internal enum KeepAliveAction
{
    /// <summary>Nothing is due.</summary>
    None,

    /// <summary>The peer has been quiet for the interval: send it a ping.</summary>
    Ping,

    /// <summary>The peer did not answer within the timeout: drop it.</summary>
    Dead,
}

/// <summary>A visit's decision and when the connection next wants a visit (a timestamp).</summary>
internal readonly record struct KeepAliveStep(KeepAliveAction Action, long Next);

/// <summary>
/// The keep-alive rule, in <see cref="TimeProvider"/> timestamps: a connection that has received nothing for
/// <c>KeepAliveInterval</c> is pinged; one that then receives nothing (no frame of any kind, the pong or anything
/// else) for <c>KeepAliveTimeout</c> after the ping is dead. What the server sends does not count: it says nothing
/// about whether the peer is still there. Pure, so the sweep's timing is testable without sockets.
/// </summary>
internal readonly struct WebSocketKeepAlive
{
    private readonly long _interval;
    private readonly long _timeout;

    public WebSocketKeepAlive(TimeProvider time, TimeSpan interval, TimeSpan timeout)
    {
        _interval = ToTimestampSpan(time, interval);
        _timeout = ToTimestampSpan(time, timeout);
    }

    /// <param name="now">The visit's time.</param>
    /// <param name="lastReceived">When the last bytes arrived from the peer (the connection's start before any).</param>
    /// <param name="pingSentAt">When the last ping went out; 0 for never.</param>
    /// <param name="pingRefusedSince">When a due ping first found the wire busy and could not go out; 0 for none.</param>
    public KeepAliveStep Next(long now, long lastReceived, long pingSentAt, long pingRefusedSince = 0)
    {
        if (pingSentAt != 0 && pingSentAt > lastReceived)
        {
            // An answer moves lastReceived past the ping, so until then only the timeout can be due.
            var deadline = pingSentAt + _timeout;
            return now >= deadline ? new KeepAliveStep(KeepAliveAction.Dead, 0) : new KeepAliveStep(KeepAliveAction.None, deadline);
        }

        if (now - lastReceived < _interval)
        {
            return new KeepAliveStep(KeepAliveAction.None, lastReceived + _interval);
        }

        // Silence alone is never death: a visit that comes late (the node stalled, or its timer did) still pings
        // first, and only an unanswered ping, or a wire too busy to take one for the whole timeout, ends the peer.
        if (pingRefusedSince != 0 && pingRefusedSince > lastReceived && now - pingRefusedSince >= _timeout)
        {
            return new KeepAliveStep(KeepAliveAction.Dead, 0);
        }

        return new KeepAliveStep(KeepAliveAction.Ping, now + Math.Min(_interval, _timeout));
    }

    /// <summary>A duration in timestamp units, capped so sums of two stay far from overflow.</summary>
    public static long ToTimestampSpan(TimeProvider time, TimeSpan span) =>
        (long)Math.Min(span.TotalSeconds * time.TimestampFrequency, long.MaxValue / 8);
}
