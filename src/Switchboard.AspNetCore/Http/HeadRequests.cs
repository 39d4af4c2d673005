using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Switchboard.AspNetCore.Http;

/// <summary>
/// HEAD, which HTTP requires of every resource that answers GET (RFC 9110, 9.3.2): the same status and headers, no
/// body. Kestrel sends no body for a HEAD request whatever the handler writes, so a document's GET handler serves its
/// HEAD as it is. Streams (Server-Sent Events, the WebSocket upgrade) are left out: their GET never finishes, so HEAD
/// on them is 405 with <c>Allow: GET</c>.
/// </summary>
internal static class HeadRequests
{
    /// <summary>Lets HEAD reach every GET endpoint built through <paramref name="builder"/> that answers with a document.</summary>
    public static TBuilder AnswerHead<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        // Finally: the endpoint's own conventions (its Produces, which say whether it streams) have run by then.
        builder.Finally(static endpoint =>
        {
            if (endpoint.Metadata.OfType<IHttpMethodMetadata>().LastOrDefault() is { HttpMethods: [var only] } methods
                && HttpMethods.IsGet(only) && !Streams(endpoint.Metadata))
            {
                endpoint.Metadata.Add(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head], methods.AcceptCorsPreflight));
            }
        });
        return builder;
    }

    /// <summary>
    /// <paramref name="allowed"/> (an <c>Allow</c> value) with HEAD beside GET, unless the path is a stream. For the
    /// 405 answered to a method no endpoint takes.
    /// </summary>
    public static string WithHead(string allowed, IReadOnlyList<string> segments) =>
        segments is [.., "stream" or "ws"] || !allowed.Split(", ").Contains(HttpMethods.Get) ? allowed : allowed.Replace(HttpMethods.Get, "GET, HEAD", StringComparison.Ordinal);

    /// <summary>Leaves HEAD out of the OpenAPI document: it is GET without the body, and would repeat every GET operation.</summary>
    public static bool Describes(Microsoft.AspNetCore.Mvc.ApiExplorer.ApiDescription description) => !HttpMethods.IsHead(description.HttpMethod ?? "");

    private static bool Streams(IList<object> metadata) => metadata.OfType<Microsoft.AspNetCore.Http.Metadata.IProducesResponseTypeMetadata>()
        .Any(produces => produces.StatusCode == StatusCodes.Status101SwitchingProtocols || produces.ContentTypes.Contains(ApiContractConventions.EventStream));
}
