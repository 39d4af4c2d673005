using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>Jobs submitted to any node, claimed by workers on every node: each job is handed out once.</summary>
public sealed class MultiNodeJobTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task RepeatedCompleteOrFail_WithTheSameLeaseAndOutcome_IsAnsweredWithTheJob_OnAnyNode()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server);
        using var first = nodes[1].CreateClient();
        using var second = nodes[2].CreateClient();
        await Switchboard.Testing.Jobs.RepeatedWorkerCalls.RepeatedCompleteAndFail_AreAnsweredWithTheJob_AnotherOutcomeIsLeaseLost(first, second);
    }

    [Fact]
    public async Task TwelveWorkersOnThreeNodes_NeverRunAJobTwice_AndRunEveryJob()
    {
        const int jobs = 60;
        await using var nodes = await Nodes.StartAsync(redis.Server);
        var clients = Enumerable.Range(1, 3).Select(n => nodes[n].CreateClient()).ToArray();
        var submitted = new List<string>();
        for (var i = 0; i < jobs; i++)
        {
            using var response = await clients[i % 3].PostAsync("v1/jobs", Json($$$"""{"type":"render","input":{"n":{{{i}}}}}""")).Within();
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            submitted.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!);
        }

        var claims = new ConcurrentBag<(string Job, string Worker)>();
        var completed = new ConcurrentDictionary<string, bool>();
        using var done = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var workers = Enumerable.Range(0, 12).Select(w => Task.Run(async () =>
        {
            var client = clients[w % 3];
            while (completed.Count < jobs && !done.IsCancellationRequested)
            {
                using var claim = await client.PostAsync("v1/queues/render/claim?wait=1", Json($$"""{"worker":"w{{w}}"}"""), done.Token);
                if (claim.StatusCode == HttpStatusCode.NoContent)
                {
                    continue;
                }

                var body = JsonDocument.Parse(await claim.Content.ReadAsStringAsync()).RootElement;
                Assert.True(claim.StatusCode == HttpStatusCode.OK, body.GetRawText());
                var id = body.GetProperty("job").GetProperty("id").GetString()!;
                claims.Add((id, $"w{w}"));
                var lease = body.GetProperty("leaseId").GetString()!;
                // Complete on another node than the one that claimed: the lease is the hub's, not the node's.
                using var complete = await clients[(w + 1) % 3].PostAsync($"v1/jobs/{id}/complete", Json($$$"""{"leaseId":"{{{lease}}}","result":{"ok":true}}"""), done.Token);
                Assert.True(complete.StatusCode == HttpStatusCode.OK, $"{(int)complete.StatusCode}: {await complete.Content.ReadAsStringAsync()}");
                completed[id] = true;
            }
        })).ToArray();
        await Task.WhenAll(workers).Within(TimeSpan.FromSeconds(90));

        var perJob = claims.GroupBy(c => c.Job).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(perJob, pair => Assert.True(pair.Value == 1, $"{pair.Key} was claimed {pair.Value} times"));
        Assert.Equal(submitted.Order(), perJob.Keys.Order());
        Assert.True(claims.Select(c => c.Worker).Distinct().Count() > 3, "the work should spread over workers on every node");
        foreach (var id in submitted.Take(5))
        {
            var status = JsonDocument.Parse(await clients[2].GetStringAsync($"v1/jobs/{id}")).RootElement.GetProperty("status").GetString();
            Assert.Equal("succeeded", status);
        }
    }

    [Fact]
    public async Task WorkersOnThreeNodes_CompletingWithTheirNextClaim_RunEveryJobOnce()
    {
        const int jobs = 45;
        await using var nodes = await Nodes.StartAsync(redis.Server);
        var clients = Enumerable.Range(1, 3).Select(n => nodes[n].CreateClient()).ToArray();
        var submitted = new List<string>();
        for (var i = 0; i < jobs; i++)
        {
            using var response = await clients[i % 3].PostAsync("v1/jobs", Json($$$"""{"type":"encode","input":{"n":{{{i}}}}}""")).Within();
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            submitted.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!);
        }

        var claims = new ConcurrentBag<string>();
        var workers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            var client = clients[w % 3];
            var body = $$"""{"worker":"w{{w}}"}""";
            while (true)
            {
                using var claim = await client.PostAsync("v1/queues/encode/claim?wait=0.5", Json(body));
                if (claim.StatusCode == HttpStatusCode.NoContent)
                {
                    return;
                }

                var answer = JsonDocument.Parse(await claim.Content.ReadAsStringAsync()).RootElement;
                Assert.True(claim.StatusCode == HttpStatusCode.OK, answer.GetRawText());
                var id = answer.GetProperty("job").GetProperty("id").GetString()!;
                claims.Add(id);
                body = $$$"""{"worker":"w{{{w}}}","complete":{"id":"{{{id}}}","leaseId":"{{{answer.GetProperty("leaseId").GetString()}}}","result":1}}""";
            }
        })).ToArray();
        await Task.WhenAll(workers).Within(TimeSpan.FromSeconds(90));

        Assert.Equal(submitted.Order(), claims.Order());
        foreach (var id in submitted)
        {
            var job = JsonDocument.Parse(await clients[0].GetStringAsync($"v1/jobs/{id}")).RootElement;
            Assert.Equal(("succeeded", 1), (job.GetProperty("status").GetString(), job.GetProperty("attempts").GetInt32()));
        }
    }

    [Fact]
    public async Task IdempotentSubmit_OnTwoNodes_CreatesOneJob()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 2);
        using var client1 = nodes[1].CreateClient();
        using var client2 = nodes[2].CreateClient();
        var ids = await Task.WhenAll(Submit(client1), Submit(client2));
        Assert.Equal(ids[0], ids[1]);

        static async Task<string> Submit(HttpClient client)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/jobs") { Content = Json("""{"type":"mail","input":{}}""") };
            request.Headers.Add("Idempotency-Key", "welcome-7");
            using var response = await client.SendAsync(request).Within();
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
