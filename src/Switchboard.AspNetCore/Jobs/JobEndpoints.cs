using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.OpenApi;
using Switchboard.AspNetCore.Polling;
using Switchboard.Auth;
using Switchboard.Events;
using Switchboard.Hubs;
using Switchboard.Jobs;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Jobs;

/// <summary>The async jobs API: <c>/v1/jobs</c> for clients, <c>/v1/queues/{type}/claim</c> and the lease calls for workers.</summary>
internal static class JobEndpoints
{
    private const int MaxTypeLength = 128;
    private const int MaxWorkerLength = 200;
    private const int BodyOverhead = 4096;

    public static void Map(RouteGroupBuilder api)
    {
        // A job is the topic jobs.{id}: reading it needs read access to that topic, submitting and cancelling need
        // publish access to jobs.>, and the worker side needs the worker scope.
        // A malformed id is 400 invalid-job-id on every /jobs/{id} route, checked before the caller's access (the
        // group's filter runs first): asking whether the caller may read a topic that cannot exist was a 403.
        var jobs = api.MapGroup("/jobs").WithTags("Jobs").ValidatesRouteValue("id", static (_, id) => JobQueue.ValidateId(id));
        jobs.MapPost("/", SubmitAsync).WithName("SubmitJob").WithSummary("Submit a job; 202 with Location, Retry-After and the job")
            .AddEndpointFilter((context, next) =>
            {
                Caller.Of(context.HttpContext).RequirePublish(JobQueue.TopicPrefix + ">");
                return next(context);
            })
            .AcceptsJson<SubmitJobContract>().RequestHeaders(RequestHeader.JobIdempotencyKey).Produces<JobContract>(202).Problems(400, 422);
        jobs.MapGet("/{id}", GetAsync).WithName("GetJob").WithSummary("The job's status; ETag, If-None-Match and wait= long polling; redirect=true gives 303 to the result")
            .RequireRead("id", JobQueue.TopicPrefix).HoldsConnection()
            .Query(("wait", "Hold up to this many seconds until the job changes (from If-None-Match, or from how it stands)."), ("redirect", "true: answer 303 to the result once succeeded."))
            .RequestHeaders(RequestHeader.IfNoneMatch("The ETag of the job as held: 304 Not Modified while it stands so; with wait=, the answer is held until it changes."))
            .Produces<JobContract>(200).Produces(303).Produces(304).Problems(400, 404);
        jobs.MapDelete("/{id}", CancelAsync).WithName("CancelJob").WithSummary("Cancel a queued or running job").RequireWrite("id", JobQueue.TopicPrefix)
            .Produces<JobContract>(200).Problems(400, 404, 409);
        jobs.MapGet("/{id}/result", ResultAsync).WithName("GetJobResult").WithSummary("The result of a succeeded job").RequireRead("id", JobQueue.TopicPrefix)
            .RequestHeaders(RequestHeader.IfNoneMatch("The ETag of the result as held: 304 Not Modified (a succeeded job's result never changes)."))
            .Produces<JsonElement>(200).Produces(304).Problems(400, 404, 409);
        jobs.MapGet("/{id}/stream", JobStreamEndpoint.StreamAsync).WithName("StreamJob").WithSummary("SSE of the job's status changes and output; closes after the final event")
            .RequireRead("id", JobQueue.TopicPrefix).HoldsConnection(stream: true)
            .Query(("after", "Resume after this cursor instead of from the job's first event."), Reading.LastEventId).RequestHeaders(RequestHeader.LastEventId)
            .Produces<string>(200, ApiContractConventions.EventStream).Describe(200, "The job's status, progress and output events, ending after the final status.")
            .Produces(204).Describe(204, "The job is finished and nothing follows the resume point: an EventSource stops reconnecting.").Problems(400, 404);
        const string Working = "Working on jobs";
        jobs.MapPost("/{id}/heartbeat", HeartbeatAsync).WithName("HeartbeatJob").WithSummary("Extend the lease").RequireScope(ApiKeyScopes.Worker, Working)
            .AcceptsJson<HeartbeatContract>().Produces<LeaseContract>(200).Problems(400, 404, 409);
        jobs.MapPost("/{id}/progress", ProgressAsync).WithName("ProgressJob").WithSummary("Report progress and append an output chunk").RequireScope(ApiKeyScopes.Worker, Working)
            .AcceptsJson<ProgressContract>().Produces<JobContract>(200).Problems(400, 404, 409);
        jobs.MapPost("/{id}/complete", CompleteAsync).WithName("CompleteJob").WithSummary("Complete the job with its result").RequireScope(ApiKeyScopes.Worker, Working)
            .AcceptsJson<CompleteContract>().Produces<JobContract>(200).Problems(400, 404, 409);
        jobs.MapPost("/{id}/fail", FailAsync).WithName("FailJob").WithSummary("Fail the attempt, retryable or not").RequireScope(ApiKeyScopes.Worker, Working)
            .AcceptsJson<FailContract>().Produces<JobContract>(200).Problems(400, 404, 409);
        api.MapPost("/queues/{type}/claim", ClaimAsync).WithTags("Jobs").WithName("ClaimJob").WithSummary("Long-poll for the next job of a type, first completing the one given in complete; 200 with a lease, or 204")
            .RequireScope(ApiKeyScopes.Worker, Working).HoldsConnection()
            .AcceptsJson<ClaimContract>(optional: true).Query(("wait", "Hold up to this many seconds for a job.")).Produces<ClaimedJobContract>(200).Produces(204)
            .Problems(400, 404, 409);
    }

