using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.OpenApi;
using Switchboard.Auth;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Keys;

/// <summary>
/// <c>/v1/keys</c>: create, list and revoke API keys (admin). A new key is shown once, in the create answer; the hub
/// keeps only its hash.
/// </summary>
internal static class KeyEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var keys = api.MapGroup("/keys").WithTags("Keys").RequireScope(ApiKeyScopes.Admin, "Managing API keys");
        keys.MapPost("/", CreateAsync).WithName("CreateKey").WithSummary("Create an API key; the answer is the only time the key is shown")
            .AcceptsJson<CreateKeyBody>().Produces<KeyContract>(201).Problems(400);
        keys.MapGet("/", ListAsync).WithName("ListKeys").WithSummary("The API keys, without their secrets")
            .Produces<KeyListContract>(200);
        keys.MapDelete("/{id}", DeleteAsync).WithName("RevokeKey").WithSummary("Revoke an API key")
            .Produces(204).Problems(404);
    }

    private static async Task CreateAsync(HttpContext context, IApiKeyStore store, SwitchboardAuthenticator authenticator, TimeProvider time)
    {
        var body = await RequestBody.ReadAsync(context.Request, 16 * 1024, "key request", context.RequestAborted);
        var (name, scopes, topics) = Validate(JsonRequest.Read<CreateKeyBody>(body));
        var (key, secret) = ApiKey.Create(name, scopes, topics, time.GetUtcNow());
        await store.AddAsync(key, context.RequestAborted);
        authenticator.KeysChanged();
        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.Headers.Location = $"keys/{key.Id}";
        await WriteAsync(context, writer => Write(writer, key, secret));
    }

    private static async Task ListAsync(HttpContext context, IApiKeyStore store)
    {
        var keys = await store.ListAsync(context.RequestAborted);
        await WriteAsync(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var key in keys)
            {
                Write(writer, key, null);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    private static async Task DeleteAsync(HttpContext context, string id, IApiKeyStore store, SwitchboardAuthenticator authenticator)
    {
        if (!await store.DeleteAsync(id, context.RequestAborted))
        {
            throw SwitchboardException.NotFound("key-not-found", "API key not found", $"No API key has id '{id}'.");
        }

        authenticator.KeysChanged();
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>
    /// The value rules of a create request, <c>{"scopes": [...], "topics": [...], "name": "..."}</c>: the shape of each
    /// member first, then the scopes, then the topic patterns.
    /// </summary>
    internal static (string? Name, string[] Scopes, string[] Topics) Validate(CreateKeyBody body)
    {
        if (body.NameGiven && body.Name is not { Length: <= CreateKeyBody.MaxNameLength })
        {
            throw CreateKeyBody.UnknownMember("name");
        }

        var scopes = body.ScopesGiven ? Strings(body.Scopes, "scopes") : null;
        var topics = body.TopicsGiven ? Strings(body.Topics, "topics") : [];
        if (body.TopicsGiven && topics.Length == 0)
        {
            // A key stores "no topics" as "every topic" (what omitting the member means), so an explicit empty list, the
            // natural spelling of "none" (and what a filter that matched nothing produces), made an unrestricted key
            // whose listing then showed "topics": [].
            throw SwitchboardException.Invalid("invalid-body", "Invalid key request",
                "\"topics\" is an empty list. It cannot mean \"no topics\" (a key without topics may use every topic), so it is refused: omit \"topics\" for every topic, or name at least one pattern.");
        }

        if (scopes is not { Length: > 0 } || scopes.Any(s => !ApiKeyScopes.All.Contains(s)))
        {
            throw SwitchboardException.Invalid("invalid-scopes", "Invalid scopes", $"\"scopes\" lists one or more of {string.Join(", ", ApiKeyScopes.All)}.");
        }

        foreach (var topic in topics)
        {
            if (TopicPattern.TryParse(topic, 1024, out var error) is null)
            {
                throw SwitchboardException.Invalid("invalid-topic", "Invalid topic pattern", error!);
            }
        }

        return (body.Name, scopes, topics);
    }

    private static string[] Strings(List<string?>? value, string name) =>
        value is { Count: <= CreateKeyBody.MaxItems } && !value.Contains(null)
            ? [.. value.Select(item => item!)]
            : throw CreateKeyBody.InvalidList(name);

    private static void Write(Utf8JsonWriter writer, ApiKey key, string? secret)
    {
        writer.WriteStartObject();
        writer.WriteString("id", key.Id);
        if (secret is not null)
        {
            writer.WriteString("key", secret);
        }

        writer.WriteString("hint", key.Hint + "…");
        if (key.Name is not null)
        {
            writer.WriteString("name", key.Name);
        }

        writer.WriteStartArray("scopes");
        foreach (var scope in key.Scopes)
        {
            writer.WriteStringValue(scope);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("topics");
        foreach (var topic in key.Topics)
        {
            writer.WriteStringValue(topic);
        }

        writer.WriteEndArray();
        writer.WriteString("createdAt", Switchboard.Events.WireTime.Format(key.CreatedAt));
        writer.WriteEndObject();
    }

    private static async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, JsonWire.Compact);
        write(writer);
        await writer.FlushAsync(context.RequestAborted);
    }
}
