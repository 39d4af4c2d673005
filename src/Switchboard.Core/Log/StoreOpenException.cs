namespace Switchboard.Log;

/// <summary>
/// A store could not be opened: the hub cannot start without learning its epoch and head. The message names the
/// store and where it is, says what went wrong and what to do, so a host can print it as it is and stop.
/// </summary>
public sealed class StoreOpenException : Exception
{
    /// <summary>Creates the error.</summary>
    public StoreOpenException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
