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
            var result = await ReadBodyAsync(reader, cancellationToken);
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

    /// <summary>
    /// One read of the body. Kestrel reports most broken framing as <see cref="BadHttpRequestException"/>, which the
    /// problem mapping answers 400, but a chunk size past 32 bits as a plain <see cref="IOException"/> ("Bad chunk size
    /// data.", an OverflowException inside), which was an unhandled 500 with an empty body. Any other failure to read the
    /// client's bytes is the client's too (a reset connection gets no answer anyway).
    /// </summary>
    private static async ValueTask<ReadResult> ReadBodyAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadAsync(cancellationToken);
        }
        catch (IOException ex) when (ex is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            throw new HttpProblemException(HttpProblem.Protocol(StatusCodes.Status400BadRequest, "bad-request", "Bad request",
                $"The request body could not be read: {ex.Message}"));
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
