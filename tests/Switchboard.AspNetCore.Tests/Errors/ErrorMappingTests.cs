using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Switchboard.AspNetCore.Http;
using Switchboard.Log;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Tests.Errors;

/// <summary>The one mapping from error kinds to HTTP statuses, problem+json and WebSocket error ops, without a server.</summary>
public sealed class ErrorMappingTests
{
    [Theory]
    [InlineData(SwitchboardErrorKind.Invalid, 400)]
    [InlineData(SwitchboardErrorKind.Unauthorized, 401)]
    [InlineData(SwitchboardErrorKind.Forbidden, 403)]
    [InlineData(SwitchboardErrorKind.NotFound, 404)]
    [InlineData(SwitchboardErrorKind.Conflict, 409)]
    [InlineData(SwitchboardErrorKind.Gone, 410)]
    [InlineData(SwitchboardErrorKind.TooLarge, 413)]
    [InlineData(SwitchboardErrorKind.Mismatch, 422)]
    [InlineData(SwitchboardErrorKind.RateLimited, 429)]
    [InlineData(SwitchboardErrorKind.Unavailable, 503)]
    [InlineData(SwitchboardErrorKind.Full, 507)]
    public void StatusFor_EachKind_IsTheStatusClientsAlreadySee(SwitchboardErrorKind kind, int status) =>
        Assert.Equal(status, ErrorMapping.StatusFor(kind));

    [Fact]
    public void StatusFor_CoversEveryKind()
    {
        // A kind added without a status would answer 500 the first time an engine throws it.
        foreach (var kind in Enum.GetValues<SwitchboardErrorKind>())
        {
            Assert.InRange(ErrorMapping.StatusFor(kind), 400, 599);
        }
    }

    [Fact]
    public void ToProblem_Unavailable_WithRetryAfter_SetsTheHeaderSeconds_AndTheBodyMember()
    {
        var problem = ErrorMapping.ToProblem(SwitchboardException.Unavailable("too-many-waiters", "Too many held requests", "Retry shortly.", TimeSpan.FromSeconds(1)));

        Assert.Equal((503, 1), (problem.Status, problem.RetryAfterSeconds));
        Assert.Equal([new KeyValuePair<string, object?>("retryAfter", "1")], problem.Extensions);
    }

    [Fact]
    public void ToProblem_Unavailable_WithoutRetryAfter_HasNoRetryAfter()
    {
        var problem = ErrorMapping.ToProblem(SwitchboardException.Unavailable("too-many-playgrounds", "Too many playground sessions", "Stop one."));

        Assert.Equal((503, (int?)null), (problem.Status, problem.RetryAfterSeconds));
        Assert.Empty(problem.Extensions);
    }

    [Fact]
    public void ToProblem_PartOfASecond_RoundsUp()
    {
        // Retry-After is whole seconds; rounding down would tell a client to retry before the wait is over.
        var problem = ErrorMapping.ToProblem(SwitchboardException.RateLimited("rate-limited", "Too many requests", "Slow down.", TimeSpan.FromMilliseconds(1200)));

        Assert.Equal((429, 2), (problem.Status, problem.RetryAfterSeconds));
    }

    [Fact]
    public async Task WriteAsync_Unavailable_WritesRetryAfterHeader_AndTheSameDocumentAsBefore()
    {
        var context = new DefaultHttpContext();
        context.Request.Path = "/v1/jobs";
        context.Response.Body = new MemoryStream();

        await ProblemResponses.WriteAsync(context, SwitchboardException.Unavailable("too-many-jobs", "Too many unfinished jobs", "Try again.", TimeSpan.FromSeconds(5)));
        await context.Response.BodyWriter.FlushAsync(); // Kestrel flushes when the response ends; a bare context does not

        Assert.Equal(503, context.Response.StatusCode);
        Assert.Equal("5", context.Response.Headers.RetryAfter.ToString());
        Assert.Equal("application/problem+json", context.Response.ContentType);
        Assert.Equal("no-store", context.Response.Headers.CacheControl.ToString());
        Assert.Equal(
            """{"type":"urn:switchboard:problem:too-many-jobs","title":"Too many unfinished jobs","status":503,"detail":"Try again.","code":"too-many-jobs","instance":"/v1/jobs","retryAfter":"5"}""",
            Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()));
    }

    [Fact]
    public async Task WriteAsync_Gone_CarriesTheFreshCursor_AndNoRetryAfter()
    {
        var context = new DefaultHttpContext();
        context.Request.Path = "/v1/events";
        context.Response.Body = new MemoryStream();

        await ProblemResponses.WriteAsync(context, SwitchboardException.Gone("cursor-expired", "Cursor no longer valid", "Restart.", "abc.7"));
        await context.Response.BodyWriter.FlushAsync();

        Assert.Equal(410, context.Response.StatusCode);
        Assert.False(context.Response.Headers.ContainsKey("Retry-After"));
        using var body = JsonDocument.Parse(((MemoryStream)context.Response.Body).ToArray());
        Assert.Equal("abc.7", body.RootElement.GetProperty("cursor").GetString());
        Assert.Equal("cursor-expired", body.RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public void Recognize_StoreFull_IsFull_StoreFull_WithRetryAfter()
    {
        var error = ErrorMapping.Recognize(new StoreFullException("The disk is full."), []);

        Assert.NotNull(error);
        Assert.Equal((SwitchboardErrorKind.Full, "store-full"), (error.Kind, error.Code));
        Assert.Equal(StoreFullException.RetryAfter, error.RetryAfter);
        Assert.Equal((507, 30), (ErrorMapping.ToProblem(error).Status, ErrorMapping.ToProblem(error).RetryAfterSeconds));
    }

    [Fact]
    public void Recognize_AStoreFault_AsItsClassifierSays_AndNotACancellationOrABug()
    {
        var classifiers = new IStoreFaultClassifier[] { new OutageClassifier() };

        Assert.Equal("store-unavailable", ErrorMapping.Recognize(new InvalidOperationException("wrapped", new StoreOutage()), classifiers)?.Code);
        Assert.Null(ErrorMapping.Recognize(new OperationCanceledException(), classifiers));
        Assert.Null(ErrorMapping.Recognize(new InvalidOperationException("a bug"), classifiers));
    }

    [Fact]
    public void ToWebSocketError_UsesTheProblemCode_InTheProtocolsSpelling()
    {
        using var op = JsonDocument.Parse(ErrorMapping.ToWebSocketError(null, StoreProblems.Unavailable("Redis is away.")));

        Assert.Equal("error", op.RootElement.GetProperty("op").GetString());
        Assert.Equal("store_unavailable", op.RootElement.GetProperty("code").GetString());
        Assert.Equal("Redis is away.", op.RootElement.GetProperty("message").GetString());
    }

    internal sealed class StoreOutage : Exception;

    internal sealed class OutageClassifier : IStoreFaultClassifier
    {
        public SwitchboardException? Classify(Exception exception) => exception is StoreOutage ? StoreProblems.Unavailable("The test store is away.") : null;
    }
}
