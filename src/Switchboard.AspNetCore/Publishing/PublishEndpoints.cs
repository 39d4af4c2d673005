using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.Events;
using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Publishing;

/// <summary><c>POST /v1/topics/{topic}/events</c> and <c>POST /v1/events</c>.</summary>
internal static class PublishEndpoints
{
    // Room for {"type": "...", ...} around a payload that is exactly at the limit.
    private const int EnvelopeAllowance = 4096;

    public static async Task PublishOneAsync(HttpContext context, string topic, Hub hub)
    {
        var cancellationToken = context.RequestAborted;
        hub.ValidateTopic(topic);
        Caller.Of(context).RequirePublish(topic);
        var limits = hub.Limits;
        var body = await RequestBody.ReadAsync(context.Request, limits.MaxEventBytes + EnvelopeAllowance, "event", cancellationToken);
        var draft = PublishBody.ReadOne(body, topic, hub.Drafts);

        var key = IdempotencyKey(context);
        var result = await hub.PublishAsync([draft], key, key is null ? null : RequestHash("one", [draft]), cancellationToken);
        await WriteCreatedAsync(context, result, single: true);
    }

    public static async Task PublishBatchAsync(HttpContext context, Hub hub)
    {
        var cancellationToken = context.RequestAborted;
        var limits = hub.Limits;
        var body = await RequestBody.ReadAsync(context.Request, limits.MaxBatchBytes, "batch", cancellationToken);
        var drafts = PublishBody.ReadBatch(body, hub.Drafts, limits.MaxBatchEvents);

        var caller = Caller.Of(context);
        foreach (var topic in drafts.Select(d => d.Topic).Distinct(StringComparer.Ordinal))
        {
            caller.RequirePublish(topic);
        }

        var key = IdempotencyKey(context);
        var result = await hub.PublishAsync(drafts, key, key is null ? null : RequestHash("batch", drafts), cancellationToken);
        await WriteCreatedAsync(context, result, single: false);
    }

    private static string? IdempotencyKey(HttpContext context) => Http.IdempotencyKeyHeader.Read(context.Request);

    /// <summary>
    /// What a retry must repeat: the events as the hub reads them (topic, type, minified data), not the body's bytes, so a
    /// client that re-serializes with other whitespace or another member order around <c>data</c> is still a retry.
    /// </summary>
    private static byte[] RequestHash(string kind, IReadOnlyList<EventDraft> drafts)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(kind + "\n"));
        Span<byte> length = stackalloc byte[4];
        foreach (var draft in drafts)
        {
            foreach (var part in new[] { Encoding.UTF8.GetBytes(draft.Topic), Encoding.UTF8.GetBytes(draft.Type) })
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, part.Length);
                hash.AppendData(length);
                hash.AppendData(part);
            }

            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, draft.Data.Length);
            hash.AppendData(length);
            hash.AppendData(draft.Data.Span);
        }

        return hash.GetHashAndReset();
    }

    private static async Task WriteCreatedAsync(HttpContext context, AppendResult result, bool single)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";
        if (result.Outcome == AppendOutcome.Replayed)
        {
            response.Headers["Idempotent-Replayed"] = "true";
        }

        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        if (single)
        {
            result.Events[0].WriteTo(writer);
        }
        else
        {
            writer.WriteStartObject();
            writer.WriteStartArray("events");
            foreach (var record in result.Events)
            {
                record.WriteTo(writer);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        await writer.FlushAsync(context.RequestAborted);
    }
}
