using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Switchboard.AspNetCore.Http;
using Switchboard.Auth;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Auth;

/// <summary>
/// Turns a request's credential into a <see cref="Caller"/>: an <c>sk_</c> API key (looked up by hash), a subscriber
/// token (a JWT validated by Microsoft.IdentityModel: signature, allowed algorithms only, expiry, not-before, and
/// issuer and audience when configured), or none. The credential comes from <c>Authorization: Bearer</c>, or from
/// <c>access_token</c> in the query, because EventSource and browser WebSockets cannot set headers.
/// </summary>
internal sealed partial class SwitchboardAuthenticator
{
    /// <summary>How long a found API key is trusted without asking the store again (a revoked key stops working within it).</summary>
    private static readonly TimeSpan KeyCacheDuration = TimeSpan.FromSeconds(10);

    /// <summary>How often open mode re-counts the stored keys, so a key created by the CLI protects a running hub soon.</summary>
    private static readonly TimeSpan KeyCountRefresh = TimeSpan.FromSeconds(5);

    private static readonly IReadOnlySet<string> NoScopes = new HashSet<string>();

    private readonly AuthOptions _options;
    private readonly IApiKeyStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly JsonWebTokenHandler _tokens = new();
    private readonly TokenValidationParameters? _validation;
    private readonly IReadOnlyList<TopicPattern> _publicTopics;

    // Open and anonymous callers carry nothing per request (their rate bucket is the client IP, read from the
    // connection), so every such request shares one instance instead of allocating one per open stream.
    private readonly Caller _open;
    private readonly Caller _anonymous;
    private readonly Dictionary<string, ApiKey> _configuredKeys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (ApiKey Key, long FoundAt)> _keyCache = new(StringComparer.Ordinal);
    private volatile StoredKeyCount? _storedKeys;

    /// <summary>The stored-key count last seen (-1 before the first), so a running hub says when a key protects or opens it.</summary>
    private int _lastStoredCount = -1;

    public SwitchboardAuthenticator(IOptions<AuthOptions> options, IApiKeyStore store, TimeProvider time, ILogger<SwitchboardAuthenticator> logger)
    {
        _options = options.Value;
        _store = store;
        _time = time;
        _logger = logger;
        _publicTopics = _options.PublicTopics.Select(TopicPattern.Parse).ToArray();
        _open = new Caller(CallerKind.Open, null, NoScopes, null, null, _publicTopics, null, null, null);
        _anonymous = new Caller(CallerKind.Anonymous, null, NoScopes, [], [], _publicTopics, null, null, null);
        foreach (var configured in _options.ApiKeys)
        {
            var hash = configured.Hash?.ToLowerInvariant() ?? ApiKey.HashOf(configured.Key!);
            _configuredKeys[hash] = new ApiKey("config:" + (configured.Name ?? hash[..8]), hash, configured.Key?[..9] ?? "(hash)", configured.Name,
                configured.Scopes, configured.Topics, DateTimeOffset.MinValue);
        }

        _validation = _options.TokensConfigured ? BuildValidation(_options) : null;
    }

    public IReadOnlyList<TopicPattern> PublicTopics => _publicTopics;

    /// <summary>True when credentials are configured in options (tokens or keys); stored keys are counted separately.</summary>
    private bool ConfiguredCredentials => _validation is not null || _configuredKeys.Count > 0;

    /// <summary>Open ("protected") mode: no credential of any kind exists, so loopback callers may do anything.</summary>
    public async ValueTask<bool> IsOpenAsync(CancellationToken cancellationToken)
    {
        if (ConfiguredCredentials)
        {
            return false;
        }

        var count = _storedKeys;
        if (count is null || _time.GetElapsedTime(count.CountedAt) > KeyCountRefresh)
        {
            count = new StoredKeyCount(await _store.CountAsync(cancellationToken), _time.GetTimestamp());
            _storedKeys = count;
            NoteStoredCount(count.Count);
        }

        return count.Count == 0;
    }

