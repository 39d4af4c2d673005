using System.Globalization;

namespace Switchboard.Bench;

/// <summary>Thrown for bad command lines; Program prints the message plus usage and exits 2.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>
/// Minimal "MODE --name value" parser. Hand-rolled rather than System.CommandLine so the bench
/// has no package dependencies and stays trivially buildable next to a half-written server.
/// </summary>
internal sealed class CliArgs
{
    /// <summary>Options that take no value ("--idle-memory"); "--flag=false" still works.</summary>
    private static readonly HashSet<string> Flags = new(StringComparer.Ordinal) { "help", "idle-memory" };

    private readonly Dictionary<string, string> _options;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    private CliArgs(string mode, Dictionary<string, string> options)
    {
        Mode = mode;
        _options = options;
    }

    public string Mode { get; }

    public static CliArgs Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0)
        {
            return new CliArgs("help", new Dictionary<string, string>(StringComparer.Ordinal));
        }

        var mode = args[0];
        if (mode is "-h" or "--help")
        {
            mode = "help";
        }
        else if (mode.StartsWith('-'))
        {
            throw new CliException($"expected a mode before options, got '{mode}'");
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new CliException($"unexpected argument '{arg}'");
            }

            string name;
            string value;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[2..eq];
                value = arg[(eq + 1)..];
            }
            else
            {
                name = arg[2..];
                // Only the known flags are valueless; everything else takes a value so typos
                // like "--publishers --duration 5" fail loudly instead of silently misparsing.
                if (Flags.Contains(name))
                {
                    value = "true";
                }
                else if (i + 1 < args.Count && !IsOptionName(args[i + 1]))
                {
                    value = args[++i];
                }
                else
                {
                    throw new CliException($"option --{name} needs a value");
                }
            }

            if (!options.TryAdd(name, value))
            {
                throw new CliException($"option --{name} given more than once");
            }
        }

        return new CliArgs(mode, options);
    }

    // Negative numbers are values, not options.
    private static bool IsOptionName(string s) => s.StartsWith("--", StringComparison.Ordinal) && s.Length > 2 && !char.IsDigit(s[2]);

    public bool Has(string name)
    {
        _read.Add(name);
        return _options.ContainsKey(name);
    }

    public string GetString(string name, string defaultValue)
    {
        _read.Add(name);
        return _options.TryGetValue(name, out var v) ? v : defaultValue;
    }

    public string GetRequiredString(string name)
    {
        _read.Add(name);
        return _options.TryGetValue(name, out var v) ? v : throw new CliException($"missing required option --{name}");
    }

    public int GetInt(string name, int defaultValue, int min, int max)
    {
        _read.Add(name);
        if (!_options.TryGetValue(name, out var raw))
        {
            return defaultValue;
        }

        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            throw new CliException($"--{name}: '{raw}' is not an integer");
        }

        return value < min || value > max
            ? throw new CliException($"--{name}: {value} is outside [{min}, {max}]")
            : value;
    }

    public bool GetFlag(string name)
    {
        _read.Add(name);
        if (!_options.TryGetValue(name, out var raw))
        {
            return false;
        }

        return bool.TryParse(raw, out var value) ? value : throw new CliException($"--{name}: '{raw}' is not true or false");
    }

    public int? GetOptionalInt(string name) =>
        Has(name) ? GetInt(name, 0, 1, int.MaxValue) : null;

    public double GetDouble(string name, double defaultValue, double min, double max)
    {
        _read.Add(name);
        if (!_options.TryGetValue(name, out var raw))
        {
            return defaultValue;
        }

        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            throw new CliException($"--{name}: '{raw}' is not a number");
        }

        return value < min || value > max
            ? throw new CliException($"--{name}: {value} is outside [{min}, {max}]")
            : value;
    }

    public Uri GetBaseUrl()
    {
        var raw = GetRequiredString("url");
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliException($"--url: '{raw}' is not an http(s) URL");
        }

        // Normalise to a trailing slash so relative "v1/..." paths resolve under any base path.
        return raw.EndsWith('/') ? uri : new Uri(raw + "/");
    }

    /// <summary>
    /// The base URL followed by the <c>--nodes</c> ones (comma-separated): several nodes serving one hub (Redis store).
    /// Work is spread over them round-robin.
    /// </summary>
    public IReadOnlyList<Uri> GetNodeUrls(Uri baseUrl)
    {
        var urls = new List<Uri> { baseUrl };
        foreach (var raw in GetString("nodes", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new CliException($"--nodes: '{raw}' is not an http(s) URL");
            }

            urls.Add(raw.EndsWith('/') ? uri : new Uri(raw + "/"));
        }

        return urls;
    }

    /// <summary>Call after all getters: an option nobody read is a typo the user should hear about.</summary>
    public void EnsureNoUnknownOptions()
    {
        var unknown = _options.Keys.Where(k => !_read.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw new CliException($"unknown option(s) for '{Mode}': {string.Join(", ", unknown.Select(u => "--" + u))}");
        }
    }
}
