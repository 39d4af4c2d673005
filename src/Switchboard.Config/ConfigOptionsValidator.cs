using Microsoft.Extensions.Options;

namespace Switchboard.Config;

// Written by the options source generator from the attributes and IValidatableObject rules; registered by AddSwitchboardConfig.
/// <summary>Validates <see cref="ConfigOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class ConfigOptionsValidator : IValidateOptions<ConfigOptions>
{
}
