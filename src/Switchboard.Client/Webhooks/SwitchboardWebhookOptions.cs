using Microsoft.Extensions.Options;
using Switchboard.Webhooks.Signing;

namespace Switchboard.Client;

/// <summary>
/// How an app receives Switchboard webhooks: the secrets and the limits of the verification filter. Bound from the
/// <c>SwitchboardWebhooks</c> configuration section and validated at start.
/// </summary>
public sealed class SwitchboardWebhookOptions
{
    /// <summary>The configuration section the options bind to.</summary>
    public const string SectionName = "SwitchboardWebhooks";

    /// <summary>The default <see cref="MaxBodyBytes"/>: 1 MiB.</summary>
    public const int DefaultMaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// The <c>whsec_</c> secrets whose signatures are accepted. During a rotation list the old and the new one;
    /// drop the old one once the hub signs with the new one only.
    /// </summary>
    public IList<string> Secrets { get; } = [];

    /// <summary>How far a <c>webhook-timestamp</c> may be from now, either way (default five minutes).</summary>
    public TimeSpan Tolerance { get; set; } = WebhookVerifier.DefaultTolerance;

    /// <summary>How long a processed <c>webhook-id</c> is remembered to refuse replays (default ten minutes).</summary>
    public TimeSpan ReplayWindow { get; set; } = WebhookReplayGuard.DefaultWindow;

    /// <summary>How many ids the replay guard remembers at most; past it the oldest are forgotten early.</summary>
    public int ReplayCapacity { get; set; } = WebhookReplayGuard.DefaultCapacity;

    /// <summary>
    /// The largest body read (default 1 MiB). The body is held in memory to verify it and then replayed to the
    /// handler; a larger one is refused with 413 before it is read to the end.
    /// </summary>
    public int MaxBodyBytes { get; set; } = DefaultMaxBodyBytes;
}

/// <summary>Fails start-up with a message that says which setting is wrong, never the secret itself.</summary>
internal sealed class SwitchboardWebhookOptionsValidator : IValidateOptions<SwitchboardWebhookOptions>
{
    public ValidateOptionsResult Validate(string? name, SwitchboardWebhookOptions options)
    {
        var failures = new List<string>();
        if (options.Secrets.Count == 0)
        {
            failures.Add($"{SwitchboardWebhookOptions.SectionName}:Secrets needs at least one whsec_ secret.");
        }

        for (var i = 0; i < options.Secrets.Count; i++)
        {
            try
            {
                StandardWebhookSecret.DecodeKey(options.Secrets[i], nameof(options.Secrets));
            }
            catch (ArgumentException)
            {
                failures.Add($"{SwitchboardWebhookOptions.SectionName}:Secrets:{i} is not a valid secret ('whsec_' followed by base64).");
            }
        }

        if (options.Tolerance < TimeSpan.Zero)
        {
            failures.Add($"{SwitchboardWebhookOptions.SectionName}:Tolerance must not be negative.");
        }

        if (options.ReplayWindow <= TimeSpan.Zero)
        {
            failures.Add($"{SwitchboardWebhookOptions.SectionName}:ReplayWindow must be positive.");
        }

        if (options.ReplayCapacity < 1)
        {
            failures.Add($"{SwitchboardWebhookOptions.SectionName}:ReplayCapacity must be at least 1.");
        }

        if (options.MaxBodyBytes < 1)
        {
            failures.Add($"{SwitchboardWebhookOptions.SectionName}:MaxBodyBytes must be at least 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
