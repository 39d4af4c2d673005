using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>
/// Webhook deliveries checked by a third party: a Node receiver verifies every POST with the npm
/// <c>standardwebhooks</c> package (the Standard Webhooks reference library), across a secret rotation.
/// </summary>
public sealed class NodeStandardWebhooksTests
{
    [Fact]
    public async Task StandardWebhooksLibrary_VerifiesDeliveries_AcrossRotation_AndRefusesAWrongSecret()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Webhooks.AllowHttp = true;
            o.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
        });
        using var client = server.CreateClient();

        // 1. A receiver that knows the secret verifies all 20 deliveries.
        await using var first = await NodeReceiver.StartAsync(20);
        using var created = await ReadJsonAsync(await client.PostAsJsonAsync("v1/webhooks", new { url = first.Url, topics = new[] { "node.wh" }, after = "latest" }).Within(), HttpStatusCode.Created);
        var id = created.RootElement.GetProperty("id").GetString()!;
        var oldSecret = created.RootElement.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", oldSecret, StringComparison.Ordinal);
        await first.SendSecretsAsync(oldSecret);
        var seqs = await PublishAsync(client, "node.created", 20);
        var summary = await first.SummaryAsync();
        Assert.Equal(20, summary.Verified);
        Assert.Equal(0, summary.Invalid);
        Assert.Equal([20], summary.BySecret);
        Assert.Equal(20, summary.DistinctIds);
        Assert.Equal(["node.created"], summary.Types);
        Assert.Equal(seqs, summary.Seqs.Order());
        Assert.Equal((1, 1), summary.Signatures);

        // 2. After a rotation, a receiver that still has only the OLD secret accepts everything during the grace period:
        //    each delivery carries two signatures.
        using var rotated = await ReadJsonAsync(await client.PostAsync($"v1/webhooks/{id}/rotate-secret", null).Within(), HttpStatusCode.OK);
        var newSecret = rotated.RootElement.GetProperty("secret").GetString()!;
        Assert.NotEqual(oldSecret, newSecret);
        var old = await DeliverToNewReceiverAsync(client, id, [oldSecret], "node.rotated", 10);
        Assert.Equal((10, 0), (old.Verified, old.Invalid));
        Assert.Equal([10], old.BySecret);
        Assert.Equal((2, 2), old.Signatures);

        // 3. A receiver with only the NEW secret accepts the same kind of deliveries too.
        var renewed = await DeliverToNewReceiverAsync(client, id, [newSecret], "node.rotated", 10);
        Assert.Equal((10, 0), (renewed.Verified, renewed.Invalid));
        Assert.Equal([10], renewed.BySecret);

        //    Given both, the library accepts with the first one it tries, whichever that is.
        var both = await DeliverToNewReceiverAsync(client, id, [newSecret, oldSecret], "node.rotated", 5);
        Assert.Equal([5, 0], both.BySecret);

        // 4. A receiver with a secret the hub never issued refuses every delivery (401), so this test can fail.
        var wrongSecret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var wrong = await DeliverToNewReceiverAsync(client, id, [wrongSecret], "node.wrong", 5);
        Assert.Equal((0, 5), (wrong.Verified, wrong.Invalid));
        Assert.Equal([0], wrong.BySecret);
    }

    /// <summary>Starts a receiver, points the endpoint at it, hands it <paramref name="secrets"/>, publishes, and returns what it saw.</summary>
    private static async Task<ReceiverSummary> DeliverToNewReceiverAsync(HttpClient client, string id, string[] secrets, string type, int count)
    {
        await using var receiver = await NodeReceiver.StartAsync(count);
        using var patch = new HttpRequestMessage(HttpMethod.Patch, $"v1/webhooks/{id}") { Content = JsonContent.Create(new { url = receiver.Url }) };
        using var patched = await ReadJsonAsync(await client.SendAsync(patch).Within(), HttpStatusCode.OK);
        Assert.Equal(receiver.Url, patched.RootElement.GetProperty("url").GetString());
        await receiver.SendSecretsAsync(secrets);
        var seqs = await PublishAsync(client, type, count);
        var summary = await receiver.SummaryAsync();
        if (summary.Verified == count)
        {
            Assert.Equal(seqs, summary.Seqs.Order());
            Assert.Equal([type], summary.Types);
        }

        return summary;
    }

    /// <summary>Publishes <paramref name="count"/> events in one batch and returns their seqs.</summary>
    private static async Task<long[]> PublishAsync(HttpClient client, string type, int count)
    {
        var batch = Enumerable.Range(0, count).Select(i => new { topic = "node.wh", type, data = new { i, text = "grüße \"quoted\" \u2713" } }).ToArray();
        using var published = await ReadJsonAsync(await client.PostAsJsonAsync("v1/events", batch).Within(), HttpStatusCode.Created);
        return [.. published.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64())];
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
            return JsonDocument.Parse(text);
        }
    }

    /// <summary>What webhook-receiver.mjs printed as its summary line.</summary>
    private sealed record ReceiverSummary(int Verified, int Invalid, int[] BySecret, string[] Types, long[] Seqs, int DistinctIds, (int Min, int Max) Signatures);

    /// <summary>
    /// tests/node/webhook-receiver.mjs as a running process: its URL comes from the first stdout line, the secrets
    /// go to its stdin, and its summary is the last stdout line once it exits.
    /// </summary>
    private sealed class NodeReceiver : IAsyncDisposable
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

        private readonly Process _process;
        private readonly StringBuilder _errors;
        private readonly Task<string> _restOfOutput;

        private NodeReceiver(Process process, string url, Task<string> restOfOutput, StringBuilder errors)
        {
            _process = process;
            _errors = errors;
            Url = url;
            _restOfOutput = restOfOutput;
        }

        public string Url { get; }

        public static async Task<NodeReceiver> StartAsync(int count)
        {
            var directory = Path.Combine(NodeScript.RepositoryRoot(), "tests", "node");
            if (!Directory.Exists(Path.Combine(directory, "node_modules")))
            {
                throw new InvalidOperationException($"{directory}/node_modules is missing: run scripts/test.sh (it runs npm ci there).");
            }

            var start = new ProcessStartInfo("node")
            {
                WorkingDirectory = directory,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.ArgumentList.Add("webhook-receiver.mjs");
            start.ArgumentList.Add(count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            start.ArgumentList.Add("30000");
            var process = Process.Start(start)!;
            var errors = new StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (errors)
                    {
                        errors.AppendLine(e.Data);
                    }
                }
            };
            process.BeginErrorReadLine();
            try
            {
                var line = await process.StandardOutput.ReadLineAsync().WaitAsync(Timeout)
                    ?? throw new InvalidOperationException($"webhook-receiver.mjs ended before printing its URL: {errors}");
                using var document = JsonDocument.Parse(line);
                return new NodeReceiver(process, document.RootElement.GetProperty("url").GetString()!, process.StandardOutput.ReadToEndAsync(), errors);
            }
            catch
            {
                process.Kill(entireProcessTree: true);
                process.Dispose();
                throw;
            }
        }

        public async Task SendSecretsAsync(params string[] secrets)
        {
            await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(secrets));
            await _process.StandardInput.FlushAsync();
        }

        /// <summary>Waits for the script to exit (it does after its deliveries, or after its own 30 s timeout) and reads its summary.</summary>
        public async Task<ReceiverSummary> SummaryAsync()
        {
            await _process.WaitForExitAsync().WaitAsync(Timeout);
            var output = await _restOfOutput.WaitAsync(Timeout);
            string errors;
            lock (_errors)
            {
                errors = _errors.ToString();
            }

            Assert.True(_process.ExitCode == 0, $"webhook-receiver.mjs exited with {_process.ExitCode}:\n{output}\n{errors}");
            using var document = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            var root = document.RootElement;
            Assert.True(root.GetProperty("errors").GetArrayLength() == 0, $"webhook-receiver.mjs reported errors: {root.GetProperty("errors")}");
            var signatures = root.GetProperty("signatures");
            return new ReceiverSummary(
                root.GetProperty("verified").GetInt32(),
                root.GetProperty("invalid").GetInt32(),
                [.. root.GetProperty("bySecret").EnumerateArray().Select(e => e.GetInt32())],
                [.. root.GetProperty("types").EnumerateArray().Select(e => e.GetString()!)],
                [.. root.GetProperty("seqs").EnumerateArray().Select(e => e.GetInt64())],
                root.GetProperty("ids").GetInt32(),
                (signatures.GetProperty("min").GetInt32(), signatures.GetProperty("max").GetInt32()));
        }

        public ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
