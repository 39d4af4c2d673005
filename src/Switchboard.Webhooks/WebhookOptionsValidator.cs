using Microsoft.Extensions.Options;

namespace Switchboard;

// Written by the options source generator from the attributes and IValidatableObject rules; registered by AddSwitchboardWebhooks.
/// <summary>Validates <see cref="WebhookOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class WebhookOptionsValidator : IValidateOptions<WebhookOptions>
{
}