    /// <summary>The methods of each job path, for 405 answers.</summary>
    public static string? AllowedMethods(string[] segments) => segments switch
    {
        ["jobs"] => "POST",
        ["jobs", _] => "GET, DELETE",
        ["jobs", _, "result" or "stream"] => "GET",
        ["jobs", _, "heartbeat" or "progress" or "complete" or "fail"] => "POST",
        ["queues", _, "claim"] => "POST",
        _ => null,
    };

    private static async Task<IResult> SubmitAsync(HttpContext context, Hub hub, JobQueue queue)
    {
        var jobs = context.Options<JobOptions>();
        var limits = hub.Limits;
        var attemptsRange = $"\"maxAttempts\" must be a whole number from 1 to {jobs.MaxAttemptsLimit}.";
        SubmitJobRequest request;
        using (var document = await ReadBodyAsync(context, limits.MaxEventBytes + BodyOverhead))
        {
            request = JobRequests.Read(document.RootElement, JobJsonContext.Default.SubmitJobRequest, name => Invalid(name switch
            {
                "maxAttempts" => attemptsRange,
                _ => $"\"{name}\" must be a string.",
            }), "a job has type, input, idempotencyKey and maxAttempts", "input");
        }

        if (request.MaxAttempts is < 1 || request.MaxAttempts > jobs.MaxAttemptsLimit)
        {
            throw Invalid(attemptsRange);
        }

        var type = request.Type;
        var bodyKey = request.IdempotencyKey;
        var maxAttempts = request.MaxAttempts ?? jobs.DefaultMaxAttempts;
        // The input is stored as it came, minified; an absent or null input is the JSON null.
        var input = request.Input is { } given ? System.Text.Encoding.UTF8.GetString(JsonWire.Minify(given)) : "null";
        ValidateType(type);
        if (System.Text.Encoding.UTF8.GetByteCount(input) > limits.MaxEventBytes)
        {
            throw EventDraftValidator.PayloadTooLarge($"The input is larger than the limit of {limits.MaxEventBytes} bytes.");
        }

        var headerKey = Http.IdempotencyKeyHeader.Read(context.Request);
        if (headerKey is not null && bodyKey is not null && headerKey != bodyKey)
        {
            throw Invalid("The Idempotency-Key header and \"idempotencyKey\" differ; give one, or the same in both.");
        }

        var key = headerKey ?? bodyKey;
        if (key is not null)
        {
            EventDraftValidator.ValidateIdempotencyKey(key, limits.MaxIdempotencyKeyLength);
        }

        var (job, created) = await queue.SubmitAsync(type!, input, maxAttempts, key, context.RequestAborted);
        var response = context.Response;
        response.Headers.Location = $"{context.Request.PathBase}{context.Request.Path.Value!.TrimEnd('/')}/{job.Id}";
        response.Headers.RetryAfter = "1";
        if (!created)
        {
            response.Headers["Idempotent-Replayed"] = "true";
        }

        return JobResult(job, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> GetAsync(string id, HttpContext context, JobQueue queue, IHostApplicationLifetime lifetime)
    {
        var query = context.Request.Query;
        var redirect = ParseBool(query["redirect"], "redirect");
        var wait = WaitParameter.Parse(query["wait"], context.Options<PollingOptions>().MaxWait, jitter: false);
        var job = await queue.GetAsync(id, context.RequestAborted) ?? throw JobQueue.NotFound(id);
        var ifNoneMatch = context.Request.Headers.IfNoneMatch.ToString();
        // Held until the job differs from what the client holds (If-None-Match), or without one from how it stands now.
        if (wait > TimeSpan.Zero && (Matches(ifNoneMatch, job) || (ifNoneMatch.Length == 0 && !job.IsFinished)))
        {
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
            try
            {
                job = await queue.WaitForChangeAsync(id, job.Version, wait, stopping.Token) ?? throw JobQueue.NotFound(id);
            }
            catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                // Shutting down: answer the held poll with what stands now.
            }
        }

        var response = context.Response;
        response.Headers.CacheControl = "no-cache";
        response.Headers.ETag = ETag(job);
        if (redirect && job.Status == JobStatus.Succeeded)
        {
            response.Headers.Location = $"{context.Request.PathBase}{context.Request.Path.Value!.TrimEnd('/')}/result";
            return Results.StatusCode(StatusCodes.Status303SeeOther);
        }

        if (Matches(ifNoneMatch, job))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        if (!job.IsFinished)
        {
            response.Headers.RetryAfter = "1";
        }

        return JobResult(job, StatusCodes.Status200OK);
    }

    private static async Task<IResult> CancelAsync(string id, HttpContext context, JobQueue queue) =>
        JobResult(await queue.CancelAsync(id, context.RequestAborted), StatusCodes.Status200OK);

    private static async Task<IResult> ResultAsync(string id, HttpContext context, JobQueue queue)
    {
        var job = await queue.GetAsync(id, context.RequestAborted) ?? throw JobQueue.NotFound(id);
        if (job.Status != JobStatus.Succeeded)
        {
            throw SwitchboardException.Conflict("job-not-succeeded", "No result",
                $"Job {id} is {JobJson.StatusName(job.Status)}; a result exists once it has succeeded.",
                new Dictionary<string, object?> { ["jobStatus"] = JobJson.StatusName(job.Status) });
        }

        context.Response.Headers.ETag = ETag(job);
        context.Response.Headers.CacheControl = "private, max-age=31536000, immutable";
        if (Matches(context.Request.Headers.IfNoneMatch.ToString(), job))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(System.Text.Encoding.UTF8.GetBytes(job.Result ?? "null"), "application/json");
    }

    private static async Task<IResult> ClaimAsync(string type, HttpContext context, Hub hub, JobQueue queue, IHostApplicationLifetime lifetime)
    {
        ValidateType(type);
        var jobs = context.Options<JobOptions>();
        var wait = WaitParameter.Parse(context.Request.Query["wait"], context.Options<PollingOptions>().MaxWait, jitter: false);
        var workerRule = $"\"worker\" must be a name of 1 to {MaxWorkerLength} printable characters.";
        const string CompleteRule = "\"complete\" must be an object with the finished job's id, its leaseId and its result.";
        var limits = hub.Limits;
        ClaimJobRequest request;
        (string Id, string LeaseId, string Result)? complete = null;
        // A claim may carry the result of the job the worker just finished, so its body may be as large as a complete's.
        using (var document = await ReadBodyAsync(context, limits.MaxEventBytes + BodyOverhead))
        {
            request = JobRequests.Read(document.RootElement, JobJsonContext.Default.ClaimJobRequest,
                name => Invalid(name switch
                {
                    "worker" => workerRule,
                    "complete" => CompleteRule,
                    _ => LeaseRule(jobs),
                }), "a claim may give worker, leaseSeconds and complete", "complete");
            if (request.Complete is { } given)
            {
                if (given.ValueKind != JsonValueKind.Object)
                {
                    throw Invalid(CompleteRule);
                }

                var finished = ReadWorkerMembers(given, JobJsonContext.Default.ClaimCompleteRequest, static b => b.LeaseId,
                    _ => Invalid(CompleteRule), "\"complete\" takes id, leaseId and result", "result");
                if (string.IsNullOrEmpty(finished.Id))
                {
                    throw Invalid(CompleteRule);
                }

                // As on POST /v1/jobs/{id}/complete: an id that cannot name a job is 400, not a 404 for a job not found.
                JobQueue.ValidateId(finished.Id);

                complete = (finished.Id, finished.LeaseId!, CompleteResult(finished.Result, limits));
            }
        }

        var worker = request.Worker;
        if (worker is not null && (worker.Length is 0 or > MaxWorkerLength || worker.Any(char.IsControl)))
        {
            throw Invalid(workerRule);
        }

        var lease = Lease(request.LeaseSeconds, jobs);

        JobClaim? claim;
        using (var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping))
        {
            try
            {
                // The completion itself stops only with the request: a host shutting down ends the claim's wait, never
                // a completion half way. The result is let go once handed on, not held for the claim's wait.
                var claiming = complete is var (id, leaseId, result)
                    ? queue.CompleteAndClaimAsync(id, leaseId, result, type, worker, lease, wait, context.RequestAborted, stopping.Token)
                    : queue.ClaimAsync(type, worker, lease, wait, stopping.Token);
                complete = null;
                claim = await claiming;
            }
            catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                claim = null;
            }
        }

