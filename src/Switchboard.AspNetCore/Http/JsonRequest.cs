using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>
/// A request body read into a source-generated DTO whose type refuses unknown members. The DTO names its own refusals,
/// so the problem a client gets for a wrong member is the feature's, in the feature's words.
/// </summary>
internal interface IJsonRequest<TSelf>
    where TSelf : class, IJsonRequest<TSelf>
{
    /// <summary>The source-generated contract of the DTO, from its feature's context.</summary>
    static abstract JsonTypeInfo<TSelf> TypeInfo { get; }

    /// <summary>The answer to a well-formed body that is not a JSON object.</summary>
    static abstract SwitchboardException NotAnObject();

    /// <summary>The answer to a member the DTO does not have.</summary>
    static abstract SwitchboardException UnknownMember(string name);

    /// <summary>The answer to a member of the DTO whose value has the wrong JSON type (or does not fit, like 1e400 for an int).</summary>
    static abstract SwitchboardException InvalidMember(string name);
}

/// <summary>Reads request bodies into <see cref="IJsonRequest{TSelf}"/> DTOs with the hub's codes for bad JSON.</summary>
/// <remarks>
/// The order of refusals is the one every hand-written reader had, and the publish path still has: bytes that are not
/// UTF-8 or not JSON are <c>malformed-json</c> whatever else is wrong; then a body that is not an object, or has a string
/// that is not text (a lone surrogate escape), is <c>invalid-body</c>; only then is the DTO read, so a type error can never
/// hide a syntax error further on. The first pass allocates nothing but the strings that are escaped.
/// </remarks>
internal static class JsonRequest
{
    /// <summary>Reads <paramref name="body"/>, which must be one JSON object, into <typeparamref name="T"/>.</summary>
    public static T Read<T>(byte[] body)
        where T : class, IJsonRequest<T>
    {
        Check(body, T.NotAnObject);
        try
        {
            // A body of one object never deserializes to null; the check above refused the literal null.
            return JsonSerializer.Deserialize(body, T.TypeInfo)!;
        }
        catch (JsonException ex)
        {
            throw Refusal<T>(ex.Path);
        }
    }

    /// <summary>
    /// The answer to a body that parsed but did not fit <typeparamref name="T"/>: the first member of the path names the
    /// culprit. A member the DTO has had a value of the wrong type (its path may go deeper, <c>$.topics[0]</c>); any other
    /// was unknown, which is where <see cref="System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow"/> stops.
    /// </summary>
    internal static SwitchboardException Refusal<T>(string? path)
        where T : class, IJsonRequest<T>
    {
        if (FirstMember(path) is not { } member)
        {
            return T.NotAnObject();
        }

        foreach (var property in T.TypeInfo.Properties)
        {
            if (property.Name == member)
            {
                return T.InvalidMember(member);
            }
        }

        return T.UnknownMember(member);
    }

    /// <summary>
    /// The name of the top-level member a System.Text.Json path starts with: <c>url</c> in <c>$.url</c> and
    /// <c>$.topics[0]</c>, <c>a b</c> in <c>$['a b']</c>. Names the serializer brackets are never a DTO's (those are
    /// camelCase words), so a bracketed name is an unknown member and the path ends with it.
    /// </summary>
    internal static string? FirstMember(string? path)
    {
        if (path is null)
        {
            return null;
        }

        if (path.StartsWith("$['", StringComparison.Ordinal))
        {
            var end = path.LastIndexOf("']", StringComparison.Ordinal);
            return end > 3 ? path[3..end] : null;
        }

        if (path.StartsWith("$.", StringComparison.Ordinal) && path.Length > 2)
        {
            var rest = path.AsSpan(2);
            var end = rest.IndexOfAny('.', '[');
            return (end < 0 ? rest : rest[..end]).ToString();
        }

        return null;
    }

    /// <summary>Checks that <paramref name="body"/> is UTF-8 JSON, one object, with every string readable as text.</summary>
    private static void Check(ReadOnlySpan<byte> body, Func<SwitchboardException> notAnObject)
    {
        JsonWire.ThrowIfNotUtf8(body);
        var reader = new Utf8JsonReader(body, JsonWire.ReaderOptions);
        var first = JsonTokenType.None;
        var unreadable = false;
        try
        {
            while (reader.Read())
            {
                if (first == JsonTokenType.None)
                {
                    first = reader.TokenType;
                }

                // Only an escaped string can hold a lone surrogate; reading it as text is the one way to find out.
                if (!unreadable && reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                {
                    try
                    {
                        reader.GetString();
                    }
                    catch (InvalidOperationException ex) when (JsonWire.IsUnreadableString(ex))
                    {
                        unreadable = true;
                    }
                }
            }
        }
        catch (JsonException ex)
        {
            throw JsonWire.Malformed(ex);
        }

        if (first != JsonTokenType.StartObject)
        {
            throw notAnObject();
        }

        if (unreadable)
        {
            throw JsonWire.InvalidString();
        }
    }
}
