using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.OpenApi;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Keys;

/// <summary>An API key to create.</summary>
/// <remarks>Also the OpenAPI document's request schema, so the doc comments are what API users read.</remarks>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class CreateKeyBody : IJsonRequest<CreateKeyBody>
{
    public const int MaxNameLength = 100;
    public const int MaxItems = 100;

    /// <summary>A label, up to 100 characters.</summary>
    // Given-tracking: "name": null was always a refusal, not the absence of a name.
    [NeverNull]
    public string? Name { get; set { field = value; NameGiven = true; } }

    /// <summary>One or more of <c>publish</c>, <c>subscribe</c>, <c>worker</c>, <c>admin</c>.</summary>
    [NeverNull]
    public List<string?>? Scopes { get; set { field = value; ScopesGiven = true; } }

    /// <summary>Topic patterns the key is limited to, up to 100; none means every topic.</summary>
    [NeverNull]
    public List<string?>? Topics { get; set { field = value; TopicsGiven = true; } }

    internal bool NameGiven { get; private set; }

    internal bool ScopesGiven { get; private set; }

    internal bool TopicsGiven { get; private set; }

    public static JsonTypeInfo<CreateKeyBody> TypeInfo => KeyJsonContext.Default.CreateKeyBody;

    public static SwitchboardException NotAnObject() =>
        SwitchboardException.Invalid("invalid-body", "Invalid key request", "Send {\"scopes\": [\"publish\"], \"topics\": [\"orders.>\"], \"name\": \"billing\"}.");

    // A wrong member and a wrong value were always the one refusal, so a client branches on one code.
    public static SwitchboardException UnknownMember(string name) =>
        SwitchboardException.Invalid("invalid-body", "Invalid key request",
            $"Unknown or invalid property \"{name}\"; a key request has \"scopes\", \"topics\" and \"name\" (up to {MaxNameLength} characters).");

    public static SwitchboardException InvalidMember(string name) => name switch
    {
        "name" => UnknownMember(name),
        _ => InvalidList(name),
    };

    public static SwitchboardException InvalidList(string name) =>
        SwitchboardException.Invalid("invalid-body", "Invalid key request", $"\"{name}\" must be an array of up to {MaxItems} strings.");
}

/// <summary>
/// Source-generated reading of the key request body. Not the web defaults: those read names in any case, which this
/// API has never accepted.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(CreateKeyBody))]
internal sealed partial class KeyJsonContext : JsonSerializerContext;
