using System.Text;

namespace Switchboard.Bench;

internal static partial class SelfTest
{
    /// <summary>The webhooks mode's own signature code against the Standard Webhooks example vector, and its parsers.</summary>
    private static void WebhookChecks()
    {
        // The example in the Standard Webhooks spec (also what the npm standardwebhooks package signs).
        const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        const string Id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        const string Timestamp = "1614265330";
        var body = Encoding.UTF8.GetBytes("{\"test\": 2432232314}");
        const string Expected = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        var signature = new WebhookSignature(Secret);
        Check("webhook signature matches the Standard Webhooks example", signature.Sign(Id, Timestamp, body) == Expected);
        Check("webhook signature verifies", signature.Verify(Id, Timestamp, "v1," + Expected, body, 1614265330) is null);
        Check("webhook signature: any of several entries", signature.Verify(Id, Timestamp, "v1,AAAA v1a,xyz v1," + Expected, body, 1614265330) is null);
        Check("webhook signature: a changed body fails", signature.Verify(Id, Timestamp, "v1," + Expected, [.. body, (byte)' '], 1614265330) is not null);
        Check("webhook signature: another key fails", new WebhookSignature("whsec_" + Convert.ToBase64String(new byte[24])).Verify(Id, Timestamp, "v1," + Expected, body, 1614265330) is not null);
        Check("webhook signature: an old timestamp fails", signature.Verify(Id, Timestamp, "v1," + Expected, body, 1614265330 + 301) is not null);
        Check("webhook signature: missing headers fail", signature.Verify(null, Timestamp, "v1," + Expected, body, 1614265330) is not null);

        var delivery = "{\"type\":\"bench\",\"timestamp\":\"2025-01-01T00:00:00.000Z\",\"data\":{\"t\":123456},\"seq\":42,\"topic\":\"bench.wh\"}"u8;
        Check("webhook body: seq", WebhookSignature.TryReadNumber(delivery, "\"seq\":"u8, out var seq) && seq == 42);
        Check("webhook body: data.t", EventTimestamp.TryParse(delivery, out var t) && t == 123456);

        var seqs = new List<long>();
        WebhookBenchmark.ReadSeqs("{\"events\":[{\"seq\":7,\"topic\":\"a\",\"type\":\"bench\",\"time\":\"x\",\"data\":{\"seq\":99}},{\"seq\":8,\"topic\":\"a\",\"type\":\"bench\",\"time\":\"x\",\"data\":null}]}"u8, seqs);
        Check("batch answer: seqs in order, none from data", seqs.SequenceEqual([7L, 8L]));

        Check("webhooks options: defaults", WebhookOptions.From(CliArgs.Parse(["webhooks", "--url", "http://127.0.0.1:1"])) is
            { Endpoints: 100, ReceiverPorts: 100, MaxOutstanding: 2000, Topology: WebhookOptions.Shared, FanOut: 100, Rate: 0 });
        Check("webhooks options: per-endpoint", WebhookOptions.From(CliArgs.Parse(["webhooks", "--url", "http://127.0.0.1:1", "--endpoints", "10", "--topology", "per-endpoint", "--receiver-ports", "1"])) is
            { Endpoints: 10, ReceiverPorts: 1, FanOut: 1 });
        Throws("webhooks options: bad topology", () => WebhookOptions.From(CliArgs.Parse(["webhooks", "--url", "http://127.0.0.1:1", "--topology", "star"])));
    }
}
