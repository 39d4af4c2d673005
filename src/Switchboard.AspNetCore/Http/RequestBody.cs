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

    private static SwitchboardException TooLarge(int maxBytes, string what) =>
        EventDraftValidator.PayloadTooLarge($"The {what} is larger than the limit of {maxBytes} bytes.");
}
