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
            .AcceptsJson<CreateKeyContract>().Produces<KeyContract>(201).Problems(400);
        keys.MapGet("/", ListAsync).WithName("ListKeys").WithSummary("The API keys, without their secrets")
            .Produces<KeyListContract>(200);
        keys.MapDelete("/{id}", DeleteAsync).WithName("RevokeKey").WithSummary("Revoke an API key")
            .Produces(204).Problems(404);
    }

    private static async Task CreateAsync(HttpContext context, IApiKeyStore store, SwitchboardAuthenticator authenticator, TimeProvider time)
    {
        var body = await RequestBody.ReadAsync(context.Request, 16 * 1024, "key request", context.RequestAborted);
        using var document = JsonWire.ParseBody(body);
        var (name, scopes, topics) = JsonWire.GuardStrings(() => ReadRequest(document.RootElement));
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

    /// <summary>Validates a create request: <c>{"scopes": [...], "topics": [...], "name": "..."}</c>.</summary>
    internal static (string? Name, string[] Scopes, string[] Topics) ReadRequest(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw SwitchboardException.Invalid("invalid-body", "Invalid key request", "Send {\"scopes\": [\"publish\"], \"topics\": [\"orders.>\"], \"name\": \"billing\"}.");
        }

        string? name = null;
        string[]? scopes = null;
        string[] topics = [];
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "name" when property.Value.ValueKind == JsonValueKind.String && property.Value.GetString()!.Length <= 100:
                    name = property.Value.GetString();
                    break;
                case "scopes":
                    scopes = Strings(property.Value, "scopes");
                    break;
                case "topics":
                    topics = Strings(property.Value, "topics");
                    break;
                default:
                    throw SwitchboardException.Invalid("invalid-body", "Invalid key request",
                        $"Unknown or invalid property \"{property.Name}\"; a key request has \"scopes\", \"topics\" and \"name\" (up to 100 characters).");
            }
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

        return (name, scopes, topics);
    }

    private static string[] Strings(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Array && value.GetArrayLength() <= 100 && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String)
            ? value.EnumerateArray().Select(e => e.GetString()!).ToArray()
            : throw SwitchboardException.Invalid("invalid-body", "Invalid key request", $"\"{name}\" must be an array of up to 100 strings.");

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
        writer.WriteString("createdAt", key.CreatedAt);
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
