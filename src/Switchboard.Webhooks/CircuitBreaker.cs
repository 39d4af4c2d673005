namespace Switchboard.Webhooks;

/// <summary>The states of an endpoint's circuit, as shown by the API.</summary>
internal enum CircuitState
{
    Closed,
    Open,
    HalfOpen,
}

/// <summary>
/// Stops hammering a receiver that keeps failing: after <c>threshold</c> consecutive failures the circuit opens
/// for the break duration; then one probe goes out (half-open), and its outcome closes or reopens the circuit.
/// Not thread-safe: the endpoint worker calls it under its lock.
/// </summary>
internal sealed class CircuitBreaker(int threshold, TimeSpan breakDuration)
{
    private bool _probeInFlight;

    public CircuitState State { get; private set; } = CircuitState.Closed;

    public int ConsecutiveFailures { get; private set; }

    /// <summary>When an open circuit lets its probe through.</summary>
    public DateTimeOffset? OpenUntil { get; private set; }

    /// <summary>True when a delivery may start now; otherwise <paramref name="retryAt"/> says when to ask again (null: after the probe ends).</summary>
    public bool CanDispatch(DateTimeOffset now, out DateTimeOffset? retryAt)
    {
        retryAt = null;
        if (State == CircuitState.Open)
        {
            if (now < OpenUntil)
            {
                retryAt = OpenUntil;
                return false;
            }

            State = CircuitState.HalfOpen;
            _probeInFlight = false;
        }

        return State != CircuitState.HalfOpen || !_probeInFlight;
    }

    /// <summary>Records that a delivery started; in half-open it is the one probe.</summary>
    public void OnDispatch()
    {
        if (State == CircuitState.HalfOpen)
        {
            _probeInFlight = true;
        }
    }

    public void OnSuccess()
    {
        State = CircuitState.Closed;
        ConsecutiveFailures = 0;
        OpenUntil = null;
        _probeInFlight = false;
    }

    /// <summary>Records a failure; true when it opened the circuit.</summary>
    public bool OnFailure(DateTimeOffset now)
    {
        ConsecutiveFailures++;
        if (State == CircuitState.HalfOpen || (State == CircuitState.Closed && ConsecutiveFailures >= threshold))
        {
            State = CircuitState.Open;
            OpenUntil = now + breakDuration;
            _probeInFlight = false;
            return true;
        }

        return false;
    }
}
