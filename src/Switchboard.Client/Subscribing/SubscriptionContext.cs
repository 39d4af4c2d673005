using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Switchboard.Client;

/// <summary>What every transport of one subscription shares: the patterns, the position, the credential, the HTTP client.</summary>
internal sealed class SubscriptionContext(SwitchboardClientOptions options, TokenSource tokens, Func<HttpClient> http, Uri baseAddress, ILogger logger,
    IReadOnlyList<string> patterns, string cursor)
{
    public SwitchboardClientOptions Options { get; } = options;

    public TokenSource Tokens { get; } = tokens;

    public Uri BaseAddress { get; } = baseAddress;

    public ILogger Logger { get; } = logger;

    public IReadOnlyList<string> Patterns { get; } = patterns;

    /// <summary>Where the next connection resumes: a cursor, or <c>earliest</c>/<c>latest</c> before the first position is known.</summary>
    public string Cursor { get; set; } = cursor;

    /// <summary>Set by a transport when its connection delivered its first frame; a failure before that makes the client fall back.</summary>
    public bool Established { get; set; }

    public HttpClient CreateHttpClient() => http();

    public static bool IsKeyword(string cursor) => cursor is "earliest" or "latest";

    /// <summary><c>topic=a&amp;topic=b</c>.</summary>
    public string TopicQuery()
    {
        var query = new StringBuilder();
        foreach (var pattern in Patterns)
        {
            query.Append(query.Length == 0 ? "" : "&").Append("topic=").Append(Uri.EscapeDataString(pattern));
        }

        return query.ToString();
    }

    public async ValueTask<string?> AuthorizeAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = await Tokens.GetAsync(cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return token;
    }

    /// <summary>A token cancelled by <paramref name="cancellationToken"/> or after <paramref name="timeout"/> on the client's clock.</summary>
    public Deadline Timeout(TimeSpan timeout, CancellationToken cancellationToken) => new(timeout, Options.TimeProvider, cancellationToken);
}

/// <summary>
/// The caller's token linked with a timeout on a <see cref="TimeProvider"/>. The timeout is a
/// <see cref="CancellationTokenSource"/> of its own, whose timer may fire while this is being disposed without throwing.
/// </summary>
internal sealed class Deadline : IDisposable
{
    private readonly CancellationTokenSource? _timeout;
    private readonly CancellationTokenSource _source;

    public Deadline(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (timeout == System.Threading.Timeout.InfiniteTimeSpan)
        {
            _source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }
        else
        {
            _timeout = new CancellationTokenSource(timeout, time);
            _source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _timeout.Token);
        }
    }

    public CancellationToken Token => _source.Token;

    public bool IsCancellationRequested => _source.IsCancellationRequested;

    public void Dispose()
    {
        _source.Dispose();
        _timeout?.Dispose();
    }
}

/// <summary>One way of receiving a subscription's events, from <see cref="SubscriptionContext.Cursor"/> on.</summary>
internal interface ISubscriptionTransport
{
    SwitchboardTransport Kind { get; }

    /// <summary>Connects once and yields what arrives; ends when the hub ends the connection, throws when it fails.</summary>
    IAsyncEnumerable<Delivery> RunAsync(SubscriptionContext context, CancellationToken cancellationToken);
}
