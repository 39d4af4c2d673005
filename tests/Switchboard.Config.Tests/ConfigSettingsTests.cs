using System.Text;
using System.Text.Json.Nodes;
using Switchboard.Problems;

namespace Switchboard.Config.Tests;

public sealed class ConfigSettingsTests
{
    // RFC 7396, appendix A: target, patch, result.
    [Theory]
    [InlineData("""{"a":"b"}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"b":"c"}""", """{"a":"b","b":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"a":null}""", """{}""")]
    [InlineData("""{"a":"b","b":"c"}""", """{"a":null}""", """{"b":"c"}""")]
    [InlineData("""{"a":["b"]}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"c"}""", """{"a":["b"]}""", """{"a":["b"]}""")]
    [InlineData("""{"a":{"b":"c"}}""", """{"a":{"b":"d","c":null}}""", """{"a":{"b":"d"}}""")]
    [InlineData("""{"a":[{"b":"c"}]}""", """{"a":[1]}""", """{"a":[1]}""")]
    [InlineData("""{"e":null}""", """{"a":1}""", """{"e":null,"a":1}""")]
    [InlineData("""[1,2]""", """{"a":"b","c":null}""", """{"a":"b"}""")]
    [InlineData("""{}""", """{"a":{"bb":{"ccc":null}}}""", """{"a":{"bb":{}}}""")]
    public void MergePatch_FollowsRfc7396(string target, string patch, string expected)
    {
        var merged = ConfigSettings.MergePatch(JsonNode.Parse(target), JsonNode.Parse(patch));

        Assert.Equal(expected, merged!.ToJsonString());
    }

    [Fact]
    public void MergePatch_DoesNotShareNodesWithThePatch()
    {
        var patch = JsonNode.Parse("""{"a":{"b":1}}""")!;
        var merged = ConfigSettings.MergePatch(new JsonObject(), patch)!;

        patch["a"]!["b"] = 2;

        Assert.Equal("""{"a":{"b":1}}""", merged.ToJsonString());
    }

    [Fact]
    public void Canonical_IsCompactUtf8_WithNonAsciiKeptAsText()
    {
        var values = (JsonObject)JsonNode.Parse("""{ "greeting" : "héllo",  "n": 1 }""")!;

        var bytes = ConfigSettings.Canonical(values, new ConfigOptions());

        Assert.Equal("""{"greeting":"héllo","n":1}""", Encoding.UTF8.GetString(bytes));
    }

    [Theory]
    [InlineData("""{"f":{"rollout":101}}""")]
    [InlineData("""{"f":{"rollout":-1}}""")]
    [InlineData("""{"f":{"rollout":"50"}}""")]
    [InlineData("""{"f":{"rollout":null}}""")]
    public void Canonical_RefusesARolloutOutsideZeroToHundred(string json)
    {
        var error = Assert.Throws<SwitchboardException>(() => ConfigSettings.Canonical((JsonObject)JsonNode.Parse(json)!, new ConfigOptions()));

        Assert.Equal(SwitchboardErrorKind.Invalid, error.Kind);
        Assert.Equal("invalid-flag", error.Code);
    }

    [Fact]
    public void Canonical_AcceptsRolloutsAtTheBounds()
    {
        var bytes = ConfigSettings.Canonical((JsonObject)JsonNode.Parse("""{"a":{"rollout":0},"b":{"rollout":100},"c":{"rollout":12.5}}""")!, new ConfigOptions());

        Assert.Equal("""{"a":{"rollout":0},"b":{"rollout":100},"c":{"rollout":12.5}}""", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Canonical_CountsKeysAgainstTheLimit()
    {
        var options = new ConfigOptions { MaxKeys = 2 };

        ConfigSettings.Canonical((JsonObject)JsonNode.Parse("""{"a":1,"b":2}""")!, options);
        var error = Assert.Throws<SwitchboardException>(() => ConfigSettings.Canonical((JsonObject)JsonNode.Parse("""{"a":1,"b":2,"c":3}""")!, options));

        Assert.Equal("too-many-keys", error.Code);
    }

    [Fact]
    public void Canonical_MeasuresTheCompactForm_AgainstMaxBytes()
    {
        var json = """{"k":"0123456789"}""";
        var exact = new ConfigOptions { MaxBytes = Encoding.UTF8.GetByteCount(json) };
        var smaller = new ConfigOptions { MaxBytes = exact.MaxBytes - 1 };

        ConfigSettings.Canonical((JsonObject)JsonNode.Parse("{ \"k\" :   \"0123456789\" }")!, exact);
        var error = Assert.Throws<SwitchboardException>(() => ConfigSettings.Canonical((JsonObject)JsonNode.Parse(json)!, smaller));

        Assert.Equal(SwitchboardErrorKind.TooLarge, error.Kind);
        Assert.Equal("payload-too-large", error.Code);
    }

    [Theory]
    [InlineData("")]
    [InlineData("tab\there")]
    public void ValidateKey_RefusesEmptyAndControlCharacters(string key)
    {
        var error = Assert.Throws<SwitchboardException>(() => ConfigSettings.ValidateKey(key, new ConfigOptions()));

        Assert.Equal("invalid-key", error.Code);
    }

    [Fact]
    public void ValidateKey_HoldsTheLengthLimit()
    {
        var options = new ConfigOptions { MaxKeyLength = 4 };

        ConfigSettings.ValidateKey("abcd", options);
        Assert.Equal("invalid-key", Assert.Throws<SwitchboardException>(() => ConfigSettings.ValidateKey("abcde", options)).Code);
    }

    [Theory]
    [InlineData("a.b")]
    [InlineData("sp ace")]
    [InlineData("*")]
    [InlineData(">")]
    public void ValidateApp_RefusesWhatIsNotOneTopicSegment(string app)
    {
        var error = Assert.Throws<SwitchboardException>(() => ConfigSettings.ValidateApp(app, new ConfigOptions()));

        Assert.Equal(SwitchboardErrorKind.Invalid, error.Kind);
        Assert.Equal("invalid-app", error.Code);
    }

    [Fact]
    public void ValidateApp_AcceptsASegment_AndHoldsTheLengthLimit()
    {
        var options = new ConfigOptions { MaxAppLength = 8 };

        ConfigSettings.ValidateApp("web_app-1", new ConfigOptions());
        ConfigSettings.ValidateApp("abcdefgh", options);
        Assert.Equal("invalid-app", Assert.Throws<SwitchboardException>(() => ConfigSettings.ValidateApp("abcdefghi", options)).Code);
    }

    [Fact]
    public void AnErrorQuotesAtMost64CharactersOfAName()
    {
        var error = Assert.Throws<SwitchboardException>(() => ConfigSettings.ValidateApp(new string('x', 500) + ".y", new ConfigOptions { MaxAppLength = 1000 }));

        Assert.DoesNotContain(new string('x', 65), error.Message, StringComparison.Ordinal);
        Assert.Contains(new string('x', 64) + "…", error.Message, StringComparison.Ordinal);
    }
}
