using System.ComponentModel.DataAnnotations;

namespace Switchboard;

/// <summary>
/// Collects the failures of the rules a <see cref="RangeAttribute"/> cannot say (one setting against another, list
/// entries that must parse), for an options type's <see cref="IValidatableObject.Validate"/>. Each message names the
/// key, as the attributes' messages do, so a start that fails says what to fix.
/// </summary>
public sealed class OptionRules
{
    private readonly List<ValidationResult> _failures = [];

    /// <summary>The failures so far.</summary>
    public IEnumerable<ValidationResult> Failures => _failures;

    /// <summary>Records <paramref name="message"/> unless <paramref name="condition"/> holds.</summary>
    public void Require(bool condition, string message)
    {
        if (!condition)
        {
            _failures.Add(new ValidationResult(message));
        }
    }
}
