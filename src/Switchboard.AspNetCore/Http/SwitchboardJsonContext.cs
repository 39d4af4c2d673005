using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.AspNetCore.Http;

/// <summary>The health document.</summary>
internal sealed record HealthResponse(string Status, string Epoch, string Cursor);

/// <summary>Source-generated serialization for the small fixed-shape documents; events are written from cached bytes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class SwitchboardJsonContext : JsonSerializerContext;
