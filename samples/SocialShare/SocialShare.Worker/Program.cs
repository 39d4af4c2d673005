using SocialShare.Worker;

// Claims "share" and "write" jobs from a Switchboard hub over HTTP until Ctrl+C.
//   dotnet run --project samples/SocialShare/SocialShare.Worker -- --hub http://localhost:8080 --failure-rate 0.3
WorkerOptions options;
try
{
    options = WorkerOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine("Usage: SocialShare.Worker [--hub URL] [--failure-rate 0..1] [--fail-first N] [--step-ms MS] [--word-ms MS] [--name NAME]");
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // let the loops end and give back the jobs in hand
    stop.Cancel();
};

// SIGTERM (docker stop, systemd) stops the same way.
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

using var http = new HttpClient { BaseAddress = options.HubUrl, Timeout = TimeSpan.FromSeconds(options.ClaimWaitSeconds + 15) };
var worker = new ShareWorker(http, options, Console.Out);
Console.WriteLine($"Worker {options.Name} claiming 'share' and 'write' jobs from {options.HubUrl} (failure rate {options.FailureRate:0.##}). Ctrl+C to stop.");
await worker.RunAsync(stop.Token);
Console.WriteLine("Stopped.");
return 0;