    /// <summary>
    /// What protects the hub now, counted afresh: the stored and configured API keys and the token verifiers. The start-up
    /// line is made from it, so an operator sees which file's keys locked the hub.
    /// </summary>
    public async Task<AccessSummary> DescribeAsync(CancellationToken cancellationToken)
    {
        var stored = await _store.CountAsync(cancellationToken);
        _storedKeys = new StoredKeyCount(stored, _time.GetTimestamp());
        NoteStoredCount(stored);
        var verifiers = new List<string>();
        if (!string.IsNullOrEmpty(_options.JwtSecret))
        {
            verifiers.Add("a subscriber-token secret (HS256)");
        }

        if (!string.IsNullOrEmpty(_options.JwtPublicKeyPath))
        {
            verifiers.Add($"a subscriber-token public key ({_options.JwtPublicKeyPath})");
        }

        if (!string.IsNullOrEmpty(_options.JwksPath))
        {
            verifiers.Add($"a subscriber-token key set ({_options.JwksPath})");
        }

        return new AccessSummary(stored, _configuredKeys.Count, verifiers, _options.PublicTopics);
    }

    /// <summary>Logs the moment the first stored key protects an open hub, or the last one's revocation opens it again.</summary>
    private void NoteStoredCount(int count)
    {
        var previous = Interlocked.Exchange(ref _lastStoredCount, count);
        if (previous < 0 || (previous == 0) == (count == 0) || ConfiguredCredentials)
        {
            return;
        }

        if (count > 0)
        {
            LogNowProtected(_logger, count);
        }
        else
        {
            LogNowOpen(_logger);
        }
    }

    /// <summary>Forgets cached keys and the key count, after a key was created or revoked here.</summary>
    public void KeysChanged()
    {
        _keyCache.Clear();
        _storedKeys = null;
    }

    /// <summary>The request's caller, resolved once and kept on the request. Throws a 401 problem for a bad credential.</summary>
    public async ValueTask<Caller> AuthenticateAsync(HttpContext context)
    {
        if (context.Features.Get<Caller>() is { } known)
        {
            return known;
        }

        var caller = await ResolveAsync(context);
        context.Features.Set(caller);
        return caller;
    }

    /// <summary>Validates a token sent later on a WebSocket (<c>op: refresh</c>).</summary>
    public Task<Caller> AuthenticateTokenAsync(string token, IPAddress? remote) => ValidateTokenAsync(token, remote);

    private async Task<Caller> ResolveAsync(HttpContext context)
    {
        var remote = context.RemoteIp();
        var credential = CredentialOf(context.Request);
        if (await IsOpenAsync(context.RequestAborted))
        {
            // Credentials mean nothing when none are configured. Open mode is for loopback: a request that reached a
            // public address (a hub started with --insecure aside) is treated as anonymous, so even a missed start-up
            // check cannot open the hub to the network.
            var local = context.LocalIp();
            if (!(_options.Insecure || local is null || IPAddress.IsLoopback(local)))
            {
                return _anonymous;
            }

            // Open mode trusts this machine, not every page its browsers load: CORS keeps a foreign page from reading
            // answers, but a "simple" cross-origin POST (text/plain, no preflight) is still sent and would publish,
            // create an admin key (locking the owner out) or register a webhook that carries every event away. Reads
            // change nothing, and CORS already hides their answers from such a page.
            if (context.Request.Headers.Origin.Count > 0 && !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
                && !HttpMethods.IsOptions(context.Request.Method)
                && !Origins.IsRequestOriginAllowed(context.Request, Origins.Allowed(context.Options<CorsOptions>(), context.Options<WebSocketOptions>())))
            {
                throw new SwitchboardException(SwitchboardErrorKind.Forbidden, "origin-not-allowed", "Origin not allowed",
                    $"Origin '{context.Request.Headers.Origin}' may not use this hub: with no credentials configured it trusts this machine, "
                    + "not the pages its browsers open. Add the origin to Switchboard:Cors:AllowedOrigins, or configure credentials.");
            }

            return _open;
        }

        if (credential is null)
        {
            return _anonymous;
        }

        return credential.StartsWith(ApiKey.Prefix, StringComparison.Ordinal)
            ? await ValidateKeyAsync(credential, context.RequestAborted)
            : await ValidateTokenAsync(credential, remote);
    }

    /// <summary>The bearer credential: the Authorization header wins over the <c>access_token</c> query parameter.</summary>
    private static string? CredentialOf(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.Length > 0)
        {
            const string Bearer = "Bearer ";
            if (!header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase) || header.Length == Bearer.Length)
            {
                throw Unauthorized("invalid-credential", "The Authorization header must be 'Bearer <API key or token>'.");
            }

