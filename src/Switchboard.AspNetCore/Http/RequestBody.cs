using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Switchboard.Events;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>Reads a request body into memory without ever holding more than the limit.</summary>
internal static class RequestBody
{
    public static async Task<byte[]> ReadAsync(HttpRequest request, int maxBytes, string what, CancellationToken cancellationToken)
    {
        if (request.Headers.ContentEncoding.Count > 0 && !IsIdentity(request.Headers.ContentEncoding))
        {
            // The hub decodes no content coding. Read as sent, a gzip body would be refused as "not UTF-8", and a body
            // that claims a coding it does not have would be stored; RFC 9110 (15.5.16) answers such a body with 415 and
            // an Accept-Encoding naming what is taken.
            request.HttpContext.Response.Headers.AcceptEncoding = "identity";
            throw new HttpProblemException(HttpProblem.Protocol(StatusCodes.Status415UnsupportedMediaType, "unsupported-content-encoding", "Unsupported content encoding",
                $"The body is sent with Content-Encoding '{Printable(request.Headers.ContentEncoding.ToString())}'; the hub reads bodies uncompressed only (identity). Send it without a Content-Encoding."));
        }

        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes, what);
        }

        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length > maxBytes)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                throw TooLarge(maxBytes, what);
            }

            if (result.IsCompleted)
            {
                var bytes = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return bytes;
            }

            // Consume nothing yet: ask for more until the whole body is buffered.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static bool IsIdentity(Microsoft.Extensions.Primitives.StringValues encodings)
    {
        foreach (var value in encodings)
        {
            foreach (var coding in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!coding.Equals("identity", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static string Printable(string value) => value.Length > 64 ? value[..64] + "…" : value;

    private static SwitchboardException TooLarge(int maxBytes, string what) =>
        EventDraftValidator.PayloadTooLarge($"The {what} is larger than the limit of {maxBytes} bytes.");
}
