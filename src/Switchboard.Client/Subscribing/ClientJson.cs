using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Client;

internal sealed class EventDto
{
    public long Seq { get; set; }

    public string Topic { get; set; } = "";

    public string Type { get; set; } = "message";

    public DateTimeOffset Time { get; set; }

    public JsonElement Data { get; set; }

    public HubEvent ToHubEvent(string cursor) => new(Seq, Topic, Type, Time, Data, cursor);

    public PublishedEvent ToPublished(bool replayed) => new(Seq, Topic, Type, Time, Data, replayed);
}

internal sealed class PollAnswerDto
{
    public List<EventDto> Events { get; set; } = [];

    public string Cursor { get; set; } = "";
}

internal sealed class BatchAnswerDto
{
    public List<EventDto> Events { get; set; } = [];
}

internal sealed class ProblemDto
{
    public int Status { get; set; }

    public string? Code { get; set; }

    public string? Title { get; set; }

    public string? Detail { get; set; }

    public string? Cursor { get; set; }
}

internal sealed class ResetDto
{
    public string Reason { get; set; } = "";

    public string Cursor { get; set; } = "";
}

internal sealed class HealthDto
{
    public string? Cursor { get; set; }
}

internal sealed class PublishBodyDto
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Type { get; set; }

    public JsonElement Data { get; set; }
}

internal sealed class BatchItemDto
{
    public string Topic { get; set; } = "";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Type { get; set; }

    public JsonElement Data { get; set; }
}

/// <summary>One client → server WebSocket op (<c>subscribe</c> or <c>refresh</c>).</summary>
internal sealed class WsRequestDto
{
    public string Op { get; set; } = "";

    public string Id { get; set; } = "";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Topics { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? After { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Token { get; set; }
}

/// <summary>Any server → client WebSocket op; only the members its <c>op</c> uses are set.</summary>
internal sealed class WsMessageDto
{
    public string? Op { get; set; }

    public JsonElement Id { get; set; }

    public string? Subscription { get; set; }

    public string? Cursor { get; set; }

    public EventDto? Event { get; set; }

    public string? Reason { get; set; }

    public string? Code { get; set; }

    public string? Message { get; set; }

    public string? IdText => Id.ValueKind switch
    {
        JsonValueKind.String => Id.GetString(),
        JsonValueKind.Number => Id.GetRawText(),
        _ => null,
    };
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(EventDto))]
[JsonSerializable(typeof(PollAnswerDto))]
[JsonSerializable(typeof(BatchAnswerDto))]
[JsonSerializable(typeof(ProblemDto))]
[JsonSerializable(typeof(ResetDto))]
[JsonSerializable(typeof(HealthDto))]
[JsonSerializable(typeof(PublishBodyDto))]
[JsonSerializable(typeof(List<BatchItemDto>))]
[JsonSerializable(typeof(WsRequestDto))]
[JsonSerializable(typeof(WsMessageDto))]
[JsonSerializable(typeof(HubEvent))]
internal sealed partial class ClientJsonContext : JsonSerializerContext;
