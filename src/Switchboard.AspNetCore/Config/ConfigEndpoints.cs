using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.OpenApi;
using Switchboard.AspNetCore.Polling;
using Switchboard.Auth;
using Switchboard.Config;
using Switchboard.Hubs;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Config;

/// <summary>The config API under <c>/v1/config</c>: versioned app settings, long polls and multi-app watches.</summary>
internal static class ConfigEndpoints
{
    private const int MaxHistoryLimit = 1000;
    private const int DefaultHistoryLimit = 20;

    public static void Map(RouteGroupBuilder api)
    {
        // An app's settings are read like its topic config.{app} (subscribe); writes are admin.
        const string Writing = "Changing config";
        // The app name's shape is checked before anything else (the group's filter runs before the endpoints' access
        // filters): a malformed name is 400 invalid-app for every caller, not a 403 for a topic that cannot exist.
        var config = api.MapGroup("/config").WithTags("Config")
            .ValidatesRouteValue("app", static (context, app) => ConfigSettings.ValidateApp(app, context.Options<ConfigOptions>()));
        config.MapGet("/", WatchAsync).WithName("WatchConfig").WithSummary("Long poll many apps: ?watch=app1:N1,app2:N2&wait=60").HoldsConnection()
            .Query(("watch", "The apps and the versions held: app1:N1,app2:N2."), ("wait", "Hold up to this many seconds for a change.")).Produces<ConfigChangesContract>(200).Produces(304).Problems(400);
        config.MapGet("/{app}", GetAsync).WithName("GetConfig").WithSummary("An app's settings; ?version=N&wait=60 long polls for a newer version")
            .RequireRead("app", ConfigService.TopicPrefix).HoldsConnection()
            .Query(("version", "The version held; with wait=, the answer is held until a newer one exists."), ("wait", "Hold up to this many seconds for a newer version."))
            .RequestHeaders(RequestHeader.IfNoneMatch("Without version=: the ETag of the version held (or *), answered 304 Not Modified while it is current. Ignored with version=, which says what is held."))
            .Produces<ConfigContract>(200).Produces(304).Problems(400, 404);
        config.MapPut("/{app}", PutAsync).WithName("PutConfig").WithSummary("Replace an app's settings with a JSON object (a new version)").RequireScope(ApiKeyScopes.Admin, Writing)
            .AcceptsJson<JsonElement>().RequestHeaders(RequestHeader.IfMatch, RequestHeader.IfNoneMatchWrite).Produces<ConfigContract>(200).Produces<ConfigContract>(201).Problems(400, 409, 412);
        config.MapMethods("/{app}", ["PATCH"], PatchAsync).WithName("PatchConfig").WithSummary("Merge keys into an app's settings (JSON merge patch, RFC 7396)").RequireScope(ApiKeyScopes.Admin, Writing)
            .AcceptsJson<JsonElement>(false, "application/merge-patch+json", ApiContractConventions.Json).RequestHeaders(RequestHeader.IfMatch, RequestHeader.IfNoneMatchWrite).Produces<ConfigContract>(200).Produces<ConfigContract>(201).Problems(400, 404, 409, 412);
        config.MapDelete("/{app}/keys/{key}", DeleteKeyAsync).WithName("DeleteConfigKey").WithSummary("Remove one key (a new version)").RequireScope(ApiKeyScopes.Admin, Writing)
            .RequestHeaders(RequestHeader.IfMatch, RequestHeader.IfNoneMatchWrite).Produces<ConfigContract>(200).Problems(400, 404, 409, 412);
        config.MapGet("/{app}/history", HistoryAsync).WithName("ConfigHistory").WithSummary("An app's versions, newest first").RequireRead("app", ConfigService.TopicPrefix)
            .Query(("limit", "At most this many versions (default 20).")).Produces<ConfigHistoryContract>(200).Problems(400, 404);
    }

    /// <summary>The methods of each config path, for 405 answers.</summary>
    public static string? AllowedMethods(string[] segments) => segments switch
    {
        ["config"] => "GET",
        ["config", _] => "GET, PUT, PATCH",
        ["config", _, "history"] => "GET",
        ["config", _, "keys", _] => "DELETE",
        _ => null,
    };

