using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Problems;

namespace Switchboard.Jobs;

/// <summary>Runs an <see cref="IJobHandler"/> for one job type: <c>concurrency</c> loops that claim, run and report.</summary>
internal sealed partial class JobHandlerService<THandler> : BackgroundService
    where THandler : class, IJobHandler
{
    private readonly string _type;
    private readonly int _concurrency;
    private readonly JobQueue _queue;
    private readonly IServiceScopeFactory _scopes;
    private readonly IOptionsMonitor<JobOptions> _options;
    private readonly ILogger<JobHandlerService<THandler>> _logger;

    public JobHandlerService(string type, int concurrency, JobQueue queue, IServiceScopeFactory scopes, IOptionsMonitor<JobOptions> options, ILogger<JobHandlerService<THandler>> logger)
    {
        _type = type;
        _concurrency = concurrency;
        _queue = queue;
        _scopes = scopes;
        _options = options;
        _logger = logger;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _concurrency).Select(_ => Task.Run(() => LoopAsync(stoppingToken), stoppingToken)));

    private async Task LoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var lease = _options.CurrentValue.LeaseDuration;
                var claim = await _queue.ClaimAsync(_type, "in-process:" + typeof(THandler).Name, lease, TimeSpan.FromSeconds(30), stoppingToken);
                if (claim is not null)
                {
                    await RunAsync(claim, lease, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogLoopFailed(_logger, _type, ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task RunAsync(JobClaim claim, TimeSpan lease, CancellationToken stoppingToken)
    {
        var job = claim.Job;
        var leaseId = claim.Lease.Id;
        using var running = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var input = JsonDocument.Parse(job.Input);
        var context = new JobContext(job.Id, job.Type, input.RootElement, job.Attempts, async (percent, output, cancellationToken) =>
        {
            try
            {
                await _queue.ProgressAsync(job.Id, leaseId, percent, output, lease, cancellationToken);
            }
            catch (SwitchboardException problem) when (problem.Kind == SwitchboardErrorKind.Conflict)
            {
                await running.CancelAsync();
                throw new OperationCanceledException($"Job {job.Id}: {problem.Message}", problem, running.Token);
            }
        });

        // Heartbeats keep the lease while the handler works; a Conflict (canceled, lease lost) cancels the handler.
        var heartbeats = HeartbeatAsync(job.Id, leaseId, lease, running);
        try
        {
            await using var scope = _scopes.CreateAsyncScope();
            var handler = scope.ServiceProvider.GetRequiredService<THandler>();
            var result = await handler.HandleAsync(context, running.Token);
            await _queue.CompleteAsync(job.Id, leaseId, result is { } value ? value.GetRawText() : "null", CancellationToken.None);
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
            // Canceled, lease lost or stopping: the queue already knows, or the lease expires and the job is requeued.
        }
        catch (SwitchboardException problem) when (problem.Kind == SwitchboardErrorKind.Conflict)
        {
            LogLeaseLost(_logger, job.Id, problem.Code);
        }
        catch (Exception ex)
        {
            var (retryable, message) = ex is JobFailedException failed ? (failed.Retryable, failed.Message) : (true, $"{ex.GetType().Name}: {ex.Message}");
            try
            {
                await _queue.FailAsync(job.Id, leaseId, JobJson.Problem("job-failed", "Job failed", message), retryable, CancellationToken.None);
            }
            catch (SwitchboardException problem) when (problem.Kind == SwitchboardErrorKind.Conflict)
            {
                LogLeaseLost(_logger, job.Id, problem.Code);
            }
        }
        finally
        {
            await running.CancelAsync();
            await heartbeats;
        }
    }

    private async Task HeartbeatAsync(string id, string leaseId, TimeSpan lease, CancellationTokenSource running)
    {
        try
        {
            while (true)
            {
                await Task.Delay(lease / 3, running.Token);
                try
                {
                    await _queue.HeartbeatAsync(id, leaseId, lease, running.Token);
                }
                catch (SwitchboardException problem) when (problem.Kind is SwitchboardErrorKind.NotFound or SwitchboardErrorKind.Conflict)
                {
                    await running.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 520, Level = LogLevel.Error, Message = "In-process job handler for type {Type} failed outside a job; retrying in 1 s")]
    private static partial void LogLoopFailed(ILogger logger, string type, Exception exception);

    [LoggerMessage(EventId = 521, Level = LogLevel.Information, Message = "Job {JobId}: the in-process handler lost the job ({Code})")]
    private static partial void LogLeaseLost(ILogger logger, string jobId, string code);
}
