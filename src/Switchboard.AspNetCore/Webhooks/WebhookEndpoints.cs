using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.OpenApi;
using Switchboard.Hubs;
using Switchboard.Problems;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Webhooks;

/// <summary>The webhook endpoints API under <c>/v1/webhooks</c>.</summary>
internal static class WebhookEndpoints
{
    /// <summary>The largest body any webhook API call takes; a forwarding node reads within it too.</summary>
    internal const int MaxBodyBytes = 64 * 1024;

    private const int MaxUrlLength = 2048;
    internal const int MaxDescriptionLength = 1024;
    private const int MaxTypes = 100;
    private const int MaxRecoverPerCall = 10_000;

    public static void Map(RouteGroupBuilder api)
    {
        var webhooks = api.MapGroup("/webhooks").WithTags("Webhooks").RequireScope(Switchboard.Auth.ApiKeyScopes.Admin, "Managing webhooks")
            .AddEndpointFilter<WebhookForwardingFilter>();
        webhooks.MapPost("/", CreateAsync).WithName("CreateWebhook").WithSummary("Register a webhook endpoint; the answer carries its signing secret")
            .AcceptsJson<WebhookCreateBody>().Produces<WebhookEndpointResponse>(201).Problems(400, 409);
        webhooks.MapGet("/", (WebhookDispatcher dispatcher, Hub hub) => Json(new WebhookListResponse([.. dispatcher.List().Select(v => Describe(v, null, hub))]), 200))
            .WithName("ListWebhooks")
            .Produces<WebhookListResponse>(200);
        webhooks.MapGet("/{id}", (string id, WebhookDispatcher dispatcher, Hub hub) => Json(Describe(Required(dispatcher.Find(id), id), null, hub), 200))
            .WithName("GetWebhook")
            .Produces<WebhookEndpointResponse>(200).Problems(404);
        webhooks.MapMethods("/{id}", ["PATCH"], PatchAsync).WithName("UpdateWebhook")
            .AcceptsJson<WebhookPatchBody>().Produces<WebhookEndpointResponse>(200).Problems(400, 404, 409);
        webhooks.MapDelete("/{id}", DeleteAsync).WithName("DeleteWebhook")
            .Produces(204).Problems(404, 409);
        webhooks.MapPost("/{id}/rotate-secret", RotateSecretAsync).WithName("RotateWebhookSecret")
            .Produces<WebhookEndpointResponse>(200).Problems(404, 409);
        webhooks.MapPost("/{id}/enable", (string id, WebhookDispatcher dispatcher, HttpContext context, Hub hub, TimeProvider time) => SetStatusAsync(id, WebhookStatus.Active, dispatcher, context, hub, time))
            .WithName("EnableWebhook")
            .Produces<WebhookEndpointResponse>(200).Problems(404, 409);
        webhooks.MapPost("/{id}/pause", (string id, WebhookDispatcher dispatcher, HttpContext context, Hub hub, TimeProvider time) => SetStatusAsync(id, WebhookStatus.Paused, dispatcher, context, hub, time))
            .WithName("PauseWebhook")
            .Produces<WebhookEndpointResponse>(200).Problems(404, 409);
        webhooks.MapPost("/{id}/replay", ReplayAsync).WithName("ReplayWebhook").WithSummary("Redeliver everything after a cursor")
            .AcceptsJson<WebhookReplayBody>().Produces<WebhookEndpointResponse>(200).Problems(400, 404, 409, 410);
        webhooks.MapPost("/{id}/recover", RecoverAsync).WithName("RecoverWebhook").WithSummary("Redeliver the events that failed since a time")
            .AcceptsJson<WebhookRecoverBody>().Produces<WebhookRecoverResponse>(200).Problems(400, 404, 409);
        webhooks.MapGet("/{id}/attempts", AttemptsAsync).WithName("WebhookAttempts")
            .Query(("limit", "At most this many attempts, newest first."), ("status", "Only attempts with this status.")).Produces<WebhookAttemptListResponse>(200).Problems(400, 404);
        webhooks.MapPost("/{id}/test", TestAsync).WithName("TestWebhook").WithSummary("Send a switchboard.ping delivery now")
            .Produces<WebhookAttemptResponse>(200).Problems(404, 409);
    }

