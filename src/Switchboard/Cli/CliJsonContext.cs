using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Cli;

[JsonSerializable(typeof(Dictionary<string, object?>))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(string))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
