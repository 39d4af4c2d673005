using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Jobs;

/// <summary>
/// The order claims take jobs in, over real HTTP and a real store, with the hub on a fake clock so leases and backoffs
/// run out exactly when the test says: a lost lease keeps the job's place, a retry is placed at its due time.
/// </summary>
public sealed class JobOrderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ExpiredLease_UnderABacklog_IsClaimedNext_ThenTheBacklogInSubmitOrder(bool sqlite)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time, sqlite);
        using var client = server.CreateClient();
        var submitted = await SubmitAsync(client, time, 6);

        var crashed = (await client.ClaimAsync(wait: 0, body: """{"worker":"w1","leaseSeconds":30}"""))!;
        Assert.Equal(submitted[0], crashed.Id);

        // The worker never heartbeats; once the lease is over, the sweep puts the job back.
        time.Advance(TimeSpan.FromSeconds(31));
        await client.UntilStatusAsync(crashed.Id, "queued");

        var again = (await client.ClaimAsync(wait: 0, body: """{"worker":"w2"}"""))!;
        Assert.Equal(submitted[0], again.Id);
        Assert.Equal(2, again.Job.GetProperty("attempts").GetInt32());
        Assert.Equal(submitted[1..], await ClaimAllAsync(client));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RetryAfterABackoff_IsPlacedAtItsDueTime_BehindJobsSubmittedBefore_AheadOfJobsSubmittedAfter(bool sqlite)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time, sqlite, o => o.Jobs.RetryBackoff = TimeSpan.FromSeconds(1));
        using var client = server.CreateClient();
        var a = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        time.Advance(TimeSpan.FromMilliseconds(1));
        var b = (await client.SubmitAsync()).GetProperty("id").GetString()!;

        var claimed = (await client.ClaimAsync(wait: 0))!;
        Assert.Equal(a, claimed.Id);
        await client.WorkerOkAsync(a, "fail", claimed.LeaseId, "\"error\":\"boom\",\"retryable\":true");

        // Due one second after the failure: c is submitted before that, d after.
        time.Advance(TimeSpan.FromMilliseconds(500));
        var c = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        Assert.Equal([b, c], await ClaimAllAsync(client));

        time.Advance(TimeSpan.FromMilliseconds(1000));
        var d = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var e = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        Assert.Equal([a, d, e], await ClaimAllAsync(client));
    }

    [Fact]
    public async Task ExpiredLease_AfterARetry_KeepsTheRetrysPlace()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time, sqlite: true, o => o.Jobs.RetryBackoff = TimeSpan.FromSeconds(1));
        using var client = server.CreateClient();
        var a = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var first = (await client.ClaimAsync(wait: 0))!;
        await client.WorkerOkAsync(a, "fail", first.LeaseId, "\"error\":\"boom\"");

        time.Advance(TimeSpan.FromMilliseconds(500));
        var b = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        time.Advance(TimeSpan.FromMilliseconds(1000));
        var c = (await client.SubmitAsync()).GetProperty("id").GetString()!;

        // b (submitted before a's retry was due) comes first; then a's retry, whose lease is lost.
        Assert.Equal(b, (await client.ClaimAsync(wait: 0))!.Id);
        var retry = (await client.ClaimAsync(wait: 0, body: """{"leaseSeconds":5}"""))!;
        Assert.Equal(a, retry.Id);
        time.Advance(TimeSpan.FromSeconds(6));
        await client.UntilStatusAsync(a, "queued");

        // Back at the retry's place: still ahead of c.
        Assert.Equal([a, c], await ClaimAllAsync(client));
    }

    private static Task<HubServer> StartAsync(FakeTimeProvider time, bool sqlite, Action<SwitchboardOptions>? more = null) =>
        HubServer.StartAsync(JobKit.Options(more), sqlite: sqlite, services: s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(time)));

    /// <summary>Submits <paramref name="count"/> jobs a millisecond apart, so each has its own submit time.</summary>
    private static async Task<string[]> SubmitAsync(HttpClient client, FakeTimeProvider time, int count)
    {
        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = (await client.SubmitAsync(input: $$"""{"n":{{i}}}""")).GetProperty("id").GetString()!;
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        return ids;
    }

    /// <summary>Claims until nothing is claimable now, in the order the hub hands the jobs out.</summary>
    private static async Task<string[]> ClaimAllAsync(HttpClient client)
    {
        var ids = new List<string>();
        while (await client.ClaimAsync(wait: 0) is { } claim)
        {
            ids.Add(claim.Id);
        }

        return [.. ids];
    }
}