    /// <summary>The methods of each webhook path, for 405 answers.</summary>
    public static string? AllowedMethods(string[] segments) => segments switch
    {
        ["webhooks"] => "GET, POST",
        ["webhooks", _] => "GET, PATCH, DELETE",
        ["webhooks", _, "attempts"] => "GET",
        ["webhooks", _, "rotate-secret" or "enable" or "pause" or "replay" or "recover" or "test"] => "POST",
        _ => null,
    };

    private static async Task<IResult> CreateAsync(HttpContext context, Hub hub, WebhookDispatcher dispatcher, WebhookHostResolver resolver, TimeProvider time)
    {
        var settings = Validate(await ReadBodyAsync<WebhookCreateBody>(context), hub, Current(context));
        var filter = hub.ParseFilter(settings.Topics!);
        var start = StartOf(hub, settings.After, filter);
        var url = await ValidateUrlAsync(settings.Url!, context, resolver);
        var now = time.GetUtcNow();
        var defaults = Current(context);
        var endpoint = new WebhookEndpoint
        {
            Id = WebhookDispatcher.NewEndpointId(),
            Url = url,
            Topics = settings.Topics!,
            Types = settings.Types ?? [],
            Description = settings.Description,
            Mode = settings.Mode ?? WebhookMode.Parallel,
            MaxInFlight = settings.Mode == WebhookMode.Ordered ? 1 : settings.MaxInFlight ?? defaults.DefaultMaxInFlight,
            RateLimitPerSecond = settings.RateLimitSet ? settings.RateLimitPerSecond : null,
            Secret = WebhookSecret.Generate(),
            CreatedAt = now,
            UpdatedAt = now,
            Progress = new WebhookProgress(start, 0, 0, null),
        };
        var view = await dispatcher.CreateAsync(endpoint, context.RequestAborted, WebhookForwardingFilter.ChosenPartition(context));
        context.Response.Headers.Location = $"{context.Request.PathBase}{context.Request.Path.Value!.TrimEnd('/')}/{view.Endpoint.Id}";
        return Json(Describe(view, endpoint.Secret, hub), 201);
    }

    private static async Task<IResult> PatchAsync(string id, HttpContext context, Hub hub, WebhookDispatcher dispatcher, WebhookHostResolver resolver)
    {
        var settings = Validate(await ReadBodyAsync<WebhookPatchBody>(context), hub, Current(context));
        if (settings.Topics is not null)
        {
            hub.ParseFilter(settings.Topics);
        }

        var url = settings.Url is null ? null : await ValidateUrlAsync(settings.Url, context, resolver);

        var view = await dispatcher.ChangeAsync(id, (endpoint, pending) =>
        {
            var mode = settings.Mode ?? endpoint.Mode;
            var updated = endpoint with
            {
                Url = url ?? endpoint.Url,
                Topics = settings.Topics ?? endpoint.Topics,
                Types = settings.Types ?? endpoint.Types,
                Description = settings.DescriptionSet ? settings.Description : endpoint.Description,
                Mode = mode,
                MaxInFlight = mode == WebhookMode.Ordered ? 1 : settings.MaxInFlight ?? (endpoint.Mode == WebhookMode.Ordered ? Current(context).DefaultMaxInFlight : endpoint.MaxInFlight),
                RateLimitPerSecond = settings.RateLimitSet ? settings.RateLimitPerSecond : endpoint.RateLimitPerSecond,
            };
            return ValueTask.FromResult(new WebhookDispatcher.Change(updated, pending));
        }, context.RequestAborted);
        return Json(Describe(Required(view, id), null, hub), 200);
    }

    private static async Task<IResult> DeleteAsync(string id, WebhookDispatcher dispatcher, HttpContext context)
    {
        if (!await dispatcher.DeleteAsync(id, context.RequestAborted))
        {
            throw NotFound(id);
        }

        return Results.NoContent();
    }