    private static async Task GetAsync(string app, HttpContext context, ConfigService service, IOptionsMonitor<ConfigOptions> config, IOptionsMonitor<PollingOptions> polling, IHostApplicationLifetime lifetime)
    {
        ConfigSettings.ValidateApp(app, config.CurrentValue);
        await service.EnsureLoadedAsync().WaitAsync(context.RequestAborted);
        var query = context.Request.Query;
        var wait = WaitParameter.Parse(query["wait"], polling.CurrentValue.MaxWait);
        if (StringValues.IsNullOrEmpty(query["version"]))
        {
            if (wait > TimeSpan.Zero)
            {
                throw SwitchboardException.Invalid("missing-version", "Missing version",
                    "A long poll needs the version you hold: ?version=N&wait=60 (0 when you hold none).");
            }

            var current = service.Get(app) ?? throw ConfigSettings.AppNotFound(app);
            if (IfNoneMatch(context.Request, current.ETag))
            {
                NotModified(context.Response, current.ETag);
                return;
            }

            await WriteVersionAsync(context, current);
            return;
        }

        var known = ParseVersion(query["version"].ToString(), "version");
        var answer = await AwaitChangeAsync(service, [new ConfigWatch(app, known)], wait, context, lifetime);
        if (answer.Count == 0)
        {
            NotModified(context.Response, service.Get(app)?.ETag);
            return;
        }

        // A newer version, or an older one when the store was reset under the client: either way the client takes it.
        await WriteVersionAsync(context, service.Get(app) ?? throw ConfigSettings.AppNotFound(app));
    }

