using System.Globalization;
using Switchboard.Client;

// Follows one app's settings on a Switchboard hub and prints whenever a flag flips for a user.
//   dotnet run --project samples/FeatureFlags -- [hub-url] [app] [flag] [user-key]
var hub = args.Length > 0 ? args[0] : "http://localhost:8080/";
var app = args.Length > 1 ? args[1] : "demo";
var flag = args.Length > 2 ? args[2] : "newCheckout";
var user = args.Length > 3 ? args[3] : "alice";

using var http = new HttpClient { BaseAddress = new Uri(hub.EndsWith('/') ? hub : hub + "/"), Timeout = Timeout.InfiniteTimeSpan };
await using var watcher = new ConfigWatcher(http, app);
var shown = false;
watcher.Changed += (_, e) =>
{
    var before = e.Previous.IsEnabled(flag, user);
    var now = e.Current.IsEnabled(flag, user);
    var delay = e.Current.UpdatedAt is { } at ? $", {(DateTimeOffset.UtcNow - at).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms after the change" : "";
    if (before != now || !shown)
    {
        Console.WriteLine($"{DateTime.Now:HH:mm:ss.fff}  {flag} for {user}: {(shown ? Show(before) + " -> " : "")}{Show(now)}  (version {e.Current.Version}{delay})");
        shown = true;
    }
    else
    {
        Console.WriteLine($"{DateTime.Now:HH:mm:ss.fff}  version {e.Current.Version}: {flag} unchanged for {user} ({Show(now)})");
    }
};

await watcher.StartAsync();
if (!shown)
{
    Console.WriteLine($"{DateTime.Now:HH:mm:ss.fff}  {flag} for {user}: {Show(watcher.IsEnabled(flag, user))}  (version {watcher.Version}{(watcher.LastError is { } error ? ", hub not reachable yet: " + error.Message : "")})");
    shown = true;
}

Console.WriteLine($"Watching '{app}' on {hub} (bucket of {user} for {flag}: {FeatureFlags.Bucket(flag, user)}). Ctrl+C to stop.");
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}

static string Show(bool on) => on ? "ON" : "OFF";