    private static async Task<IResult> RotateSecretAsync(string id, WebhookDispatcher dispatcher, HttpContext context, Hub hub, TimeProvider time)
    {
        var secret = WebhookSecret.Generate();
        var grace = Current(context).SecretRotationGrace;
        var view = await dispatcher.ChangeAsync(id, (endpoint, pending) => ValueTask.FromResult(new WebhookDispatcher.Change(endpoint with
        {
            Secret = secret,
            PreviousSecret = endpoint.Secret,
            PreviousSecretExpiresAt = time.GetUtcNow() + grace,
        }, pending)), context.RequestAborted);
        return Json(Describe(Required(view, id), secret, hub), 200);
    }

    private static async Task<IResult> SetStatusAsync(string id, WebhookStatus status, WebhookDispatcher dispatcher, HttpContext context, Hub hub, TimeProvider time)
    {
        var view = await dispatcher.ChangeAsync(id, (endpoint, pending) =>
        {
            // Enabling a disabled or paused endpoint sends what it owes now: its pending retries were scheduled for a
            // receiver that was failing (up to 10 h ahead on the default schedule), and the operator who enables it has
            // just fixed that receiver. Their attempt counts stay, so the schedule goes on from there if it fails again.
            IReadOnlyList<WebhookDelivery> owed = pending;
            List<WebhookChange> extra = [];
            if (status == WebhookStatus.Active && endpoint.Status != WebhookStatus.Active)
            {
                var now = time.GetUtcNow();
                owed = [.. pending.Select(d => d.NextAttemptAt > now ? d with { NextAttemptAt = now, UpdatedAt = now } : d)];
                extra.AddRange(owed.Where((d, i) => !ReferenceEquals(d, pending[i])).Select(d => new WebhookDeliverySaved(d)));
            }

            return ValueTask.FromResult(new WebhookDispatcher.Change(endpoint with
            {
                Status = status,
                DisabledReason = null,
                // Enabling starts a fresh run: the failures that disabled the endpoint do not count against it again.
                Progress = status == WebhookStatus.Active ? endpoint.Progress with { FailingSince = null } : endpoint.Progress,
            }, owed, extra));
        }, context.RequestAborted);
        return Json(Describe(Required(view, id), null, hub), 200);
    }

    private static async Task<IResult> ReplayAsync(string id, HttpContext context, Hub hub, WebhookDispatcher dispatcher, IWebhookStore store)
    {
        var after = (await ReadBodyAsync<WebhookReplayBody>(context)).After is { Length: > 0 } given ? given : throw WebhookReplayBody.Missing();
        var view = await dispatcher.ChangeAsync(id, async (endpoint, pending) =>
        {
            var start = StartOf(hub, after, hub.ParseFilter(endpoint.Topics));
            // Pending retries and failed deliveries after the replay point are sent again by the replay itself;
            // forgetting them keeps a later recover from sending them a second time.
            await dispatcher.FlushAsync(context.RequestAborted);
            var failed = (await store.ReadFailedAsync(id, DateTimeOffset.MinValue, MaxRecoverPerCall, context.RequestAborted)).Where(d => d.Seq > start).ToList();
            var removed = pending.Where(d => d.Seq > start).Concat(failed).Select(d => (WebhookChange)new WebhookDeliveryRemoved(id, d.Seq)).ToList();
            return new WebhookDispatcher.Change(
                endpoint with { Progress = endpoint.Progress with { AfterSeq = start, Failed = Math.Max(0, endpoint.Progress.Failed - failed.Count) } },
                [.. pending.Where(d => d.Seq <= start)], removed);
        }, context.RequestAborted);
        return Json(Describe(Required(view, id), null, hub), 200);
    }

