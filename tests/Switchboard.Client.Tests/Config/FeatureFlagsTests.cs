using System.Text.Json;

namespace Switchboard.Client.Tests.Config;

public sealed class FeatureFlagsTests
{
    [Theory]
    // Pinned values (computed independently with Python's hashlib), so any implementation in any language can check itself.
    [InlineData("new-checkout", "user-1", 83)]
    [InlineData("new-checkout", "user-2", 61)]
    [InlineData("beta", "alice", 54)]
    public void Bucket_IsSha256OfFlagColonUserKey_Modulo100(string flag, string user, int bucket) =>
        Assert.Equal(bucket, FeatureFlags.Bucket(flag, user));

    [Fact]
    public void Rollout_EnablesAboutThatShareOfUsers_AndRaisingItKeepsThoseAlreadyOn()
    {
        var users = Enumerable.Range(0, 10_000).Select(i => "user-" + i).ToList();
        var at10 = users.Where(u => FeatureFlags.IsEnabled(Value("""{"rollout":10}"""), "f", u)).ToHashSet();
        var at25 = users.Where(u => FeatureFlags.IsEnabled(Value("""{"rollout":25}"""), "f", u)).ToHashSet();

        Assert.InRange(at25.Count, 2300, 2700);
        Assert.InRange(at10.Count, 800, 1200);
        Assert.Subset(at25, at10);
    }

    [Theory]
    [InlineData("true", "u", true)]
    [InlineData("false", "u", false)]
    [InlineData("""{"rollout":100}""", null, true)]
    [InlineData("""{"rollout":99}""", null, false)]
    [InlineData("""{"rollout":0}""", "u", false)]
    [InlineData("\"yes\"", "u", false)]
    [InlineData("""{"other":1}""", "u", false)]
    public void IsEnabled_Values(string json, string? user, bool expected) =>
        Assert.Equal(expected, FeatureFlags.IsEnabled(Value(json), "flag", user));

    [Fact]
    public void Snapshot_MissingFlag_IsTheDefault()
    {
        var snapshot = new ConfigSnapshot("app", 1, Value("""{"on":true}"""));

        Assert.True(snapshot.IsEnabled("on"));
        Assert.False(snapshot.IsEnabled("missing"));
        Assert.True(snapshot.IsEnabled("missing", defaultValue: true));
    }

    private static JsonElement Value(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
