using System.Collections.Concurrent;

namespace Switchboard.AspNetCore.Webhooks;

/// <summary>
/// Webhook endpoints the hub created for itself, aimed at its own loopback address (the playground's sink). Only these may
/// connect to loopback while <c>Webhooks:AllowedNetworks</c> does not allow it. Nobody can add an endpoint here through
/// the API, and the API still refuses loopback URLs, so the SSRF policy is unchanged for every endpoint a client registers.
/// </summary>
/// <remarks>
/// The ids live in memory only: after a restart such an endpoint is refused like any other, and its owner (the playground)
/// deletes the endpoints it left behind when it starts.
/// </remarks>
internal sealed class HubLocalWebhooks
{
    /// <summary>Marks a delivery request as one to the hub itself, for the sender's connect callback.</summary>
    public static readonly HttpRequestOptionsKey<bool> RequestOption = new("Switchboard.HubLocalWebhook");

    private readonly ConcurrentDictionary<string, byte> _ids = new(StringComparer.Ordinal);

    public void Add(string endpointId) => _ids[endpointId] = 0;

    public void Remove(string endpointId) => _ids.TryRemove(endpointId, out _);

    public bool IsLocal(string endpointId) => _ids.ContainsKey(endpointId);
}