    private static async Task<IResult> RecoverAsync(string id, HttpContext context, Hub hub, WebhookDispatcher dispatcher, IWebhookStore store, TimeProvider time)
    {
        var sinceText = (await ReadBodyAsync<WebhookRecoverBody>(context)).Since is { Length: > 0 } given ? given : throw WebhookRecoverBody.Missing();
        if (!DateTimeOffset.TryParse(sinceText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var since))
        {
            throw SwitchboardException.Invalid("invalid-time", "Invalid time", $"\"since\" must be an ISO 8601 time such as 2026-11-28T00:00:00Z, not '{sinceText}'.");
        }

        var recovered = 0;
        var view = await dispatcher.ChangeAsync(id, async (endpoint, pending) =>
        {
            await dispatcher.FlushAsync(context.RequestAborted);
            // Bounded like any backlog: no more than the endpoint may have pending; call again for the rest.
            var room = Math.Max(0, Current(context).MaxPendingRetriesPerEndpoint - pending.Count);
            var failed = room == 0 ? [] : await store.ReadFailedAsync(id, since, Math.Min(MaxRecoverPerCall, room), context.RequestAborted);
            var now = time.GetUtcNow();
            var retries = failed.Select(d => d with { Status = WebhookDeliveryStatus.Pending, Attempts = 0, NextAttemptAt = now }).ToList();
            recovered = retries.Count;
            return new WebhookDispatcher.Change(
                endpoint with { Progress = endpoint.Progress with { Failed = Math.Max(0, endpoint.Progress.Failed - retries.Count) } },
                [.. pending, .. retries], [.. retries.Select(r => new WebhookDeliverySaved(r))]);
        }, context.RequestAborted);
        return Json(new WebhookRecoverResponse(recovered, Describe(Required(view, id), null, hub)), 200);
    }

    private static async Task<IResult> AttemptsAsync(string id, HttpContext context, WebhookDispatcher dispatcher, IWebhookStore store)
    {
        Required(dispatcher.Find(id), id);
        var query = context.Request.Query;
        bool? succeeded = query["status"].ToString() switch
        {
            "" => null,
            "failed" => false,
            "succeeded" => true,
            var other => throw SwitchboardException.Invalid("invalid-query", "Invalid status", $"status must be 'failed' or 'succeeded', not '{other}'."),
        };
        var limit = 100;
        if (query["limit"].ToString() is { Length: > 0 } limitText
            && (!WholeNumber.TryParse(limitText, out limit) || limit is < 1 or > 1000))
        {
            throw SwitchboardException.Invalid("invalid-query", "Invalid limit", "limit must be a number from 1 to 1000.");
        }

        await dispatcher.FlushAsync(context.RequestAborted);
        var attempts = await store.ReadAttemptsAsync(id, succeeded, limit, context.RequestAborted);
        return Json(new WebhookAttemptListResponse([.. attempts.Select(Describe)]), 200);
    }

    private static async Task<IResult> TestAsync(string id, WebhookDispatcher dispatcher, HttpContext context)
    {
        var attempt = await dispatcher.PingAsync(id, context.RequestAborted) ?? throw NotFound(id);
        return Json(Describe(attempt), 200);
    }

    /// <summary>Where a cursor starts; a cursor this hub cannot honour is a 410 with the cursor to use, as for polling.</summary>
    private static long StartOf(Hub hub, string? after, Topics.TopicFilter filter)
    {
        var start = hub.ResolveStart(after, filter);
        return start.Reset is { } reset ? throw Polling.PollingEndpoint.Gone(reset) : start.AfterSeq;
    }

    /// <summary>Reads a body of at most 64 KiB into its DTO; an empty body is the empty object, so bare POSTs mean "no members".</summary>
    private static async Task<T> ReadBodyAsync<T>(HttpContext context)
        where T : class, IJsonRequest<T>
    {
        var body = await RequestBody.ReadAsync(context.Request, MaxBodyBytes, "request", context.RequestAborted);
        return JsonRequest.Read<T>(body.Length == 0 ? "{}"u8.ToArray() : body);
    }

    /// <summary>What a create or patch body asked for, checked against the hub's limits; null members were not given.</summary>
    private sealed class Settings
    {
        public string? Url { get; set; }

        public List<string>? Topics { get; set; }

        public List<string>? Types { get; set; }

        public string? Description { get; set; }

        public bool DescriptionSet { get; set; }

        public WebhookMode? Mode { get; set; }

        public int? MaxInFlight { get; set; }

        public int? RateLimitPerSecond { get; set; }

        public bool RateLimitSet { get; set; }

        public string? After { get; set; }
    }

