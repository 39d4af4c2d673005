using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Switchboard.AspNetCore.Http;

namespace Switchboard.AspNetCore.Tests.Http;

/// <summary>
/// Reading a parameter from the raw query gives what <c>Request.Query</c> gives, without building (and keeping) the
/// request's query collection.
/// </summary>
public sealed class QueryValuesTests
{
    public static TheoryData<string, string> Cases => new()
    {
        { "", "topic" },
        { "?", "topic" },
        { "?topic=a", "topic" },
        { "?topic=a&topic=b.%3E&after=3", "topic" },
        { "?TOPIC=a&Topic=b", "topic" },
        { "?topic=", "topic" },
        { "?topic", "topic" },
        { "?topic=a+b%20c", "topic" },
        { "?to%70ic=encoded-name", "topic" },
        { "?topic=%E6%97%A5%E6%9C%AC&x=1", "topic" },
        { "?topic=%ZZbad%", "topic" },
        { "?a=1&&b=2&topic=c&", "topic" },
        { "?access_token=eyJ.x.y", "access_token" },
        { "?topics=a", "topic" },
        { "?wait=2.5&wait=1", "wait" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Get_GivesWhatRequestQueryGives(string queryString, string name)
    {
        var expected = new DefaultHttpContext { Request = { QueryString = new QueryString(queryString) } }.Request.Query[name];
        var request = new DefaultHttpContext { Request = { QueryString = new QueryString(queryString) } }.Request;

        Assert.Equal(expected.ToArray(), QueryValues.Get(request, name).ToArray());
    }

    [Fact]
    public void Get_LeavesNoQueryCollectionOnTheRequest()
    {
        var context = new DefaultHttpContext { Request = { QueryString = new QueryString("?topic=a&after=1") } };

        Assert.Equal("a", QueryValues.Get(context.Request, "topic").ToString());
        Assert.Null(context.Features.Get<IQueryFeature>());
    }
}
