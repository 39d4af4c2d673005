namespace Switchboard.Client;

/// <summary>How a <see cref="ConfigWatcher"/> polls. The defaults are the recommended ones (docs/config.md).</summary>
public sealed class ConfigWatcherOptions
{
    /// <summary>How long the server may hold each poll (<c>wait=</c>). Default 60 s, the hub's maximum.</summary>
    public TimeSpan Hold { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long the watcher waits for an answer before it counts the poll as failed. It must exceed the hold plus the
    /// server's jitter (1/16 of the hold). Default 75 s. The <see cref="HttpClient.Timeout"/> must be at least as long.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(75);

    /// <summary>The first delay after a failed poll; it doubles per consecutive failure. Default 1 s.</summary>
    public TimeSpan MinBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between failed polls. Default 30 s.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Where the hub's API is, relative to the client's base address. Default <c>v1/</c>.</summary>
    public string PathPrefix { get; set; } = "v1/";

    internal void Validate()
    {
        if (Hold <= TimeSpan.Zero || Hold > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentException("Hold must be between 0 and 10 minutes.", nameof(Hold));
        }

        if (RequestTimeout <= Hold + (Hold / 16))
        {
            throw new ArgumentException("RequestTimeout must exceed Hold plus 1/16 of it (the server's jitter).", nameof(RequestTimeout));
        }

        if (MinBackoff <= TimeSpan.Zero || MaxBackoff < MinBackoff)
        {
            throw new ArgumentException("MinBackoff must be positive and at most MaxBackoff.", nameof(MinBackoff));
        }
    }
}
