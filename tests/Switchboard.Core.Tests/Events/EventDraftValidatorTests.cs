using Switchboard.Events;
using Switchboard.Problems;

namespace Switchboard.Core.Tests.Events;

public sealed class EventDraftValidatorTests
{
    private readonly LimitsOptions _options = new();

    private EventDraftValidator Validator => new(() => _options);

    private static SwitchboardException Refused(Action action) => Assert.Throws<SwitchboardException>(action);

    [Theory]
    [InlineData("orders")]
    [InlineData("orders.created")]
    [InlineData("a-b_c.D9")]
    public void ValidateTopic_ValidName_Passes(string topic) => Validator.ValidateTopic(topic);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("orders.*")]
    [InlineData("orders.>")]
    [InlineData("orders..created")]
    [InlineData(".orders")]
    [InlineData("has space")]
    public void ValidateTopic_InvalidName_IsInvalidTopic(string? topic)
    {
        var problem = Refused(() => Validator.ValidateTopic(topic));

        Assert.Equal((SwitchboardErrorKind.Invalid, "invalid-topic"), (problem.Kind, problem.Code));
    }

    [Fact]
    public void ValidateTopic_OverMaxTopicLength_IsInvalidTopicWithATruncatedName()
    {
        _options.MaxTopicLength = 100;

        Validator.ValidateTopic(new string('a', 100));
        var problem = Refused(() => Validator.ValidateTopic(new string('a', 101)));

        Assert.Equal("invalid-topic", problem.Code);
        Assert.Contains(new string('a', 80) + "…", problem.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('a', 81), problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NormalizeType_Absent_IsTheDefaultType() => Assert.Equal(Switchboard.Hubs.Hub.DefaultEventType, Validator.NormalizeType(null));

    [Theory]
    [InlineData("order.created")]
    [InlineData("x")]
    [InlineData("Switchboard.ping")]
    [InlineData("my.switchboard.ping")]
    public void NormalizeType_Valid_IsKeptAsGiven(string type) => Assert.Equal(type, Validator.NormalizeType(type));

    [Theory]
    [InlineData("", "invalid-type")]
    [InlineData("a\nb", "invalid-type")]
    [InlineData("tab\there", "invalid-type")]
    [InlineData("\u0085", "invalid-type")]
    [InlineData("switchboard.ping", "reserved-type")]
    [InlineData("switchboard.", "reserved-type")]
    public void NormalizeType_Invalid_IsRefusedWithItsCode(string type, string code)
    {
        var problem = Refused(() => Validator.NormalizeType(type));

        Assert.Equal((SwitchboardErrorKind.Invalid, code), (problem.Kind, problem.Code));
    }

    [Fact]
    public void NormalizeType_AtAndOverMaxTypeLength_PassesThenIsInvalidType()
    {
        _options.MaxTypeLength = 10;

        Assert.Equal(new string('t', 10), Validator.NormalizeType(new string('t', 10)));
        Assert.Equal("invalid-type", Refused(() => Validator.NormalizeType(new string('t', 11))).Code);
    }

    [Fact]
    public void ValidateData_AtAndOverMaxEventBytes_PassesThenIsPayloadTooLarge()
    {
        _options.MaxEventBytes = 100;

        Validator.ValidateData(100);
        var problem = Refused(() => Validator.ValidateData(101));

        Assert.Equal((SwitchboardErrorKind.TooLarge, "payload-too-large"), (problem.Kind, problem.Code));
        Assert.Equal("The event data is 101 bytes; the limit is 100.", problem.Message);
    }

    [Fact]
    public void Limits_AreReadOnEveryCall_SoAReloadAppliesAtOnce()
    {
        var validator = Validator;
        validator.ValidateData(1000);

        _options.MaxEventBytes = 999;

        Assert.Equal("payload-too-large", Refused(() => validator.ValidateData(1000)).Code);
    }

    [Fact]
    public void Create_ValidDraft_KeepsTheDataArrayItself()
    {
        var data = "{\"a\":1}"u8.ToArray();

        var draft = Validator.Create("orders", null, data);

        Assert.Equal(("orders", "message"), (draft.Topic, draft.Type));
        Assert.Same(data, draft.DataArray());
    }

    [Fact]
    public void Create_SeveralRulesBroken_ReportsTopicThenTypeThenData()
    {
        _options.MaxEventBytes = 16;
        var big = new byte[17];

        Assert.Equal("invalid-topic", Refused(() => Validator.Create("bad topic", "switchboard.x", big)).Code);
        Assert.Equal("reserved-type", Refused(() => Validator.Create("ok", "switchboard.x", big)).Code);
        Assert.Equal("payload-too-large", Refused(() => Validator.Create("ok", "t", big)).Code);
    }

    [Theory]
    [InlineData("k")]
    [InlineData("order-42/retry#1 with spaces")]
    public void ValidateIdempotencyKey_Printable_Passes(string key) => Validator.ValidateIdempotencyKey(key);

    [Theory]
    [InlineData("")]
    [InlineData("line\nbreak")]
    [InlineData("\u0000")]
    public void ValidateIdempotencyKey_EmptyOrWithControlCharacters_IsInvalidIdempotencyKey(string key)
    {
        var problem = Refused(() => Validator.ValidateIdempotencyKey(key));

        Assert.Equal((SwitchboardErrorKind.Invalid, "invalid-idempotency-key"), (problem.Kind, problem.Code));
    }

    [Fact]
    public void ValidateIdempotencyKey_AtAndOverMaxLength_PassesThenIsInvalid()
    {
        _options.MaxIdempotencyKeyLength = 8;

        Validator.ValidateIdempotencyKey(new string('k', 8));
        Assert.Equal("invalid-idempotency-key", Refused(() => Validator.ValidateIdempotencyKey(new string('k', 9))).Code);
        Assert.Equal("invalid-idempotency-key", Refused(() => EventDraftValidator.ValidateIdempotencyKey(new string('k', 9), 8)).Code);
    }

    [Fact]
    public void PayloadTooLarge_IsThe413CodeWithTheGivenDetail()
    {
        var problem = EventDraftValidator.PayloadTooLarge("The batch is larger than the limit of 10 bytes.");

        Assert.Equal((SwitchboardErrorKind.TooLarge, "payload-too-large", "Payload too large", "The batch is larger than the limit of 10 bytes."),
            (problem.Kind, problem.Code, problem.Title, problem.Message));
    }

    [Fact]
    public void DataArray_OfASlice_IsACopyOfJustTheSlice()
    {
        var backing = "xx{}yy"u8.ToArray();

        var draft = new EventDraft("t", "message", backing.AsMemory(2, 2));

        Assert.Equal("{}"u8.ToArray(), draft.DataArray());
        Assert.NotSame(backing, draft.DataArray());
    }
}
