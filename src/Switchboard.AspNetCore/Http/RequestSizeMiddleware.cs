using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Switchboard.AspNetCore.Http;

/// <summary>Answers 414 and 431 problems for requests over <see cref="SwitchboardRequestLimits"/> that Kestrel let through.</summary>
internal sealed class RequestSizeMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        // As Kestrel counts them: "GET /target HTTP/1.1\r\n", and "Name: value\r\n" per header line.
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value + request.QueryString.Value;
        var line = request.Method.Length + target.Length + request.Protocol.Length + 4;
        if (line > SwitchboardRequestLimits.MaxRequestLineBytes)
        {
            return ProblemResponses.WriteAsync(context, HttpProblem.Protocol(StatusCodes.Status414UriTooLong, "uri-too-long", "URI too long",
                $"The request line has {line} bytes; the hub takes at most {SwitchboardRequestLimits.MaxRequestLineBytes}. " +
                "Subscribe to fewer or shorter topics, or to a pattern (orders.*), or over WebSocket, whose subscribe message has no such limit."));
        }

        var headers = 0;
        var lines = 0;
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                headers += name.Length + (value?.Length ?? 0) + 4;
                lines++;
            }
        }

        if (headers > SwitchboardRequestLimits.MaxRequestHeadersBytes)
        {
            return ProblemResponses.WriteAsync(context, HttpProblem.Protocol(StatusCodes.Status431RequestHeaderFieldsTooLarge, "request-headers-too-large", "Request headers too large",
                $"The request's headers have {headers} bytes; the hub takes at most {SwitchboardRequestLimits.MaxRequestHeadersBytes}."));
        }

        return lines > SwitchboardRequestLimits.MaxRequestHeaderCount
            ? ProblemResponses.WriteAsync(context, HttpProblem.Protocol(StatusCodes.Status431RequestHeaderFieldsTooLarge, "request-headers-too-large", "Request headers too large",
                $"The request has {lines} header lines; the hub takes at most {SwitchboardRequestLimits.MaxRequestHeaderCount}."))
            : next(context);
    }
}
