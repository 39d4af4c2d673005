using System.Text.Json;
using System.Text.Json.Serialization;
using Switchboard.Events;

namespace Switchboard.AspNetCore.Http;

/// <summary>Writes times in the API's documents the way events carry them (<see cref="WireTime"/>); reads any RFC 3339 time.</summary>
internal sealed class WireTimeJsonConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(WireTime.Format(value));
}