    private static async Task WatchAsync(HttpContext context, ConfigService service, IOptionsMonitor<ConfigOptions> config, IOptionsMonitor<PollingOptions> polling, IHostApplicationLifetime lifetime)
    {
        var query = context.Request.Query;
        var watches = ParseWatches(query["watch"], config.CurrentValue);
        var caller = Caller.Of(context);
        foreach (var watch in watches)
        {
            caller.RequireSubscribe(ConfigService.TopicPrefix + watch.App);
        }

        var wait = WaitParameter.Parse(query["wait"], polling.CurrentValue.MaxWait);
        await service.EnsureLoadedAsync().WaitAsync(context.RequestAborted);
        var changed = await AwaitChangeAsync(service, watches, wait, context, lifetime);
        if (changed.Count == 0)
        {
            NotModified(context.Response, null);
            return;
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(response.BodyWriter, JsonWire.Compact);
        writer.WriteStartObject();
        writer.WriteStartArray("changes");
        foreach (var watch in changed)
        {
            if (service.Get(watch.App) is { } version)
            {
                ConfigService.Write(writer, version);
            }
            else
            {
                // The app has no settings (the store was reset): version 0, empty values.
                writer.WriteStartObject();
                writer.WriteString("app", watch.App);
                writer.WriteNumber("version", 0);
                writer.WriteStartObject("values");
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    /// <summary>
    /// The watches whose app is at another version than the client holds, held up to <paramref name="wait"/> for one;
    /// on shutdown the poll is answered at once with what changed so far. Empty means the caller answers 304.
    /// </summary>
    private static Task<IReadOnlyList<ConfigWatch>> AwaitChangeAsync(ConfigService service, IReadOnlyList<ConfigWatch> watches, TimeSpan wait, HttpContext context, IHostApplicationLifetime lifetime) =>
        service.AwaitChangeAsync(watches, wait, lifetime.ApplicationStopping, context.RequestAborted);

    private static async Task PutAsync(string app, HttpContext context, ConfigService service, IOptionsMonitor<ConfigOptions> config)
    {
        ConfigSettings.ValidateApp(app, config.CurrentValue);
        var result = await service.ReplaceAsync(app, await ReadObjectAsync(context, config.CurrentValue), Precondition(context.Request), context.RequestAborted);
        await WriteVersionAsync(context, result.Version, result.Changed && result.Version.Version == 1 ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task PatchAsync(string app, HttpContext context, ConfigService service, IOptionsMonitor<ConfigOptions> config)
    {
        ConfigSettings.ValidateApp(app, config.CurrentValue);
        var result = await service.PatchAsync(app, await ReadObjectAsync(context, config.CurrentValue), Precondition(context.Request), context.RequestAborted);
        await WriteVersionAsync(context, result.Version, result.Changed && result.Version.Version == 1 ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task DeleteKeyAsync(string app, string key, HttpContext context, ConfigService service)
    {
        var result = await service.RemoveKeyAsync(app, key, Precondition(context.Request), context.RequestAborted);
        await WriteVersionAsync(context, result.Version);
    }

    private static async Task HistoryAsync(string app, HttpContext context, ConfigService service, IOptionsMonitor<ConfigOptions> config)
    {
        ConfigSettings.ValidateApp(app, config.CurrentValue);
        var limit = DefaultHistoryLimit;
        if (context.Request.Query["limit"].ToString() is { Length: > 0 } text
            && (!WholeNumber.TryParse(text, out limit) || limit is < 1 or > MaxHistoryLimit))
        {
            throw SwitchboardException.Invalid("invalid-limit", "Invalid limit", $"limit must be a whole number from 1 to {MaxHistoryLimit}.");
        }

        await service.EnsureLoadedAsync().WaitAsync(context.RequestAborted);
        if (service.Get(app) is null)
        {
            throw ConfigSettings.AppNotFound(app);
        }

        var versions = await service.HistoryAsync(app, limit, context.RequestAborted);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(response.BodyWriter, JsonWire.Compact);
        writer.WriteStartObject();
        writer.WriteString("app", app);
        writer.WriteStartArray("versions");
        foreach (var version in versions)
        {
            ConfigService.Write(writer, version);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    /// <summary>The settings object of a PUT or the merge patch of a PATCH.</summary>
    /// <remarks>
    /// No request DTO: the body's members are the app's own setting names, so there is no fixed shape whose unknown
    /// members could be refused. Keys, flag rollouts and size are checked in <see cref="ConfigSettings.Canonical"/> instead.
    /// </remarks>
    private static async Task<JsonObject> ReadObjectAsync(HttpContext context, ConfigOptions options)
    {
        var contentType = context.Request.ContentType;
        if (!string.IsNullOrEmpty(contentType) && !IsJson(contentType))
        {
            throw new HttpProblemException(HttpProblem.Protocol(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
                "Send the settings as application/json (or application/merge-patch+json for PATCH)."));
        }

        var body = await RequestBody.ReadAsync(context.Request, options.MaxBytes, "settings object", context.RequestAborted);
        // Unique names: a JsonObject built from an object with a repeated key threw, a 500.
        using var document = JsonWire.ParseBody(body.Length == 0 ? "null"u8.ToArray() : body, uniqueNames: true);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw SwitchboardException.Invalid("invalid-body", "Invalid settings", "The body must be a JSON object of settings, such as {\"darkMode\": true}.");
        }

        return JsonObject.Create(document.RootElement.Clone())!;
    }

    private static bool IsJson(string contentType)
    {
        var mediaType = contentType.Split(';', 2)[0].Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static long ParseVersion(string text, string name)
    {
        if (!WholeNumber.TryParse(text, out long version))
        {
            throw SwitchboardException.Invalid("invalid-version", "Invalid version", $"{name} must be a whole number: the version you hold, 0 for none.");
        }

        return version;
    }

    private static List<ConfigWatch> ParseWatches(StringValues values, ConfigOptions options)
    {
        var max = options.MaxWatchApps;
        var watches = new List<ConfigWatch>();
        foreach (var value in values)
        {
            foreach (var item in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var colon = item.LastIndexOf(':');
                var app = colon < 0 ? item : item[..colon];
                ConfigSettings.ValidateApp(app, options);
                var version = colon < 0 ? 0 : ParseVersion(item[(colon + 1)..], $"The version of '{ConfigSettings.Truncate(app)}'");
                if (watches.Any(w => w.App == app))
                {
                    throw SwitchboardException.Invalid("invalid-watch", "App watched twice", $"'{ConfigSettings.Truncate(app)}' appears twice in watch.");
                }

                watches.Add(new ConfigWatch(app, version));
                if (watches.Count > max)
                {
                    throw SwitchboardException.Invalid("invalid-watch", "Too many apps", $"A watch may name at most {max} apps.");
                }
            }
        }

        if (watches.Count == 0)
        {
            throw SwitchboardException.Invalid("invalid-watch", "Nothing to watch", "Name the apps and the versions you hold: ?watch=app1:3,app2:0&wait=60.");
        }

        return watches;
    }

    /// <summary>
    /// The write's If-Match and If-None-Match, or null without either. They were ignored, so a client that read a version
    /// and sent If-Match with its ETag silently overwrote whatever another writer had stored since.
    /// </summary>
    private static ConfigPrecondition? Precondition(HttpRequest request)
    {
        var ifMatch = EntityTags(request.Headers.IfMatch);
        var ifNoneMatch = EntityTags(request.Headers.IfNoneMatch);
        return ifMatch is null && ifNoneMatch is null ? null : new ConfigPrecondition(ifMatch, ifNoneMatch);
    }

    /// <summary>The comma-separated entity tags of a header (an ETag holds no comma), or null when it is absent or empty.</summary>
    private static List<string>? EntityTags(StringValues values)
    {
        List<string>? tags = null;
        foreach (var value in values)
        {
            foreach (var tag in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                (tags ??= []).Add(tag);
            }
        }

        return tags;
    }

    private static bool IfNoneMatch(HttpRequest request, string etag) =>
        request.Headers.IfNoneMatch.Any(value => value is not null && value.Split(',').Any(tag => tag.Trim() is var t && (t == etag || t == "W/" + etag || t == "*")));

    private static void NotModified(HttpResponse response, string? etag)
    {
        response.StatusCode = StatusCodes.Status304NotModified;
        response.Headers.CacheControl = "no-cache";
        if (etag is not null)
        {
            response.Headers.ETag = etag;
        }
    }

    private static async Task WriteVersionAsync(HttpContext context, ConfigVersion version, int status = StatusCodes.Status200OK)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        // Revalidate every time: the ETag makes that a 304 when nothing changed.
        response.Headers.CacheControl = "no-cache";
        response.Headers.ETag = version.ETag;
        response.Headers["X-Config-Version"] = version.Version.ToString(CultureInfo.InvariantCulture);
        await using var writer = new Utf8JsonWriter(response.BodyWriter, JsonWire.Compact);
        ConfigService.Write(writer, version);
        await writer.FlushAsync(context.RequestAborted);
    }
}
