using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Switchboard.Jobs;

/// <summary>
/// The job as JSON: the data of its <c>jobs.{id}</c> events and the job resource of the HTTP API are the same object,
/// so both are written here. Input, result and error are stored JSON and written raw.
/// </summary>
public static class JobJson
{
    /// <summary>
    /// Compact output that keeps non-ASCII text as UTF-8; control characters are still escaped, so an event's data
    /// never contains a raw line break (SSE frames rely on it). The hub writes every payload this way.
    /// </summary>
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>The wire name of <paramref name="status"/>: <c>queued</c>, <c>running</c>, <c>succeeded</c>, <c>failed</c> or <c>canceled</c>.</summary>
    public static string StatusName(JobStatus status) => status switch
    {
        JobStatus.Queued => "queued",
        JobStatus.Running => "running",
        JobStatus.Succeeded => "succeeded",
        JobStatus.Failed => "failed",
        _ => "canceled",
    };

    /// <summary>A time as the API writes it: UTC, milliseconds, <c>Z</c>.</summary>
    public static string Time(DateTimeOffset time) => Switchboard.Events.WireTime.Format(time);

    /// <summary>Writes the job object; the input only when <paramref name="includeInput"/> (a claim gives it to the worker).</summary>
    public static void Write(Utf8JsonWriter writer, Job job, bool includeInput)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(job);
        writer.WriteStartObject();
        WriteMembers(writer, job, includeInput);
        writer.WriteEndObject();
    }

    private static void WriteMembers(Utf8JsonWriter writer, Job job, bool includeInput)
    {
        writer.WriteString("id"u8, job.Id);
        writer.WriteString("type"u8, job.Type);
        writer.WriteString("status"u8, StatusName(job.Status));
        if (job.Progress is { } progress)
        {
            writer.WriteNumber("progress"u8, progress);
        }

        writer.WriteString("createdAt"u8, Time(job.CreatedAt));
        writer.WriteString("updatedAt"u8, Time(job.UpdatedAt));
        writer.WriteNumber("attempts"u8, job.Attempts);
        writer.WriteNumber("maxAttempts"u8, job.MaxAttempts);
        if (includeInput)
        {
            writer.WritePropertyName("input"u8);
            writer.WriteRawValue(job.Input, skipInputValidation: true);
        }

        if (job.Result is { } result)
        {
            writer.WritePropertyName("result"u8);
            writer.WriteRawValue(result, skipInputValidation: true);
        }

        if (job.Error is { } error)
        {
            writer.WritePropertyName("error"u8);
            writer.WriteRawValue(error, skipInputValidation: true);
        }
    }

    /// <summary>The data of a status or progress event: the job without its input.</summary>
    internal static byte[] EventData(Job job) => Build(writer => Write(writer, job, includeInput: false));

    /// <summary>The data of a <c>job.output</c> event: the chunk, with the job's status and progress.</summary>
    internal static byte[] OutputData(Job job, string output) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("id"u8, job.Id);
        writer.WriteString("type"u8, job.Type);
        writer.WriteString("status"u8, StatusName(job.Status));
        if (job.Progress is { } progress)
        {
            writer.WriteNumber("progress"u8, progress);
        }

        writer.WriteString("output"u8, output);
        writer.WriteEndObject();
    });

    /// <summary>
    /// Problem details for a job's <c>error</c>. The type URN is the one every problem of the hub has
    /// (<c>urn:switchboard:problem:{code}</c>), written here because a job's error is stored, not answered.
    /// </summary>
    public static string Problem(string code, string title, string detail) => System.Text.Encoding.UTF8.GetString(Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type"u8, "urn:switchboard:problem:" + code);
        writer.WriteString("title"u8, title);
        writer.WriteString("detail"u8, detail);
        writer.WriteString("code"u8, code);
        writer.WriteEndObject();
    }));

    /// <summary>Runs <paramref name="write"/> on a compact writer and returns the UTF-8 JSON it wrote.</summary>
    public static byte[] Build(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, Compact))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