    /// <summary>
    /// The value rules of a create or patch body (the DTO has already refused unknown members and wrong JSON types):
    /// each given member, then what a create requires, then the rules between members.
    /// </summary>
    private static Settings Validate(WebhookSettingsBody body, Hub hub, WebhookOptions options)
    {
        var creating = body is WebhookCreateBody;
        var settings = new Settings();
        var limits = hub.Limits;
        if (body.UrlGiven)
        {
            settings.Url = body.Url ?? throw Invalid("url", "a string");
        }

        if (body.TopicsGiven)
        {
            settings.Topics = StringArray(body.Topics, "topics", limits.MaxPatternsPerSubscription);
        }

        if (body.TypesGiven)
        {
            settings.Types = body.Types is null ? [] : StringArray(body.Types, "types", MaxTypes);
            if (settings.Types.Any(t => t.Length > limits.MaxTypeLength || t.Any(char.IsControl)))
            {
                throw Invalid("types", $"event types of 1 to {limits.MaxTypeLength} printable characters");
            }
        }

        if (body.DescriptionGiven)
        {
            settings.DescriptionSet = true;
            settings.Description = body.Description is { Length: > MaxDescriptionLength }
                ? throw Invalid("description", $"a string of at most {MaxDescriptionLength} characters")
                : body.Description;
        }

        if (body.ModeGiven)
        {
            settings.Mode = body.Mode switch
            {
                "parallel" => WebhookMode.Parallel,
                "ordered" => WebhookMode.Ordered,
                _ => throw Invalid("mode", "\"parallel\" or \"ordered\""),
            };
        }

        if (body.MaxInFlightGiven)
        {
            settings.MaxInFlight = body.MaxInFlight is { } inFlight && inFlight >= 1 && inFlight <= options.MaxInFlightLimit
                ? inFlight
                : throw Invalid("maxInFlight", $"a whole number from 1 to {options.MaxInFlightLimit}");
        }

        if (body.RateLimitGiven)
        {
            settings.RateLimitSet = true;
            settings.RateLimitPerSecond = body.RateLimit switch
            {
                null => null,
                { PerSecond: >= 1 and <= WebhookRateLimitBody.MaxPerSecond } rate => rate.PerSecond,
                _ => throw WebhookRateLimitBody.Refusal(),
            };
        }

        if (body is WebhookCreateBody { AfterGiven: true } create)
        {
            settings.After = create.After ?? throw Invalid("after", "a cursor, 'earliest' or 'latest'");
        }

        if (creating && settings.Url is null)
        {
            throw SwitchboardException.Invalid("invalid-body", "Missing url", "\"url\" is required: where deliveries are POSTed.");
        }

        if (creating && settings.Topics is null)
        {
            throw SwitchboardException.Invalid("missing-topic", "Missing topics", "\"topics\" is required: the topic patterns to deliver, such as [\"orders\"].");
        }

        if (settings.Mode == WebhookMode.Ordered && settings.MaxInFlight > 1)
        {
            throw Invalid("maxInFlight", "1 in ordered mode (one delivery in flight keeps the order)");
        }

        return settings;
    }

    private static List<string> StringArray(List<string?>? value, string name, int max)
    {
        if (value is null || value.Count is 0 || value.Count > max || value.Any(string.IsNullOrEmpty))
        {
            throw Invalid(name, $"an array of 1 to {max} non-empty strings");
        }

        // Checked above: no element is null.
        return [.. value.Distinct(StringComparer.Ordinal).Select(item => item!)];
    }

    private static SwitchboardException Invalid(string name, string expected) => WebhookSettingsBody.Invalid(name, expected);

