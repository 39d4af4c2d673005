using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>
/// One query parameter read straight from the raw query string. <c>Request.Query</c> builds a dictionary of every
/// parameter that the HttpContext keeps until the request ends, which for a stream, a WebSocket or a held poll is its
/// whole life; the paths that stay open read their few parameters this way instead.
/// </summary>
internal static class QueryValues
{
    /// <summary>Every value of <paramref name="name"/> (matched without regard to case, as <c>Request.Query</c> does), decoded.</summary>
    public static StringValues Get(HttpRequest request, string name)
    {
        var query = request.QueryString.Value;
        if (string.IsNullOrEmpty(query))
        {
            return StringValues.Empty;
        }

        var values = StringValues.Empty;
        foreach (var pair in new QueryStringEnumerable(query))
        {
            if (pair.DecodeName().Span.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                values = StringValues.Concat(values, pair.DecodeValue().ToString());
            }
        }

        return values;
    }

    /// <summary>
    /// The value of a parameter that takes one value, or null when absent. Given twice (<c>limit=1&amp;limit=2</c>) it is
    /// a 400 with the parameter's own code that says so: read as one string the values joined with a comma, and the
    /// answer blamed the format ("limit must be a whole number") of a value the client had written correctly.
    /// </summary>
    public static string? Single(HttpRequest request, string name, string code, string title)
    {
        var values = Get(request, name);
        return values.Count <= 1
            ? values.ToString()
            : throw SwitchboardException.Invalid(code, title,
                $"{name} is given {values.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)} times; give it once.");
    }
}
