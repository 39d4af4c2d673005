using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Switchboard.Client;

/// <summary>
/// Issues subscriber tokens for browsers and devices, as an app's backend does: HS256 JWTs signed with the hub's
/// <c>Switchboard:Auth:JwtSecret</c>, with <c>sub</c>, <c>iat</c>/<c>nbf</c>/<c>exp</c> and a <c>switchboard</c> claim holding the
/// patterns the holder may subscribe and publish to and its presence name. <c>switchboard token</c> uses it.
/// </summary>
public static class SubscriberTokens
{
    /// <summary>The shortest secret the hub accepts, in UTF-8 bytes.</summary>
    public const int MinSecretBytes = 32;

    /// <summary>Creates a signed token valid from now for <paramref name="ttl"/>.</summary>
    /// <param name="secret">The hub's <c>Switchboard:Auth:JwtSecret</c> (at least 32 bytes).</param>
    /// <param name="subject">The <c>sub</c>: who holds the token.</param>
    /// <param name="subscribe">Patterns the holder may read (none when empty).</param>
    /// <param name="publish">Patterns the holder may publish to (none when empty).</param>
    /// <param name="presence">The name others see in rooms; null for <paramref name="subject"/>.</param>
    /// <param name="ttl">How long the token is valid.</param>
    /// <param name="issuer">The <c>iss</c>, when the hub checks it.</param>
    /// <param name="audience">The <c>aud</c>, when the hub checks it.</param>
    /// <param name="timeProvider">The clock (default the system's).</param>
    public static string Create(string secret, string subject, IReadOnlyCollection<string> subscribe, IReadOnlyCollection<string> publish,
        string? presence, TimeSpan ttl, string? issuer = null, string? audience = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentException.ThrowIfNullOrEmpty(subject);
        ArgumentNullException.ThrowIfNull(subscribe);
        ArgumentNullException.ThrowIfNull(publish);
        if (Encoding.UTF8.GetByteCount(secret) < MinSecretBytes)
        {
            throw new ArgumentException($"The secret must be at least {MinSecretBytes} bytes.", nameof(secret));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        var grants = new Dictionary<string, object>
        {
            ["subscribe"] = subscribe.ToList(),
            ["publish"] = publish.ToList(),
        };
        if (presence is not null)
        {
            grants["presence"] = presence;
        }

        var now = (timeProvider ?? TimeProvider.System).GetUtcNow().UtcDateTime;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = new Dictionary<string, object> { ["sub"] = subject, ["switchboard"] = grants },
            IssuedAt = now,
            NotBefore = now,
            Expires = now + ttl,
            Issuer = issuer,
            Audience = audience,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
        });
    }
}
