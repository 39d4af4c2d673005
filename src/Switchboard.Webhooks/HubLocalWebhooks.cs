using System.Collections.Concurrent;

namespace Switchboard.Webhooks;

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

    private readonly ConcurrentDictionary<string, string> _urls = new(StringComparer.Ordinal);

    /// <summary>Marks an endpoint as the hub's own, for exactly <paramref name="url"/>.</summary>
    public void Add(string endpointId, string url) => _urls[endpointId] = url;

    public void Remove(string endpointId) => _urls.TryRemove(endpointId, out _);

    /// <summary>
    /// Only while the endpoint still has the URL the hub gave it: if someone patched it to a public host through the API,
    /// that host is not the hub, and a later DNS answer of 127.0.0.1 for it must be refused like for any endpoint.
    /// </summary>
    public bool IsLocal(WebhookEndpoint endpoint) =>
        _urls.TryGetValue(endpoint.Id, out var url) && string.Equals(url, endpoint.Url, StringComparison.Ordinal);
}