    /// <summary>
    /// Checks the URL's form and, after resolving its host, every address against the SSRF policy: a clear 400
    /// now rather than failed deliveries later. Deliveries check again at connect time.
    /// </summary>
    private static async Task<string> ValidateUrlAsync(string url, HttpContext context, WebhookHostResolver resolver)
    {
        var options = Current(context);
        var allowHttp = options.AllowHttp ?? context.RequestServices.GetRequiredService<IHostEnvironment>().IsDevelopment();
        if (url.Length > MaxUrlLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Fragment.Length > 0)
        {
            throw SwitchboardException.Invalid("invalid-url", "Invalid webhook URL",
                $"\"url\" must be an absolute http or https URL without a fragment, at most {MaxUrlLength} characters.");
        }

        if (uri.Port == 0)
        {
            // Uri takes port 0, but nothing can be reached there: every delivery would fail until the endpoint is disabled.
            throw SwitchboardException.Invalid("invalid-url", "Invalid webhook URL", "The URL's port must be from 1 to 65535.");
        }

        if (uri.Scheme == "http" && !allowHttp)
        {
            throw SwitchboardException.Invalid("insecure-url", "Plain http is not allowed",
                "Webhook URLs must use https here. Set Switchboard:Webhooks:AllowHttp to true to allow http (it is on in Development).");
        }

        if (uri.IdnHost.Length > 253)
        {
            throw SwitchboardException.Invalid("invalid-url", "Invalid webhook URL", "The host name is longer than 253 characters.");
        }

        System.Net.IPAddress[] addresses;
        try
        {
            addresses = await resolver.ResolveAsync(uri.IdnHost, context.RequestAborted);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ArgumentException)
        {
            throw SwitchboardException.Invalid("unresolvable-url", "Webhook host not found", $"'{uri.Host}' does not resolve: {ex.Message}.");
        }

        var policy = new WebhookAddressPolicy(options.AllowedNetworks);
        foreach (var address in addresses)
        {
            if (policy.Refusal(address) is { } refusal)
            {
                throw SwitchboardException.Invalid("forbidden-url", "Webhook URL not allowed", $"'{uri.Host}' resolves to {refusal}.");
            }
        }

        if (addresses.Length == 0)
        {
            throw SwitchboardException.Invalid("unresolvable-url", "Webhook host not found", $"'{uri.Host}' has no addresses.");
        }

        return uri.AbsoluteUri;
    }

    /// <summary>The webhook settings in force, read per request so a reloaded one applies to the next.</summary>
    private static WebhookOptions Current(HttpContext context) => context.RequestServices.GetRequiredService<IOptionsMonitor<WebhookOptions>>().CurrentValue;

    private static WebhookEndpointView Required(WebhookEndpointView? view, string id) => view ?? throw NotFound(id);

    private static SwitchboardException NotFound(string id) =>
        SwitchboardException.NotFound("webhook-not-found", "Webhook not found", $"There is no webhook endpoint '{(id.Length > 64 ? id[..64] + "…" : id)}'.");

    private static WebhookEndpointResponse Describe(WebhookEndpointView view, string? secret, Hub hub)
    {
        var endpoint = view.Endpoint;
        var live = view.Live;
        // The running worker's progress and pending counts are taken in one lock, so they agree; the stored progress
        // lags them by a journal write.
        var progress = live?.Progress ?? endpoint.Progress;
        return new WebhookEndpointResponse(
            endpoint.Id,
            WebhookSecretProtection.Redact(endpoint.Url), // a password in the URL is never shown back
            endpoint.Topics,
            endpoint.Types,
            endpoint.Description,
            endpoint.Mode == WebhookMode.Ordered ? "ordered" : "parallel",
            endpoint.MaxInFlight,
            endpoint.RateLimitPerSecond is { } rate ? new WebhookRateLimitResponse(rate) : null,
            endpoint.Status.ToString().ToLowerInvariant(),
            endpoint.DisabledReason,
            new WebhookCircuitResponse(
                live?.Circuit switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half-open", _ => "closed" },
                live?.ConsecutiveFailures ?? 0,
                live?.CircuitOpenUntil),
            hub.FormatCursor(progress.AfterSeq),
            new WebhookCountsResponse(progress, live is null ? view.StoredPending : live.Pending + live.InFlight),
            progress.FailingSince,
            endpoint.CreatedAt,
            endpoint.UpdatedAt,
            secret,
            endpoint.PreviousSecretExpiresAt);
    }

    private static WebhookAttemptResponse Describe(WebhookAttempt attempt) => new(
        attempt.Id, attempt.Seq, attempt.Attempt, attempt.Time, attempt.Succeeded ? "succeeded" : "failed",
        attempt.StatusCode, Math.Round(attempt.LatencyMs, 3), attempt.Error, attempt.ResponseBody);

    private static IResult Json<T>(T value, int status) =>
        Results.Json(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)SwitchboardJsonContext.Wire.GetTypeInfo(typeof(T))!, statusCode: status);
}
