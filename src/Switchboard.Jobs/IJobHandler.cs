using System.Text.Json;

namespace Switchboard.Jobs;

/// <summary>
/// Runs jobs of one type inside the hub's process, registered with <c>AddJobHandler&lt;T&gt;("type")</c>. It claims
/// from the same queue as HTTP workers, under the same leases, retries and cancellation.
/// </summary>
public interface IJobHandler
{
    /// <summary>
    /// Runs one attempt and returns the result (null for none). Throw <see cref="JobFailedException"/> to fail with a
    /// message (retryable or not); any other exception is a retryable failure. <paramref name="cancellationToken"/>
    /// fires when the job is canceled, its lease is lost, or the hub stops.
    /// </summary>
    Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken);
}

/// <summary>The job an <see cref="IJobHandler"/> runs, and its way to report progress.</summary>
public sealed class JobContext
{
    private readonly Func<int?, string?, CancellationToken, Task> _report;

    internal JobContext(string id, string type, JsonElement input, int attempt, Func<int?, string?, CancellationToken, Task> report)
    {
        Id = id;
        Type = type;
        Input = input;
        Attempt = attempt;
        _report = report;
    }

    /// <summary>The job id.</summary>
    public string Id { get; }

    /// <summary>The job type.</summary>
    public string Type { get; }

    /// <summary>The submitted input.</summary>
    public JsonElement Input { get; }

    /// <summary>1 for the first attempt.</summary>
    public int Attempt { get; }

    /// <summary>Records progress (0 to 100) and appends an output chunk; either may be null. Also renews the lease.</summary>
    public Task ReportProgressAsync(int? percent, string? output = null, CancellationToken cancellationToken = default) =>
        _report(percent, output, cancellationToken);
}

/// <summary>Thrown by a handler to fail the attempt with a message.</summary>
public sealed class JobFailedException : Exception
{
    /// <summary>Creates the failure.</summary>
    public JobFailedException(string message, bool retryable = true)
        : base(message) => Retryable = retryable;

    /// <summary>Creates a retryable failure.</summary>
    public JobFailedException()
        : this("The job failed.")
    {
    }

    /// <summary>Creates a retryable failure with its cause.</summary>
    public JobFailedException(string message, Exception innerException)
        : base(message, innerException) => Retryable = true;

    /// <summary>Whether the job is retried while attempts remain.</summary>
    public bool Retryable { get; }
}
