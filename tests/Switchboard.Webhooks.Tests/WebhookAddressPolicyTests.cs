using System.Net;

namespace Switchboard.Webhooks.Tests;

public sealed class WebhookAddressPolicyTests
{
    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.1.1")]
    [InlineData("100.64.0.1")]
    [InlineData("127.0.0.1")]
    [InlineData("127.8.9.10")]
    [InlineData("169.254.169.254")]
    [InlineData("169.254.1.1")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("198.18.0.1")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fc00::1")]
    [InlineData("fd00:ec2::254")]
    [InlineData("fe80::1")]
    [InlineData("ff02::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("64:ff9b::7f00:1")]
    public void NonPublicAddresses_AreRefused(string address)
    {
        Assert.NotNull(new WebhookAddressPolicy([]).Refusal(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("93.184.215.14")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("2606:4700::1111")]
    public void PublicAddresses_AreAllowed(string address)
    {
        Assert.Null(new WebhookAddressPolicy([]).Refusal(IPAddress.Parse(address)));
    }

    [Fact]
    public void AllowList_LiftsTheBlockOnlyForItsNetworks()
    {
        var policy = new WebhookAddressPolicy(["127.0.0.0/8", "::1"]);

        Assert.Null(policy.Refusal(IPAddress.Loopback));
        Assert.Null(policy.Refusal(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.Null(policy.Refusal(IPAddress.IPv6Loopback));
        Assert.Contains("private", policy.Refusal(IPAddress.Parse("10.0.0.1")));
        Assert.Contains("metadata", policy.Refusal(IPAddress.Parse("169.254.169.254")));
    }

    [Fact]
    public void MalformedNetwork_IsAFormatError()
    {
        Assert.Throws<FormatException>(() => WebhookAddressPolicy.ParseNetwork("not-a-cidr"));
    }
}
