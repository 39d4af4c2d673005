using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Switchboard.AspNetCore.Http;
using Switchboard.Jobs;

namespace Switchboard.AspNetCore.Jobs;

/// <summary>The job resource and the job events as JSON. Input, result and error are stored JSON and written raw.</summary>
internal static class JobJson
{
    public static string StatusName(JobStatus status) => status switch
    {
        JobStatus.Queued => "queued",
        JobStatus.Running => "running",
        JobStatus.Succeeded => "succeeded",
        JobStatus.Failed => "failed",
        _ => "canceled",
    };

    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The strong ETag of a job's visible state.</summary>
    public static string ETag(Job job) => string.Create(CultureInfo.InvariantCulture, $"\"{job.Id}.{job.Version}\"");

    public static void Write(Utf8JsonWriter writer, Job job, bool includeInput)
    {
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
    public static byte[] EventData(Job job) => Build(writer => Write(writer, job, includeInput: false));

    /// <summary>The data of a <c>job.output</c> event: the chunk, with the job's status and progress.</summary>
    public static byte[] OutputData(Job job, string output) => Build(writer =>
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

    /// <summary>Problem details for a job's <c>error</c>.</summary>
    public static string Problem(string code, string title, string detail) => System.Text.Encoding.UTF8.GetString(Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type"u8, Http.ErrorMapping.ProblemTypeFor(code));
        writer.WriteString("title"u8, title);
        writer.WriteString("detail"u8, detail);
        writer.WriteString("code"u8, code);
        writer.WriteEndObject();
    }));

    public static byte[] Build(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonWire.Compact))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
