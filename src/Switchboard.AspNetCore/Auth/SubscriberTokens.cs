using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Switchboard.AspNetCore.Auth;

/// <summary>
/// Issues subscriber tokens (HS256 JWTs) the way an app's backend would: <c>sub</c>, <c>exp</c>, and a
/// <c>switchboard</c> claim with the topic patterns the holder may subscribe and publish to and its presence name.
/// <c>switchboard token</c> uses it for development.
/// </summary>
public static class SubscriberTokens
{
    /// <summary>Creates a signed token valid from now for <paramref name="lifetime"/>.</summary>
    public static string Create(string secret, string subject, IReadOnlyCollection<string> subscribe, IReadOnlyCollection<string> publish,
        string? presence, TimeSpan lifetime, string? issuer = null, string? audience = null, DateTimeOffset? now = null)
    {
        var grants = new Dictionary<string, object>
        {
            ["subscribe"] = subscribe.ToList(),
            ["publish"] = publish.ToList(),
        };
        if (presence is not null)
        {
            grants["presence"] = presence;
        }

        var issuedAt = (now ?? DateTimeOffset.UtcNow).UtcDateTime;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = new Dictionary<string, object> { ["sub"] = subject, ["switchboard"] = grants },
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = issuedAt + lifetime,
            Issuer = issuer,
            Audience = audience,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
        });
    }
}
