using System.Buffers.Text;
using System.Text.Json;

namespace Switchboard.Client;

/// <summary>
/// The credential sent with every request: the fixed <see cref="SwitchboardClientOptions.Token"/>, or the last one from
/// <see cref="SwitchboardClientOptions.GetTokenAsync"/>, fetched again shortly before its <c>exp</c> and when the hub says it expired.
/// </summary>
internal sealed class TokenSource(SwitchboardClientOptions options)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _token = options.GetTokenAsync is null ? options.Token : null;
    private DateTimeOffset? _expires = options.GetTokenAsync is null ? ExpiryOf(options.Token) : null;

    public bool CanRefresh => options.GetTokenAsync is not null;

    /// <summary>The current token's <c>exp</c>, when it is a JWT.</summary>
    public DateTimeOffset? ExpiresAt => _expires;

    public async ValueTask<string?> GetAsync(CancellationToken cancellationToken)
    {
        var token = _token;
        if (!CanRefresh || (token is not null && !DueSoon()))
        {
            return token;
        }

        return await RefreshAsync(token, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Fetches a new token unless another caller already replaced <paramref name="stale"/>.</summary>
    public async ValueTask<string?> RefreshAsync(string? stale, CancellationToken cancellationToken)
    {
        if (options.GetTokenAsync is not { } fetch)
        {
            return _token;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_token is not null && _token != stale && !DueSoon())
            {
                return _token;
            }

            var token = await fetch(cancellationToken).ConfigureAwait(false);
            _token = token;
            _expires = ExpiryOf(token);
            return token;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>When the current token should be replaced, or null when it never expires (an API key).</summary>
    public DateTimeOffset? RefreshDue => _expires is { } exp && CanRefresh ? exp - options.TokenRefreshBefore : null;

    private bool DueSoon() => RefreshDue is { } due && options.TimeProvider.GetUtcNow() >= due;

    /// <summary>Reads a JWT's <c>exp</c> without validating it (the hub does that); null when the credential is not a JWT.</summary>
    internal static DateTimeOffset? ExpiryOf(string? token)
    {
        var parts = token?.Split('.');
        if (parts is not { Length: 3 })
        {
            return null;
        }

        try
        {
            var payload = Base64Url.DecodeFromChars(parts[1]);
            using var document = JsonDocument.Parse(payload);
            return document.RootElement.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var seconds)
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }
}
