using System.Net;

namespace Switchboard.Webhooks;

/// <summary>
/// SSRF protection: which addresses a webhook may connect to. Everything that is not the public internet
/// (loopback, private, link-local with cloud metadata, CGNAT, multicast, reserved, documentation, IPv6 ULA)
/// is refused unless an operator's allow-list names it. The check runs on every resolved address at connect
/// time too, so a hostname that later resolves somewhere else (DNS rebinding) is still refused.
/// </summary>
public sealed class WebhookAddressPolicy
{
    private static readonly (IPNetwork Network, string Reason)[] Blocked =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "a 'this network' address"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private address"),
        (IPNetwork.Parse("100.64.0.0/10"), "a carrier-grade NAT address"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback address"),
        (IPNetwork.Parse("169.254.169.254/32"), "the cloud metadata address"),
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local address"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private address"),
        (IPNetwork.Parse("192.0.0.0/24"), "a reserved address"),
        (IPNetwork.Parse("192.0.2.0/24"), "a documentation address"),
        (IPNetwork.Parse("192.88.99.0/24"), "a reserved address"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private address"),
        (IPNetwork.Parse("198.18.0.0/15"), "a benchmarking address"),
        (IPNetwork.Parse("198.51.100.0/24"), "a documentation address"),
        (IPNetwork.Parse("203.0.113.0/24"), "a documentation address"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast address"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved address"),
        (IPNetwork.Parse("::/128"), "the unspecified address"),
        (IPNetwork.Parse("::1/128"), "a loopback address"),
        // Fix: IPv4-compatible addresses (::a.b.c.d, deprecated) such as ::127.0.0.1 were not refused.
        (IPNetwork.Parse("::/96"), "an IPv4-compatible (deprecated) address"),
        (IPNetwork.Parse("64:ff9b::/96"), "a NAT64 address"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "a NAT64 address"),
        (IPNetwork.Parse("100::/64"), "a discard address"),
        (IPNetwork.Parse("2001::/23"), "a reserved address"),
        (IPNetwork.Parse("2001:db8::/32"), "a documentation address"),
        (IPNetwork.Parse("2002::/16"), "a 6to4 address"),
        (IPNetwork.Parse("fc00::/7"), "a unique local (private) address"),
        (IPNetwork.Parse("fe80::/10"), "a link-local address"),
        (IPNetwork.Parse("fec0::/10"), "a site-local address"),
        (IPNetwork.Parse("ff00::/8"), "a multicast address"),
    ];

    private readonly IPNetwork[] _allowed;

    /// <summary>Creates the policy; <paramref name="allowedNetworks"/> are CIDRs that lift the block.</summary>
    public WebhookAddressPolicy(IEnumerable<string> allowedNetworks)
    {
        _allowed = allowedNetworks.Select(ParseNetwork).ToArray();
    }

    /// <summary>Parses a CIDR (or a single address); throws <see cref="FormatException"/> with the value when invalid.</summary>
    public static IPNetwork ParseNetwork(string value) => WebhookNetworks.Parse(value);

    /// <summary>Null when deliveries may connect to <paramref name="address"/>; otherwise why not.</summary>
    public string? Refusal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var network in _allowed)
        {
            if (network.BaseAddress.AddressFamily == address.AddressFamily && network.Contains(address))
            {
                return null;
            }
        }

        foreach (var (network, reason) in Blocked)
        {
            if (network.BaseAddress.AddressFamily == address.AddressFamily && network.Contains(address))
            {
                // Read after "<host> resolves to": "127.0.0.1, a loopback address: ..." (it was "resolves to 127.0.0.1 is a ...").
                return $"{address}, {reason}: webhooks may only reach public addresses unless Switchboard:Webhooks:AllowedNetworks lists it";
            }
        }

        return null;
    }
}

/// <summary>Resolves webhook hostnames; replaceable so tests can play a DNS server that changes its answer.</summary>
public class WebhookHostResolver
{
    /// <summary>The addresses of <paramref name="host"/> (an IP literal resolves to itself).</summary>
    public virtual async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            return [literal];
        }

        return await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
    }
}
