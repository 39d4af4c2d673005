using System.Globalization;

namespace SocialShare.Worker;

/// <summary>How the worker runs: which hub, how slowly, and how often it fails on purpose.</summary>
public sealed class WorkerOptions
{
    /// <summary>The hub's base URL. Default <c>http://localhost:8080/</c>.</summary>
    public Uri HubUrl { get; set; } = new("http://localhost:8080/");

    /// <summary>The name sent with each claim, shown in the hub's logs.</summary>
    public string Name { get; set; } = "socialshare-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    /// <summary>The chance (0 to 1) that an attempt fails with a retryable error. Default 0.3.</summary>
    public double FailureRate { get; set; } = 0.3;

    /// <summary>Every attempt up to this number fails (1 fails the first attempt of each job). Default 0; for demos and tests.</summary>
    public int FailFirstAttempts { get; set; }

    /// <summary>The pause between two steps of a share job. Default 800 ms; zero in tests.</summary>
    public TimeSpan StepDelay { get; set; } = TimeSpan.FromMilliseconds(800);

    /// <summary>The pause between two words of a write job. Default 150 ms; zero in tests.</summary>
    public TimeSpan WordDelay { get; set; } = TimeSpan.FromMilliseconds(150);

    /// <summary>How long one claim waits for a job (<c>?wait=</c>). Default 30 s.</summary>
    public int ClaimWaitSeconds { get; set; } = 30;

    /// <summary>Reads <c>--hub URL --failure-rate 0.3 --fail-first N --step-ms 800 --word-ms 150</c>; unknown arguments are errors.</summary>
    public static WorkerOptions Parse(IReadOnlyList<string> args)
    {
        var options = new WorkerOptions();
        var hub = Environment.GetEnvironmentVariable("HUB_URL");
        if (!string.IsNullOrEmpty(hub))
        {
            options.HubUrl = WithSlash(hub);
        }

        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            var value = i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            switch (name)
            {
                case "--hub":
                    options.HubUrl = WithSlash(value);
                    break;
                case "--failure-rate":
                    options.FailureRate = double.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "--fail-first":
                    options.FailFirstAttempts = int.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "--step-ms":
                    options.StepDelay = TimeSpan.FromMilliseconds(int.Parse(value, CultureInfo.InvariantCulture));
                    break;
                case "--word-ms":
                    options.WordDelay = TimeSpan.FromMilliseconds(int.Parse(value, CultureInfo.InvariantCulture));
                    break;
                case "--name":
                    options.Name = value;
                    break;
                default:
                    throw new ArgumentException($"Unknown argument {name}.");
            }
        }

        if (options.FailureRate is < 0 or > 1)
        {
            throw new ArgumentException("--failure-rate must be between 0 and 1.");
        }

        return options;
    }

    private static Uri WithSlash(string url) => new(url.EndsWith('/') ? url : url + "/");
}
