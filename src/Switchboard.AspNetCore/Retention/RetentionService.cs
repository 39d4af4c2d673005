using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Log;
using Switchboard.Retention;

namespace Switchboard.AspNetCore.Retention;

/// <summary>Applies retention and expires idempotency keys every <see cref="RetentionOptions.TrimInterval"/>.</summary>
internal sealed partial class RetentionService(IEventLog log, IOptionsMonitor<RetentionOptions> options, TimeProvider time, ILogger<RetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.CurrentValue.TrimInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var result = await log.TrimAsync(new RetentionPolicy(options.CurrentValue), time.GetUtcNow(), stoppingToken);
                    if (result.EventsDeleted > 0 || result.IdempotencyKeysDeleted > 0)
                    {
                        LogTrimmed(logger, result.EventsDeleted, result.IdempotencyKeysDeleted);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The next tick tries again; a failed trim loses nothing.
                    LogTrimFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Retention removed {Events} events and {Keys} expired idempotency keys")]
    private static partial void LogTrimmed(ILogger logger, long events, long keys);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Retention trim failed; retrying at the next interval")]
    private static partial void LogTrimFailed(ILogger logger, Exception exception);
}
