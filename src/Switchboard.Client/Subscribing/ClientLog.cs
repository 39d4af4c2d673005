using Microsoft.Extensions.Logging;

namespace Switchboard.Client;

internal static partial class ClientLog
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Subscription connected over {Transport}")]
    public static partial void Connected(ILogger logger, SwitchboardTransport transport);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "{Transport} failed before its first frame ({Reason}); falling back to {Next}")]
    public static partial void FallingBack(ILogger logger, SwitchboardTransport transport, string reason, SwitchboardTransport next);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "{Transport} failed ({Reason}); reconnecting in {Delay}")]
    public static partial void Reconnecting(ILogger logger, SwitchboardTransport transport, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 43, Level = LogLevel.Information, Message = "Trying {Transport} again after {Current}")]
    public static partial void TryingUpgrade(ILogger logger, SwitchboardTransport transport, SwitchboardTransport current);

    [LoggerMessage(EventId = 44, Level = LogLevel.Warning, Message = "Subscription reset ({Reason}); continuing from {Cursor}")]
    public static partial void Reset(ILogger logger, string reason, string cursor);

    [LoggerMessage(EventId = 45, Level = LogLevel.Debug, Message = "Dropped a repeated event (seq {Seq}, last {Last})")]
    public static partial void DroppedDuplicate(ILogger logger, long seq, long last);

    [LoggerMessage(EventId = 46, Level = LogLevel.Debug, Message = "Token refreshed over {Transport}")]
    public static partial void TokenRefreshed(ILogger logger, string transport);

    [LoggerMessage(EventId = 47, Level = LogLevel.Warning, Message = "Publish attempt {Attempt} failed ({Reason}); retrying in {Delay}")]
    public static partial void PublishRetry(ILogger logger, int attempt, string reason, TimeSpan delay);
}
