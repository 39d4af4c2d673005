using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace Switchboard.AspNetCore;

/// <summary>
/// Serves the JavaScript client (<c>clients/js/dist/client.js</c>, embedded at build time) at <c>/v1/client.js</c>,
/// so a page can <c>import { Switchboard } from '/v1/client.js'</c> with no build step. Cacheable: a strong ETag
/// (a hash of the bytes) and <c>no-cache</c>, so browsers keep it and revalidate with a 304 on each load.
/// </summary>
internal static class ClientScript
{
    public const string ResourceName = "Switchboard.ClientScript.client.js";

    private static readonly Lazy<(byte[] Bytes, string ETag)> Script = new(Load);

    /// <summary>The embedded file's bytes.</summary>
    public static byte[] Bytes => Script.Value.Bytes;

    /// <summary>The quoted strong ETag of the embedded file.</summary>
    public static string ETag => Script.Value.ETag;

    public static IResult Serve(HttpContext context)
    {
        var (bytes, etag) = Script.Value;
        var headers = context.Response.Headers;
        headers.ETag = etag;
        headers.CacheControl = "public, no-cache";
        // A module script from another origin needs CORS; the file holds no data, so any origin may load it.
        headers.AccessControlAllowOrigin = "*";
        headers.XContentTypeOptions = "nosniff";
        foreach (var candidate in context.Request.Headers.IfNoneMatch)
        {
            if (candidate is not null && candidate.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*"))
            {
                return Results.StatusCode(StatusCodes.Status304NotModified);
            }
        }

        return Results.Bytes(bytes, "text/javascript; charset=utf-8");
    }

    private static (byte[], string) Load()
    {
        using var stream = typeof(ClientScript).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing: build clients/js (npx tsc) and rebuild.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var bytes = copy.ToArray();
        return (bytes, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..32]}\"");
    }
}
