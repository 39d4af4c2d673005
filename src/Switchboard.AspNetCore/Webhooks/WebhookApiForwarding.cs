using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Http;
using Switchboard.Problems;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Webhooks;

/// <summary>
/// With several nodes, each endpoint is delivered, and held in memory (live status, circuits, counts), by the node
/// that holds its partition; the others forward the API calls about it there, so a client may call any node, as with
/// every other endpoint. A new endpoint goes to a partition drawn at random, so endpoints spread over the nodes
/// whichever node the client calls; the list gathers every node's endpoints.
/// </summary>
internal sealed class WebhookForwardingFilter : IEndpointFilter
{
    private static readonly object PartitionItem = new();

    /// <summary>The partition this request's create was routed to, when the hub has several nodes.</summary>
    public static int? ChosenPartition(HttpContext context) => context.Items.TryGetValue(PartitionItem, out var value) ? (int?)value : null;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var dispatcher = http.RequestServices.GetRequiredService<WebhookDispatcher>();
        if (!dispatcher.Partitions.IsShared)
        {
            return await next(context);
        }

        var forwarded = ForwardingMark.Read(http.Request, dispatcher.Partitions.ForwardingKey.Span, out var markedPartition);
        var name = http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName;
        if (name == "ListWebhooks")
        {
            // A forwarded list asks for this node's own endpoints only.
            return forwarded ? await next(context) : await GatherAsync(context, next, dispatcher);
        }

        WebhookPartitionHolder route;
        int partition;
        if (name == "CreateWebhook")
        {
            if (forwarded)
            {
                partition = markedPartition;
                route = dispatcher.RouteOf(partition);
            }
            else
            {
                (partition, route) = Draw(dispatcher);
            }
        }
        else
        {
            var id = http.GetRouteValue("id") as string ?? "";
            partition = dispatcher.PartitionOf(id);
            route = dispatcher.RouteOf(partition);
        }

        if (route.IsThisNode)
        {
            http.Items[PartitionItem] = partition;
            return await next(context);
        }

        if (forwarded || route.Address is not { Length: > 0 } address)
        {
            // Nobody holds the partition right now (a node joined or left), or the node we forwarded to lost it on the way.
            throw WebhookDispatcher.PartitionMoving();
        }

        await http.RequestServices.GetRequiredService<WebhookApiForwarder>().ForwardAsync(http, address, name == "CreateWebhook" ? partition : ForwardingMark.NoPartition);
        return Results.Empty;
    }

    /// <summary>A partition drawn at random among those some node serves now.</summary>
    private static (int Partition, WebhookPartitionHolder Route) Draw(WebhookDispatcher dispatcher)
    {
        var served = new List<(int, WebhookPartitionHolder)>(dispatcher.Partitions.Count);
        for (var partition = 0; partition < dispatcher.Partitions.Count; partition++)
        {
            var route = dispatcher.RouteOf(partition);
            if (route.IsThisNode || route.Address is { Length: > 0 })
            {
                served.Add((partition, route));
            }
        }

        return served.Count > 0 ? served[Random.Shared.Next(served.Count)] : (-1, WebhookPartitionHolder.Nobody);
    }

    /// <summary>This node's endpoints and every other holder's, in creation order, as one list.</summary>
    private static async ValueTask<object?> GatherAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, WebhookDispatcher dispatcher)
    {
        var http = context.HttpContext;
        var addresses = new HashSet<string>(StringComparer.Ordinal);
        for (var partition = 0; partition < dispatcher.Partitions.Count; partition++)
        {
            var route = dispatcher.RouteOf(partition);
            if (route.Address is { } address)
            {
                addresses.Add(address);
            }
            else if (!route.IsThisNode)
            {
                throw WebhookDispatcher.PartitionMoving(); // a partition's endpoints cannot be listed by anyone right now
            }
        }

        var local = await next(context);
        if (addresses.Count == 0 || local is not IValueHttpResult<WebhookListResponse> { Value: { } list })
        {
            return local;
        }

        var forwarder = http.RequestServices.GetRequiredService<WebhookApiForwarder>();
        var remote = await Task.WhenAll(addresses.Select(address => forwarder.FetchAsync(http, address)));
        var items = new List<(DateTimeOffset CreatedAt, string Id, JsonElement Item)>();
        var documents = new List<JsonDocument>();
        try
        {
            foreach (var body in remote)
            {
                var document = JsonDocument.Parse(body);
                documents.Add(document);
                foreach (var item in document.RootElement.GetProperty("data").EnumerateArray())
                {
                    items.Add((item.GetProperty("createdAt").GetDateTimeOffset(), item.GetProperty("id").GetString()!, item));
                }
            }

            var typeInfo = (System.Text.Json.Serialization.Metadata.JsonTypeInfo<WebhookEndpointResponse>)SwitchboardJsonContext.Wire.GetTypeInfo(typeof(WebhookEndpointResponse))!;
            foreach (var endpoint in list.Data)
            {
                items.Add((endpoint.CreatedAt, endpoint.Id, JsonSerializer.SerializeToElement(endpoint, typeInfo)));
            }

            var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteStartArray("data");
                foreach (var item in items.OrderBy(i => i.CreatedAt).ThenBy(i => i.Id, StringComparer.Ordinal))
                {
                    item.Item.WriteTo(writer);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            return Results.Bytes(buffer.WrittenMemory.ToArray(), "application/json");
        }
        finally
        {
            foreach (var document in documents)
            {
                document.Dispose();
            }
        }
    }
}

