using System.Net;
using System.Net.Sockets;

namespace Switchboard.Webhooks;

/// <summary>Parses the CIDRs of <c>Webhooks:AllowedNetworks</c>, for the options validator at start and the address policy.</summary>
internal static class WebhookNetworks
{
    /// <summary>Parses a CIDR (or a single address); throws <see cref="FormatException"/> with the value when invalid.</summary>
    public static IPNetwork Parse(string value) =>
        IPNetwork.TryParse(value, out var network) ? network
        : IPAddress.TryParse(value, out var address) ? new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)
        : throw new FormatException($"'{value}' is not a CIDR network such as 127.0.0.0/8 or ::1/128.");
}
