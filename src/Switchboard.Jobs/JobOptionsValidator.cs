using Microsoft.Extensions.Options;

namespace Switchboard.Jobs;

// Written by the options source generator from the attributes and IValidatableObject rules; registered by AddSwitchboardJobs.
/// <summary>Validates <see cref="JobOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class JobOptionsValidator : IValidateOptions<JobOptions>
{
}
