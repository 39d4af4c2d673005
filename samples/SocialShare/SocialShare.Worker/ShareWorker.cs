using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SocialShare.Worker;

/// <summary>
/// A worker that claims jobs over the hub's HTTP API: <c>share</c> jobs (slow, reports progress, sometimes fails)
/// and <c>write</c> jobs (streams generated text word by word as output chunks).
/// </summary>
public sealed class ShareWorker(HttpClient http, WorkerOptions options, TextWriter log)
{
    /// <summary>The job types this worker claims.</summary>
    public static readonly IReadOnlyList<string> JobTypes = ["share", "write"];

    private static readonly string[] Vocabulary =
    [
        "events", "flow", "through", "the", "hub", "like", "water", "and", "every", "worker", "takes", "its", "turn",
        "while", "the", "page", "watches", "quietly", "a", "lease", "holds", "each", "job", "until", "done", "so",
        "nothing", "runs", "twice", "streams", "carry", "words", "one", "by", "one", "to", "whoever", "listens",
    ];

    private readonly TextWriter _log = TextWriter.Synchronized(log);
    private readonly Random _random = new();

    /// <summary>Claims and works jobs of every type in <see cref="JobTypes"/> until <paramref name="cancellationToken"/> fires.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(JobTypes.Select(type => RunQueueAsync(type, cancellationToken)));

