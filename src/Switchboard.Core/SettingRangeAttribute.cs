using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;

namespace Switchboard;

/// <summary>
/// <see cref="RangeAttribute"/>, unchanged, under a name of its own. The options validator generator replaces a plain
/// <c>[Range]</c> with a generated copy whose message ignores <see cref="ValidationAttribute.ErrorMessage"/>
/// (dotnet/runtime#123137), so a failure would read "The field LimitsOptions.MaxEventBytes must be between 16 and
/// 16777216" instead of naming the key an operator writes. A subclass is kept as it is, with its message; once the
/// generator honours the message this can become <c>[Range]</c> again.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class SettingRangeAttribute : RangeAttribute
{
    /// <summary>An <see cref="int"/> range.</summary>
    public SettingRangeAttribute(int minimum, int maximum)
        : base(minimum, maximum)
    {
    }

    /// <summary>A <see cref="double"/> range.</summary>
    public SettingRangeAttribute(double minimum, double maximum)
        : base(minimum, maximum)
    {
    }

    /// <summary>A range of <paramref name="type"/> (here <see cref="TimeSpan"/>), its bounds parsed from invariant text.</summary>
    public SettingRangeAttribute([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.All)] Type type, string minimum, string maximum)
        : base(type, minimum, maximum)
    {
        ParseLimitsInInvariantCulture = true;
        ConvertValueInInvariantCulture = true;
    }
}
