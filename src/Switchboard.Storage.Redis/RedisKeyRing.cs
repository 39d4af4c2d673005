using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Redis;

/// <summary>
/// The Data Protection key ring of a hub on Redis, kept in Redis (<c>dataprotection:keys</c>, a hash of key id to
/// key XML) so every node encrypts and decrypts webhook secrets with the same keys; or, when
/// <see cref="RedisStoreOptions.KeysPath"/> is set, in that folder (which every node must share).
/// </summary>
internal sealed class RedisKeyRing(RedisConnection redis) : IXmlRepository
{
    private readonly RedisKey _key = redis.Key("dataprotection:keys");

    public static WebhookSecretProtection Protection(RedisConnection redis)
    {
        if (redis.Options.KeysPath is { Length: > 0 } folder)
        {
            return WebhookSecretProtection.ForDirectory(folder);
        }

        var services = new ServiceCollection();
        services.AddDataProtection().SetApplicationName("Switchboard");
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(new ConfigureOptions<KeyManagementOptions>(o => o.XmlRepository = new RedisKeyRing(redis)));
        return new WebhookSecretProtection(services.BuildServiceProvider().GetRequiredService<IDataProtectionProvider>());
    }

    public IReadOnlyCollection<XElement> GetAllElements() =>
        [.. redis.Database.HashValues(_key).Select(value => XElement.Parse((string)value!))];

    public void StoreElement(XElement element, string friendlyName) =>
        redis.Database.HashSet(_key, friendlyName, element.ToString(SaveOptions.DisableFormatting));
}
