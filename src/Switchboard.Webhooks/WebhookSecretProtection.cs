using Microsoft.AspNetCore.DataProtection;

namespace Switchboard.Webhooks;

/// <summary>
/// Encrypts what a webhook endpoint holds that is a credential, before a store writes it: the signing secrets, and
/// the URL when it carries credentials (<c>https://user:pass@host/</c>). ASP.NET Core Data Protection does the
/// cryptography (authenticated encryption, keys rotated every 90 days, old keys kept to decrypt). A stored value is
/// <c>dp1:</c> + the protected payload; anything else is clear text written by an older version, read as it is and
/// rewritten protected on start.
/// </summary>
public sealed class WebhookSecretProtection
{
    private const string Prefix = "dp1:";
    private readonly IDataProtector _protector;

    /// <summary>Protects with a purpose of its own from <paramref name="provider"/>.</summary>
    public WebhookSecretProtection(IDataProtectionProvider provider) => _protector = provider.CreateProtector("Switchboard.Webhooks.Secrets.v1");

    /// <summary>A key ring kept in <paramref name="keysDirectory"/> (created owner-only), for one hub's store.</summary>
    public static WebhookSecretProtection ForDirectory(string keysDirectory)
    {
        var directory = Path.GetFullPath(keysDirectory);
        try
        {
            if (!Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(directory);
                }
                else
                {
                    Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new Switchboard.Log.StoreOpenException(
                $"Cannot open the key ring at {directory}: {ex.Message.TrimEnd('.')}. Pass --keys with a folder this user may create or write (it encrypts the webhook secrets; back it up with the database).", ex);
        }

        return new WebhookSecretProtection(DataProtectionProvider.Create(new DirectoryInfo(directory), builder => builder.SetApplicationName("Switchboard")));
    }

    /// <summary>The key ring folder a SQLite database uses unless configured: <c>&lt;db&gt;.keys</c> beside it.</summary>
    public static string DefaultKeysDirectory(string databasePath) => Path.GetFullPath(databasePath) + ".keys";

    /// <summary>True when a stored value is already encrypted (or absent).</summary>
    public static bool IsProtected(string? stored) => stored is null || stored.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>Encrypts a value for storage.</summary>
    public string Protect(string plain) => Prefix + _protector.Protect(plain);

    /// <summary>Encrypts a value for storage; null stays null.</summary>
    public string? ProtectOptional(string? plain) => plain is null ? null : Protect(plain);

    /// <summary>Decrypts a stored value; clear text from an older version is returned as it is.</summary>
    public string Unprotect(string stored) => stored.StartsWith(Prefix, StringComparison.Ordinal) ? _protector.Unprotect(stored[Prefix.Length..]) : stored;

    /// <summary>Decrypts a stored value; null stays null.</summary>
    public string? UnprotectOptional(string? stored) => stored is null ? null : Unprotect(stored);

    /// <summary>A URL with credentials is stored encrypted; one without stays readable (it is no secret, and it helps an operator).</summary>
    public string ProtectUrl(string url) => HasCredentials(url) ? Protect(url) : url;

    /// <summary>True when a stored URL is clear text with credentials in it (a row to migrate).</summary>
    public static bool UrlNeedsProtection(string stored) => !IsProtected(stored) && HasCredentials(stored);

    /// <summary>True when the URL carries user information.</summary>
    public static bool HasCredentials(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0;

    /// <summary>The URL as the API shows it: a password becomes <c>***</c> (<c>https://user:***@host/</c>).</summary>
    public static string Redact(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.UserInfo.Length == 0)
        {
            return url;
        }

        var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
        var user = colon < 0 ? uri.UserInfo : uri.UserInfo[..colon];
        var at = url.IndexOf('@', url.IndexOf("//", StringComparison.Ordinal) + 2);
        return url[..(url.IndexOf("//", StringComparison.Ordinal) + 2)] + user + ":***" + url[at..];
    }
}
