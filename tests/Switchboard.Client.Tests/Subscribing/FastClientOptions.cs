namespace Switchboard.Client.Tests.Subscribing;

/// <summary>Client options for tests against a real hub: reconnects and polls in milliseconds, so a test sees several in a second.</summary>
internal static class FastClientOptions
{
    /// <summary>Options for <paramref name="baseAddress"/>, limited to <paramref name="transports"/> when any are given.</summary>
    public static SwitchboardClientOptions For(Uri baseAddress, params SwitchboardTransport[] transports)
    {
        var options = new SwitchboardClientOptions
        {
            BaseAddress = baseAddress,
            InitialReconnectDelay = TimeSpan.FromMilliseconds(20),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            PollInterval = TimeSpan.FromMilliseconds(50),
            LongPollWait = TimeSpan.FromSeconds(5),
        };
        if (transports.Length > 0)
        {
            options.Transports.Clear();
            foreach (var transport in transports)
            {
                options.Transports.Add(transport);
            }
        }

        return options;
    }
}