    /// <summary>Claims and works jobs of one type, one at a time, until <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunQueueAsync(string type, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (await ClaimAsync(type, cancellationToken) is { } claim)
                {
                    await WorkAsync(claim, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException)
            {
                // The hub is down or restarting (or a request timed out): wait a little and claim again.
                _log.WriteLine($"[{type}] hub unavailable: {ex.Message}; retrying in 2 s");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<Claim?> ClaimAsync(string type, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["worker"] = options.Name };
        using var response = await PostAsync($"v1/queues/{type}/claim?wait={options.ClaimWaitSeconds}", body, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        var root = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!;
        var job = root["job"]!;
        return new Claim(
            job["id"]!.GetValue<string>(),
            job["type"]!.GetValue<string>(),
            root["leaseId"]!.GetValue<string>(),
            job["attempts"]?.GetValue<int>() ?? 1,
            job["maxAttempts"]?.GetValue<int>() ?? 1,
            job["input"]);
    }

    private async Task WorkAsync(Claim claim, CancellationToken cancellationToken)
    {
        _log.WriteLine($"[{claim.Type}] {claim.Id}: attempt {claim.Attempt} of {claim.MaxAttempts}");
        var fail = claim.Attempt <= options.FailFirstAttempts || _random.NextDouble() < options.FailureRate;
        try
        {
            var result = claim.Type == "write"
                ? await WriteAsync(claim, fail, cancellationToken)
                : await ShareAsync(claim, fail, cancellationToken);
            if (result is null)
            {
                return; // the hub took the job away (canceled or lease lost); nothing more to say about it
            }

            using var done = await PostAsync($"v1/jobs/{claim.Id}/complete", new JsonObject { ["leaseId"] = claim.LeaseId, ["result"] = result }, cancellationToken);
            _log.WriteLine(done.IsSuccessStatusCode
                ? $"[{claim.Type}] {claim.Id}: succeeded"
                : $"[{claim.Type}] {claim.Id}: the hub refused the result ({(int)done.StatusCode})");
        }
        catch (SimulatedFailureException ex)
        {
            await FailAsync(claim, ex.Message, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: give the job back now rather than letting its lease run out.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await FailAsync(claim, "The worker was stopped.", timeout.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                _log.WriteLine($"[{claim.Type}] {claim.Id}: could not give the job back ({ex.Message}); its lease will expire");
            }

            throw;
        }
    }

    private async Task<JsonNode?> ShareAsync(Claim claim, bool fail, CancellationToken cancellationToken)
    {
        var text = claim.Input?["text"]?.GetValue<string>() ?? "";
        var network = claim.Input?["network"]?.GetValue<string>() ?? "mastodon";
        string[] steps = ["connecting", "uploading", "posting", "confirming"];
        for (var i = 0; i < steps.Length; i++)
        {
            await Task.Delay(options.StepDelay, cancellationToken);
            if (fail && i == steps.Length / 2)
            {
                throw new SimulatedFailureException($"{network} answered 503 while {steps[i]} (simulated).");
            }

            var percent = (i + 1) * 100 / (steps.Length + 1);
            if (!await ProgressAsync(claim, new JsonObject { ["leaseId"] = claim.LeaseId, ["percent"] = percent }, cancellationToken))
            {
                return null;
            }
        }

        var postId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..6]);
        return new JsonObject
        {
            ["network"] = network,
            ["url"] = $"https://{network}.example/posts/{postId}",
            ["characters"] = text.Length,
            ["postedAt"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
    }

    private async Task<JsonNode?> WriteAsync(Claim claim, bool fail, CancellationToken cancellationToken)
    {
        var prompt = claim.Input?["prompt"]?.GetValue<string>() ?? "";
        var count = Math.Clamp(claim.Input?["words"]?.GetValue<int>() ?? 30, 1, 500);
        var words = Generate(prompt, count);
        var text = new StringBuilder();
        for (var i = 0; i < words.Count; i++)
        {
            await Task.Delay(options.WordDelay, cancellationToken);
            if (fail && i == words.Count / 2)
            {
                throw new SimulatedFailureException("The text model lost its train of thought (simulated).");
            }

            var chunk = i == 0 ? words[i] : " " + words[i];
            text.Append(chunk);
            var progress = new JsonObject { ["leaseId"] = claim.LeaseId, ["percent"] = (i + 1) * 100 / words.Count, ["output"] = chunk };
            if (!await ProgressAsync(claim, progress, cancellationToken))
            {
                return null;
            }
        }

        return new JsonObject { ["text"] = text.ToString(), ["words"] = words.Count };
    }

    /// <summary>The words of the "generated" text: the prompt's words first, then words from a small vocabulary, seeded by the prompt.</summary>
    internal static List<string> Generate(string prompt, int count)
    {
        var seed = 17;
        foreach (var c in prompt)
        {
            seed = unchecked((seed * 31) + c);
        }

        var random = new Random(seed);
        var words = prompt.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(count).ToList();
        while (words.Count < count)
        {
            words.Add(Vocabulary[random.Next(Vocabulary.Length)]);
        }

        words[^1] += ".";
        return words;
    }

    /// <summary>Reports progress; false when the hub answered 409 (the job was canceled or the lease is gone), so the work must stop.</summary>
    private async Task<bool> ProgressAsync(Claim claim, JsonObject body, CancellationToken cancellationToken)
    {
        using var response = await PostAsync($"v1/jobs/{claim.Id}/progress", body, cancellationToken);
        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            var code = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["code"]?.GetValue<string>();
            _log.WriteLine($"[{claim.Type}] {claim.Id}: stopped by the hub ({code})");
            return false;
        }

        response.EnsureSuccessStatusCode();
        return true;
    }

    private async Task FailAsync(Claim claim, string message, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["leaseId"] = claim.LeaseId, ["error"] = message, ["retryable"] = true };
        using var response = await PostAsync($"v1/jobs/{claim.Id}/fail", body, cancellationToken);
        var status = response.IsSuccessStatusCode
            ? JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["status"]?.GetValue<string>()
            : ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        _log.WriteLine($"[{claim.Type}] {claim.Id}: attempt {claim.Attempt} failed: {message} (now {status})");
    }

    private Task<HttpResponseMessage> PostAsync(string path, JsonNode body, CancellationToken cancellationToken) =>
        http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken);

    private sealed record Claim(string Id, string Type, string LeaseId, int Attempt, int MaxAttempts, JsonNode? Input);

    private sealed class SimulatedFailureException(string message) : Exception(message);
}