        context.Response.Headers.CacheControl = "no-store";
        if (claim is null)
        {
            return Results.NoContent();
        }

        return Json(writer =>
        {
            writer.WriteStartObject();
            writer.WritePropertyName("job"u8);
            JobJson.Write(writer, claim.Job, includeInput: true);
            writer.WriteString("leaseId"u8, claim.Lease.Id);
            writer.WriteString("leaseExpiresAt"u8, JobJson.Time(claim.Lease.ExpiresAt));
            writer.WriteEndObject();
        }, StatusCodes.Status200OK);
    }

    private static async Task<IResult> HeartbeatAsync(string id, HttpContext context, JobQueue queue)
    {
        var jobs = context.Options<JobOptions>();
        var body = await ReadWorkerBodyAsync(context, BodyOverhead, JobJsonContext.Default.HeartbeatJobRequest, static b => b.LeaseId,
            _ => Invalid(LeaseRule(jobs)), "leaseSeconds");
        var renewed = await queue.HeartbeatAsync(id, body.LeaseId!, RenewalLease(body.LeaseSeconds, jobs), context.RequestAborted);
        return Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("leaseId"u8, renewed.Id);
            writer.WriteString("leaseExpiresAt"u8, JobJson.Time(renewed.ExpiresAt));
            writer.WriteEndObject();
        }, StatusCodes.Status200OK);
    }

    private static async Task<IResult> ProgressAsync(string id, HttpContext context, Hub hub, JobQueue queue)
    {
        var limits = hub.Limits;
        var jobs = context.Options<JobOptions>();
        const string PercentRule = "\"percent\" must be a whole number from 0 to 100.";
        // Null percent or output is the same as leaving it out.
        var body = await ReadWorkerBodyAsync(context, limits.MaxEventBytes + BodyOverhead, JobJsonContext.Default.ProgressJobRequest, static b => b.LeaseId,
            name => Invalid(name switch
            {
                "percent" => PercentRule,
                "output" => "\"output\" must be a string (a chunk of text).",
                _ => LeaseRule(jobs),
            }), "percent, output, leaseSeconds", "percent", "output");
        if (body.Percent is < 0 or > 100)
        {
            throw Invalid(PercentRule);
        }

        if (body.Output is { } output && System.Text.Encoding.UTF8.GetByteCount(output) > limits.MaxEventBytes - 512)
        {
            throw EventDraftValidator.PayloadTooLarge($"An output chunk must be under {limits.MaxEventBytes - 512} bytes; send smaller chunks.");
        }

        if (body.Percent is null && body.Output is null)
        {
            throw Invalid("Give \"percent\", \"output\", or both.");
        }

        return JobResult(await queue.ProgressAsync(id, body.LeaseId!, body.Percent, body.Output, RenewalLease(body.LeaseSeconds, jobs), context.RequestAborted), StatusCodes.Status200OK);
    }

    private static async Task<IResult> CompleteAsync(string id, HttpContext context, Hub hub, JobQueue queue)
    {
        var limits = hub.Limits;
        // Any JSON value is a result; an absent or null one is the JSON null. No member has a wrong value but leaseId.
        var body = await ReadWorkerBodyAsync(context, limits.MaxEventBytes + BodyOverhead, JobJsonContext.Default.CompleteJobRequest, static b => b.LeaseId,
            _ => throw new InvalidOperationException("Only leaseId can have a wrong value."), "result", "result");
        return JobResult(await queue.CompleteAsync(id, body.LeaseId!, CompleteResult(body.Result, limits), context.RequestAborted), StatusCodes.Status200OK);
    }

    /// <summary>A job's result as stored: minified, the JSON null when absent; 413 above the event size limit.</summary>
    private static string CompleteResult(JsonElement? given, LimitsOptions limits)
    {
        var result = given is { } value ? System.Text.Encoding.UTF8.GetString(JsonWire.Minify(value)) : "null";
        if (System.Text.Encoding.UTF8.GetByteCount(result) > limits.MaxEventBytes)
        {
            throw EventDraftValidator.PayloadTooLarge($"The result is larger than the limit of {limits.MaxEventBytes} bytes.");
        }

        return result;
    }

    private static async Task<IResult> FailAsync(string id, HttpContext context, Hub hub, JobQueue queue)
    {
        const string ErrorRule = "\"error\" must be a problem details object or a message string.";
        var body = await ReadWorkerBodyAsync(context, BodyOverhead * 4, JobJsonContext.Default.FailJobRequest, static b => b.LeaseId,
            name => Invalid(name == "retryable" ? "\"retryable\" must be true or false." : ErrorRule), "error, retryable");

        // The error is problem details: a worker may send a full problem object or just a message.
        var error = body.Error is { } errorValue ? errorValue.ValueKind switch
        {
            JsonValueKind.String => JobJson.Problem("job-failed", "Job failed", errorValue.GetString()!),
            JsonValueKind.Object => System.Text.Encoding.UTF8.GetString(JsonWire.Minify(errorValue)),
            _ => throw Invalid(ErrorRule),
        } : JobJson.Problem("job-failed", "Job failed", "The worker reported a failure without details.");

        return JobResult(await queue.FailAsync(id, body.LeaseId!, error, body.Retryable ?? true, context.RequestAborted), StatusCodes.Status200OK);
    }

    /// <summary>
    /// A worker call's body: <c>leaseId</c> (required) and the call's own members. A leaseId that is missing, null, empty
    /// or not a string is <c>missing-lease</c>, whatever else is wrong; other members are refused with <paramref name="wrongValue"/>.
    /// </summary>
    private static async Task<T> ReadWorkerBodyAsync<T>(HttpContext context, int maxBytes, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info,
        Func<T, string?> leaseId, Func<string, SwitchboardException> wrongValue, string members, params string[] nullIsAbsent)
    {
        using var document = await ReadBodyAsync(context, maxBytes);
        return ReadWorkerMembers(document.RootElement, info, leaseId, wrongValue, "this call takes leaseId, " + members, nullIsAbsent);
    }

    /// <summary>The members of a worker call's object (a body, or a claim's <c>complete</c>), checked as <see cref="ReadWorkerBodyAsync"/> says.</summary>
    private static T ReadWorkerMembers<T>(JsonElement root, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info,
        Func<T, string?> leaseId, Func<string, SwitchboardException> wrongValue, string members, params string[] nullIsAbsent)
    {
        // Unknown members first, then a missing lease, then the other members' values: the order this call always had.
        var body = JobRequests.Read(root, info, name => name == "leaseId" || !HasLease(root) ? MissingLease() : wrongValue(name), members, nullIsAbsent);
        return string.IsNullOrEmpty(leaseId(body)) ? throw MissingLease() : body;
    }

    private static bool HasLease(JsonElement root) =>
        root.TryGetProperty("leaseId", out var lease) && lease.ValueKind == JsonValueKind.String && lease.GetString() is { Length: > 0 };

    private static SwitchboardException MissingLease() =>
        SwitchboardException.Invalid("missing-lease", "Missing leaseId", "\"leaseId\" is required: the lease id the claim answered with.");

    private static async Task<JsonDocument> ReadBodyAsync(HttpContext context, int maxBytes)
    {
        var body = await RequestBody.ReadAsync(context.Request, maxBytes, "request", context.RequestAborted);
        var document = JsonWire.ParseBody(body.Length == 0 ? "{}"u8.ToArray() : body);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw Invalid("The body must be a JSON object.");
        }

        return document;
    }

    private static void ValidateType(string? type)
    {
        if (string.IsNullOrEmpty(type) || type.Length > MaxTypeLength || !type.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw SwitchboardException.Invalid("invalid-job-type", "Invalid job type",
                $"A job type is 1 to {MaxTypeLength} characters of letters, digits, '-', '_' and '.', for example share-post.");
        }
    }

    /// <summary>The lease a worker asked for in <c>leaseSeconds</c>, or the configured one.</summary>
    private static TimeSpan Lease(double? seconds, JobOptions options)
    {
        if (seconds is not { } value)
        {
            return options.LeaseDuration;
        }

        if (!double.IsFinite(value) || value <= 0 || value > options.MaxLeaseDuration.TotalSeconds)
        {
            throw Invalid(LeaseRule(options));
        }

        return TimeSpan.FromSeconds(value);
    }

    /// <summary>The lease a renewal asked for in <c>leaseSeconds</c>, or null: as long as the job was claimed for.</summary>
    private static TimeSpan? RenewalLease(double? seconds, JobOptions options) => seconds is null ? null : Lease(seconds, options);

    private static string LeaseRule(JobOptions options) =>
        $"\"leaseSeconds\" must be a number of seconds above 0 and at most {options.MaxLeaseDuration.TotalSeconds.ToString(CultureInfo.InvariantCulture)}.";

    private static bool ParseBool(string? value, string name) => value switch
    {
        null or "" or "false" => false,
        "true" => true,
        _ => throw SwitchboardException.Invalid("invalid-query", $"Invalid {name}", $"{name} must be true or false."),
    };

    private static bool Matches(string ifNoneMatch, Job job)
    {
        if (ifNoneMatch.Length == 0)
        {
            return false;
        }

        var etag = ETag(job);
        return ifNoneMatch.Split(',').Any(tag => tag.Trim() is var t && (t == etag || t == "*" || t == "W/" + etag));
    }

    /// <summary>The strong ETag of a job's visible state: its id and version.</summary>
    private static string ETag(Job job) => string.Create(CultureInfo.InvariantCulture, $"\"{job.Id}.{job.Version}\"");

    private static SwitchboardException Invalid(string detail) => SwitchboardException.Invalid("invalid-body", "Invalid body", detail);

    private static IResult JobResult(Job job, int status) => Json(writer => JobJson.Write(writer, job, includeInput: false), status);

    private static IResult Json(Action<Utf8JsonWriter> write, int status) => Results.Text(JobJson.Build(write), "application/json", status);
}
