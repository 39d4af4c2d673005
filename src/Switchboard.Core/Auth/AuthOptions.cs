using System.ComponentModel.DataAnnotations;
using System.Text;
using Switchboard.Topics;

namespace Switchboard.Auth;

/// <summary>
/// Who may do what (<c>Switchboard:Auth</c>). With nothing configured here and no API key stored, the hub runs in
/// open ("protected") mode: it serves loopback only, and allows everything there.
/// </summary>
public sealed class AuthOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Auth";

    /// <summary>The HS256 shared secret for subscriber tokens (at least 32 bytes). Environment: <c>Switchboard__Auth__JwtSecret</c>.</summary>
    public string? JwtSecret { get; set; }

    /// <summary>A PEM file with the RSA or EC public key (or certificate) that verifies RS256/ES256 subscriber tokens.</summary>
    public string? JwtPublicKeyPath { get; set; }

    /// <summary>A JWKS file (RFC 7517 key set) that verifies RS256/ES256 subscriber tokens, selected by <c>kid</c>.</summary>
    public string? JwksPath { get; set; }

    /// <summary>When set, a token's <c>iss</c> must equal it.</summary>
    public string? Issuer { get; set; }

    /// <summary>When set, a token's <c>aud</c> must contain it.</summary>
    public string? Audience { get; set; }

    /// <summary>Tolerance for clock drift on <c>exp</c> and <c>nbf</c>. Default 30 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00", "00:05:00", ErrorMessage = "Auth:ClockSkew must be between 0 and 5 minutes.")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>API keys given in configuration (besides those created with <c>switchboard keys create</c>).</summary>
    public List<ConfiguredApiKey> ApiKeys { get; set; } = [];

    /// <summary>Topic patterns anyone may read without credentials, for example <c>public.&gt;</c>.</summary>
    public List<string> PublicTopics { get; set; } = [];

    /// <summary>
    /// Serve on non-loopback addresses with no credentials configured, everything open. Only for trusted networks;
    /// the hub logs a warning at start. <c>switchboard serve --insecure</c> sets it.
    /// </summary>
    public bool Insecure { get; set; }

    /// <summary>True when subscriber tokens can be verified.</summary>
    public bool TokensConfigured => !string.IsNullOrEmpty(JwtSecret) || !string.IsNullOrEmpty(JwtPublicKeyPath) || !string.IsNullOrEmpty(JwksPath);

    /// <inheritdoc />
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        var rules = new OptionRules();
        var require = rules.Require;
        require(JwtSecret is null || Encoding.UTF8.GetByteCount(JwtSecret) >= 32,
            "Auth:JwtSecret must be at least 32 bytes (256 bits) for HS256; generate one with `openssl rand -base64 48`.");
        require(JwtPublicKeyPath is null || File.Exists(JwtPublicKeyPath), $"Auth:JwtPublicKeyPath '{JwtPublicKeyPath}' does not exist.");
        require(JwksPath is null || File.Exists(JwksPath), $"Auth:JwksPath '{JwksPath}' does not exist.");
        foreach (var pattern in PublicTopics)
        {
            require(TopicPattern.TryParse(pattern, 1024, out _) is not null, $"Auth:PublicTopics entry '{pattern}' is not a valid topic pattern.");
        }

        for (var i = 0; i < ApiKeys.Count; i++)
        {
            var key = ApiKeys[i];
            require((key.Key is null) != (key.Hash is null), $"Auth:ApiKeys:{i} needs exactly one of Key (sk_...) or Hash (its SHA-256, hex).");
            require(key.Key is null || (key.Key.StartsWith(ApiKey.Prefix, StringComparison.Ordinal) && key.Key.Length >= 24),
                $"Auth:ApiKeys:{i}:Key must start with {ApiKey.Prefix} and be at least 24 characters.");
            require(key.Hash is null || (key.Hash.Length == 64 && key.Hash.All(Uri.IsHexDigit)), $"Auth:ApiKeys:{i}:Hash must be 64 hex digits (SHA-256).");
            require(key.Scopes.Count > 0, $"Auth:ApiKeys:{i}:Scopes must name at least one of {string.Join(", ", ApiKeyScopes.All)}.");
            foreach (var scope in key.Scopes)
            {
                require(ApiKeyScopes.All.Contains(scope), $"Auth:ApiKeys:{i}:Scopes entry '{scope}' is not one of {string.Join(", ", ApiKeyScopes.All)}.");
            }

            foreach (var pattern in key.Topics)
            {
                require(TopicPattern.TryParse(pattern, 1024, out _) is not null, $"Auth:ApiKeys:{i}:Topics entry '{pattern}' is not a valid topic pattern.");
            }
        }

        return rules.Failures;
    }
}

/// <summary>An API key from configuration: the key itself or its hash, its scopes, and optionally the topics it is limited to.</summary>
public sealed class ConfiguredApiKey
{
    /// <summary>A name for logs and listings.</summary>
    public string? Name { get; set; }

    /// <summary>The key, <c>sk_...</c>. Prefer <see cref="Hash"/>, so the configuration holds no secret.</summary>
    public string? Key { get; set; }

    /// <summary>The key's SHA-256, lower-case hex (what <c>switchboard keys create</c> prints as hash).</summary>
    public string? Hash { get; set; }

    /// <summary><c>publish</c>, <c>subscribe</c>, <c>admin</c>, <c>worker</c>.</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>Topic patterns publish and subscribe are limited to; empty means every topic.</summary>
    public List<string> Topics { get; set; } = [];
}

/// <summary>Browser origins allowed by CORS and the WebSocket Origin check (<c>Switchboard:Cors</c>).</summary>
public sealed class CorsOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Cors";

    /// <summary>
    /// Origins allowed besides the server's own and localhost, for example <c>https://app.example.com</c>; <c>*</c> allows any.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];
}
