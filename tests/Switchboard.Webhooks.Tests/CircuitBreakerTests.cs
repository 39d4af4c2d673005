using Microsoft.Extensions.Time.Testing;

namespace Switchboard.Webhooks.Tests;

/// <summary>The circuit breaker's states on a clock the test moves.</summary>
public sealed class CircuitBreakerTests
{
    private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new();
    private readonly CircuitBreaker _circuit = new(threshold: 3, BreakDuration);

    private DateTimeOffset Now => _time.GetUtcNow();

    [Fact]
    public void FailuresBelowTheThreshold_KeepItClosed_AndASuccessResetsTheCount()
    {
        Assert.False(_circuit.OnFailure(Now));
        Assert.False(_circuit.OnFailure(Now));
        Assert.Equal(CircuitState.Closed, _circuit.State);
        Assert.Equal(2, _circuit.ConsecutiveFailures);

        _circuit.OnSuccess();
        Assert.False(_circuit.OnFailure(Now));
        Assert.False(_circuit.OnFailure(Now));

        Assert.Equal(CircuitState.Closed, _circuit.State);
        Assert.True(_circuit.CanDispatch(Now, out _));
    }

    [Fact]
    public void TheThresholdthFailure_OpensIt_UntilTheBreakDurationHasPassed()
    {
        OpenIt();

        Assert.Equal(CircuitState.Open, _circuit.State);
        Assert.Equal(Now + BreakDuration, _circuit.OpenUntil);
        Assert.False(_circuit.CanDispatch(Now, out var retryAt));
        Assert.Equal(Now + BreakDuration, retryAt);

        _time.Advance(BreakDuration - TimeSpan.FromMilliseconds(1));
        Assert.False(_circuit.CanDispatch(Now, out _));
        Assert.Equal(CircuitState.Open, _circuit.State);
    }

    [Fact]
    public void AfterTheBreak_ExactlyOneProbeGoesOut()
    {
        OpenIt();
        _time.Advance(BreakDuration);

        Assert.True(_circuit.CanDispatch(Now, out _));
        Assert.Equal(CircuitState.HalfOpen, _circuit.State);
        _circuit.OnDispatch();

        Assert.False(_circuit.CanDispatch(Now, out var retryAt));
        Assert.Null(retryAt); // not a time: the next chance is when the probe ends
    }

    [Fact]
    public void ASucceedingProbe_ClosesIt()
    {
        OpenIt();
        _time.Advance(BreakDuration);
        Assert.True(_circuit.CanDispatch(Now, out _));
        _circuit.OnDispatch();

        _circuit.OnSuccess();

        Assert.Equal(CircuitState.Closed, _circuit.State);
        Assert.Equal(0, _circuit.ConsecutiveFailures);
        Assert.Null(_circuit.OpenUntil);
        Assert.True(_circuit.CanDispatch(Now, out _));
    }

    [Fact]
    public void AFailingProbe_ReopensItAtOnce_ForAnotherFullBreak()
    {
        OpenIt();
        _time.Advance(BreakDuration);
        Assert.True(_circuit.CanDispatch(Now, out _));
        _circuit.OnDispatch();

        Assert.True(_circuit.OnFailure(Now)); // one failure is enough in half-open

        Assert.Equal(CircuitState.Open, _circuit.State);
        Assert.Equal(Now + BreakDuration, _circuit.OpenUntil);
        Assert.False(_circuit.CanDispatch(Now, out _));
    }

    private void OpenIt()
    {
        Assert.False(_circuit.OnFailure(Now));
        Assert.False(_circuit.OnFailure(Now));
        Assert.True(_circuit.OnFailure(Now));
    }
}