            return header[Bearer.Length..].Trim();
        }

        var token = QueryValues.Get(request, "access_token").ToString();
        return string.IsNullOrEmpty(token) ? null : token;
    }

    private async Task<Caller> ValidateKeyAsync(string secret, CancellationToken cancellationToken)
    {
        var hash = ApiKey.HashOf(secret);
        if (!_configuredKeys.TryGetValue(hash, out var key))
        {
            if (_keyCache.TryGetValue(hash, out var cached) && _time.GetElapsedTime(cached.FoundAt) < KeyCacheDuration)
            {
                key = cached.Key;
            }
            else
            {
                key = await _store.FindByHashAsync(hash, cancellationToken)
                    ?? throw Unauthorized("invalid-api-key", "The API key is not known to this hub (it may have been revoked).");
                _keyCache[hash] = (key, _time.GetTimestamp());
            }
        }

        var scopes = key.Scopes.ToHashSet(StringComparer.Ordinal);
        var topics = key.Topics.Count == 0 ? null : key.Topics.Select(TopicPattern.Parse).ToArray();
        return new Caller(CallerKind.ApiKey, key.Id, scopes,
            scopes.Contains(ApiKeyScopes.Publish) ? topics : [],
            scopes.Contains(ApiKeyScopes.Subscribe) ? topics : [],
            _publicTopics, null, null, "key:" + key.Id);
    }

    private async Task<Caller> ValidateTokenAsync(string token, IPAddress? remote)
    {
        if (_validation is null)
        {
            throw Unauthorized("invalid-token", "This hub accepts no subscriber tokens: configure Switchboard:Auth:JwtSecret (HS256), JwtPublicKeyPath or JwksPath.");
        }

        var result = await _tokens.ValidateTokenAsync(token, _validation);
        if (!result.IsValid)
        {
            // The library's message can quote the token; only its kind goes back to the client and the log.
            var reason = result.Exception switch
            {
                SecurityTokenExpiredException => "expired",
                SecurityTokenNotYetValidException => "not yet valid",
                SecurityTokenInvalidAlgorithmException => "signed with an algorithm this hub does not accept",
                SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "signature does not verify",
                SecurityTokenInvalidIssuerException => "issued by someone else (iss)",
                SecurityTokenInvalidAudienceException => "for another audience (aud)",
                SecurityTokenNoExpirationException => "without an expiry (exp)",
                SecurityTokenMalformedException or ArgumentException => "malformed",
                _ => "invalid",
            };
            LogTokenRefused(_logger, reason, remote);
            throw Unauthorized(result.Exception is SecurityTokenExpiredException ? "token-expired" : "invalid-token", $"The token is {reason}.");
        }

        var jwt = (JsonWebToken)result.SecurityToken;
        if (jwt.TryGetHeaderValue<object>("crit", out _))
        {
            // RFC 7515 4.1.11: a token naming extensions its reader must understand is invalid to a reader that
            // understands none, even when its signature verifies.
            LogTokenRefused(_logger, "critical header extensions", remote);
            throw Unauthorized("invalid-token", "The token names critical header extensions (crit) that this hub does not understand.");
        }

        var subject = jwt.Subject;
        if (string.IsNullOrEmpty(subject))
        {
            throw Unauthorized("invalid-token", "The token has no subject (sub).");
        }

        var (publish, subscribe, presence) = ReadGrants(jwt);
        DateTimeOffset? expires = jwt.ValidTo == DateTime.MinValue ? null : ExpiryWithSkew(new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero));
        return new Caller(CallerKind.Token, subject, NoScopes, publish, subscribe, _publicTopics, presence, expires, "sub:" + subject);
    }

    // A token that "never expires" carries an exp near the end of year 9999; adding the skew to it must not overflow.
    private DateTimeOffset ExpiryWithSkew(DateTimeOffset validTo) =>
        validTo > DateTimeOffset.MaxValue - _options.ClockSkew ? DateTimeOffset.MaxValue : validTo + _options.ClockSkew;

    /// <summary>The <c>switchboard</c> claim: <c>{"subscribe": [...], "publish": [...], "presence": "name"}</c>; missing lists grant nothing.</summary>
    private static (TopicPattern[] Publish, TopicPattern[] Subscribe, string? Presence) ReadGrants(JsonWebToken jwt)
    {
        // The signature is verified by now; the payload is read as JSON here because the claim is a nested object.
        using var payload = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.EncodedPayload));
        if (!payload.RootElement.TryGetProperty("switchboard", out var claim))
        {
            return ([], [], null);
        }

        if (claim.ValueKind != JsonValueKind.Object)
        {
            throw Unauthorized("invalid-token", "The token's switchboard claim must be an object with subscribe, publish and presence.");
        }

        string? presence = null;
        if (claim.TryGetProperty("presence", out var name))
        {
            presence = name.ValueKind == JsonValueKind.String && name.GetString() is { } text && WebSockets.PresenceNames.IsValid(text)
                ? text
                : throw Unauthorized("invalid-token", "The token's presence claim is not a valid name. " + WebSockets.PresenceNames.Rule);
        }

        return (Patterns(claim, "publish"), Patterns(claim, "subscribe"), presence);
    }

    private static TopicPattern[] Patterns(JsonElement claim, string name)
    {
        if (!claim.TryGetProperty(name, out var list))
        {
            return [];
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            throw Unauthorized("invalid-token", $"The token's switchboard.{name} must be an array of topic patterns.");
        }

        return list.EnumerateArray().Select(item =>
            item.ValueKind == JsonValueKind.String && TopicPattern.TryParse(item.GetString(), 1024, out _) is { } pattern
                ? pattern
                : throw Unauthorized("invalid-token", $"The token's switchboard.{name} holds an invalid topic pattern.")).ToArray();
    }

    private static TokenValidationParameters BuildValidation(AuthOptions options)
    {
        var keys = new List<SecurityKey>();
        var algorithms = new List<string>();
        if (!string.IsNullOrEmpty(options.JwtSecret))
        {
            keys.Add(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.JwtSecret)));
            algorithms.Add(SecurityAlgorithms.HmacSha256);
        }

        if (!string.IsNullOrEmpty(options.JwtPublicKeyPath))
        {
            keys.Add(ReadPublicKey(File.ReadAllText(options.JwtPublicKeyPath)));
        }

        if (!string.IsNullOrEmpty(options.JwksPath))
        {
            keys.AddRange(new JsonWebKeySet(File.ReadAllText(options.JwksPath)).GetSigningKeys());
        }

        if (keys.Count > (string.IsNullOrEmpty(options.JwtSecret) ? 0 : 1))
        {
            algorithms.Add(SecurityAlgorithms.RsaSha256);
            algorithms.Add(SecurityAlgorithms.EcdsaSha256);
        }

        return new TokenValidationParameters
        {
            IssuerSigningKeys = keys,
            ValidAlgorithms = algorithms, // never "none": unsigned tokens fail RequireSignedTokens and this list
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = true,
            TryAllIssuerSigningKeys = true,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = options.ClockSkew,
            ValidateIssuer = options.Issuer is not null,
            ValidIssuer = options.Issuer,
            ValidateAudience = options.Audience is not null,
            ValidAudience = options.Audience,
        };
    }

    /// <summary>An RSA or EC public key, or a certificate, in PEM.</summary>
    private static SecurityKey ReadPublicKey(string pem)
    {
        if (pem.Contains("CERTIFICATE", StringComparison.Ordinal))
        {
            return new X509SecurityKey(X509Certificate2.CreateFromPem(pem));
        }

        try
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (ArgumentException)
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
    }

    internal static SwitchboardException Unauthorized(string code, string detail) =>
        new(SwitchboardErrorKind.Unauthorized, code, "Unauthorized", detail);

    private sealed record StoredKeyCount(int Count, long CountedAt);

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Refused a subscriber token from {Remote}: {Reason}")]
    private static partial void LogTokenRefused(ILogger logger, string reason, IPAddress? remote);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "An API key was created: the hub is now protected ({Count} stored), and callers without a credential are refused")]
    private static partial void LogNowProtected(ILogger logger, int count);

    [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "The last API key was revoked and no other credential is configured: the hub is open again")]
    private static partial void LogNowOpen(ILogger logger);
}

/// <summary>What protects a hub: API keys (stored and configured), subscriber-token verifiers, and the topics anyone may read.</summary>
internal sealed record AccessSummary(int StoredKeys, int ConfiguredKeys, IReadOnlyList<string> TokenVerifiers, IReadOnlyList<string> PublicTopics)
{
    /// <summary>No credential of any kind: loopback callers may do anything (see <see cref="SwitchboardAuthenticator.IsOpenAsync"/>).</summary>
    public bool IsOpen => StoredKeys + ConfiguredKeys == 0 && TokenVerifiers.Count == 0;
}
