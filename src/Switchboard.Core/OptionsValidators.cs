using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Retention;

namespace Switchboard;

// The options source generator writes these from the parts' [Range] attributes and their IValidatableObject rules,
// without reflection; AddSwitchboard registers each and validates it at start, so a bad value stops the server with
// a message naming the key instead of failing at the first request.

/// <summary>Validates <see cref="LimitsOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class LimitsOptionsValidator : IValidateOptions<LimitsOptions>
{
}

/// <summary>Validates <see cref="PollingOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class PollingOptionsValidator : IValidateOptions<PollingOptions>
{
}

/// <summary>Validates <see cref="SseOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class SseOptionsValidator : IValidateOptions<SseOptions>
{
}

/// <summary>Validates <see cref="WebSocketOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class WebSocketOptionsValidator : IValidateOptions<WebSocketOptions>
{
}

/// <summary>Validates <see cref="RetentionOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class RetentionOptionsValidator : IValidateOptions<RetentionOptions>
{
}

/// <summary>Validates <see cref="IdempotencyOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class IdempotencyOptionsValidator : IValidateOptions<IdempotencyOptions>
{
}

/// <summary>Validates <see cref="AuthOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
}
