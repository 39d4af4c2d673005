using Switchboard.Cursors;

namespace Switchboard.Core.Tests.Cursors;

public sealed class CursorTests
{
    [Fact]
    public void Format_ThenTryParse_RoundTrips()
    {
        var epoch = Cursor.NewEpoch();
        Assert.True(Cursor.TryParse(Cursor.Format(epoch, 9_000_000_000), out var parsedEpoch, out var seq));
        Assert.Equal(epoch, parsedEpoch);
        Assert.Equal(9_000_000_000, seq);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData(".5")]
    [InlineData("abc.")]
    [InlineData("abc.-1")]
    [InlineData("abc.1x")]
    [InlineData("a/b.1")]
    [InlineData("abc.99999999999999999999")]
    [InlineData("abc.5\0")]
    public void TryParse_Malformed_ReturnsFalse(string value) => Assert.False(Cursor.TryParse(value, out _, out _));

    [Fact]
    public void NewEpoch_IsRandom() => Assert.NotEqual(Cursor.NewEpoch(), Cursor.NewEpoch());
}