/// <summary>Sends one webhook API request on to the node that holds the endpoint and copies its answer back.</summary>
internal sealed class WebhookApiForwarder : IDisposable
{
    private static readonly string[] RequestHeaders = ["Authorization", "Accept", "Idempotency-Key"];
    private static readonly string[] ResponseHeaders = ["Location", "Retry-After", "Allow", "ETag", "WWW-Authenticate", "Cache-Control"];

    // Kestrel decodes request header values as UTF-8; encoding the forwarded copies the same way sends the bytes the
    // client sent (the default, ASCII only, refuses a value such as "Idempotency-Key: é" and the call would look like
    // a node that did not answer).
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        RequestHeaderEncodingSelector = (_, _) => System.Text.Encoding.UTF8,
        ResponseHeaderEncodingSelector = (_, _) => System.Text.Encoding.UTF8,
    }) { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Sends the call on to <paramref name="node"/>; a create carries the <paramref name="partition"/> drawn for it here.</summary>
    public async Task ForwardAsync(HttpContext context, string node, int partition)
    {
        var request = context.Request;
        // The body is read here, within the same limit the holder applies, before anything is sent: a client's broken
        // chunked encoding, a body that stops coming or one over the limit is then answered here as what it is (400,
        // 408, 413), not mistaken for the other node failing.
        byte[]? body = null;
        if (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            body = await RequestBody.ReadAsync(request, WebhookEndpoints.MaxBodyBytes, "request", context.RequestAborted);
        }

        using var forwarded = Request(context, node, new HttpMethod(request.Method), partition);

        if (body is not null)
        {
            forwarded.Content = new ByteArrayContent(body);
            if (request.ContentType is { } contentType)
            {
                forwarded.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        HttpResponseMessage answer;
        try
        {
            answer = await _http.SendAsync(forwarded, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (HttpRequestException ex)
        {
            throw NodeAway(ex);
        }

        using (answer)
        {
            var response = context.Response;
            response.StatusCode = (int)answer.StatusCode;
            foreach (var name in ResponseHeaders)
            {
                if (answer.Headers.TryGetValues(name, out var values))
                {
                    response.Headers[name] = values.ToArray();
                }
            }

            if (answer.Content.Headers.ContentType is { } type)
            {
                response.ContentType = type.ToString();
            }

            await answer.Content.CopyToAsync(response.Body, context.RequestAborted);
        }
    }

    /// <summary>Another node's answer to the same GET, which must be a 200 (its own part of a gathered answer).</summary>
    public async Task<byte[]> FetchAsync(HttpContext context, string node)
    {
        // Always a GET: the parts are needed to build the answer even when the caller asked with HEAD.
        using var forwarded = Request(context, node, HttpMethod.Get, ForwardingMark.NoPartition);
        try
        {
            using var answer = await _http.SendAsync(forwarded, context.RequestAborted);
            if (answer.StatusCode != System.Net.HttpStatusCode.OK)
            {
                throw WebhookDispatcher.PartitionMoving();
            }

            return await answer.Content.ReadAsByteArrayAsync(context.RequestAborted);
        }
        catch (HttpRequestException ex)
        {
            throw NodeAway(ex);
        }
    }

    /// <summary>The request to <paramref name="node"/>, with the caller's credentials and the mark that it was forwarded.</summary>
    private static HttpRequestMessage Request(HttpContext context, string node, HttpMethod method, int partition)
    {
        var request = context.Request;
        var forwarded = new HttpRequestMessage(method, node + request.PathBase + request.Path + request.QueryString);
        foreach (var name in RequestHeaders)
        {
            if (request.Headers.TryGetValue(name, out var values))
            {
                forwarded.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }

        var key = context.RequestServices.GetRequiredService<WebhookDispatcher>().Partitions.ForwardingKey.Span;
        forwarded.Headers.TryAddWithoutValidation(ForwardingMark.Header, ForwardingMark.Create(key, partition));
        return forwarded;
    }

    private static SwitchboardException NodeAway(HttpRequestException ex) => SwitchboardException.Unavailable("webhooks-unavailable", "Webhook delivery is changing nodes",
        $"The node that delivers this webhook endpoint did not answer ({ex.Message}); retry shortly.", TimeSpan.FromSeconds(2));

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// The mark a node puts on an API call it forwards: the partition a create was routed to, signed with the key the
/// hub's nodes share. A node trusts a call as forwarded (no second forwarding, its own endpoints only, the given
/// partition) only with a mark that verifies; a client sending the header gets a 403 rather than a say in routing.
/// </summary>
internal static class ForwardingMark
{
    public const string Header = "X-Switchboard-Forwarded";

    /// <summary>The partition of a forwarded call that is not a create.</summary>
    public const int NoPartition = -1;

    public static string Create(ReadOnlySpan<byte> key, int partition)
    {
        var text = partition.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return text + "." + Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(Sign(key, text));
    }

    /// <summary>False when the call carries no mark; a mark that does not verify is refused.</summary>
    public static bool Read(HttpRequest request, ReadOnlySpan<byte> key, out int partition)
    {
        partition = NoPartition;
        if (!request.Headers.TryGetValue(Header, out var values))
        {
            return false;
        }

        var value = values.Count == 1 ? values[0] ?? "" : "";
        var dot = value.IndexOf('.', StringComparison.Ordinal);
        if (key.IsEmpty || dot <= 0
            || !int.TryParse(value.AsSpan(0, dot), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out partition)
            || !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Sign(key, value[..dot]), Decode(value[(dot + 1)..])))
        {
            throw new SwitchboardException(SwitchboardErrorKind.Forbidden, "forbidden", "Forbidden",
                $"The {Header} header is for the hub's own nodes, and this one does not verify; send the request without it.");
        }

        return true;
    }

    private static byte[] Sign(ReadOnlySpan<byte> key, string partition) =>
        System.Security.Cryptography.HMACSHA256.HashData(key, System.Text.Encoding.ASCII.GetBytes("webhook-api-forwarded " + partition));

    private static byte[] Decode(string signature)
    {
        try
        {
            return Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Decode(signature);
        }
        catch (FormatException)
        {
            return [];
        }
    }
}
