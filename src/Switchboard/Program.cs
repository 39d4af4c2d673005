using System.CommandLine;
using Switchboard.Cli;
using Switchboard.Log;

try
{
    // SIGTERM cancels the command's token; the host then stops gracefully within its own shutdown timeout (30 s), so the
    // command line must not give up first (its default of 2 s exits with 143 while slow clients are still being closed).
    return await SwitchboardCommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration
    {
        ProcessTerminationTimeout = TimeSpan.FromSeconds(45),
        // Handled below: a store that cannot be opened is an operator's problem, said in one line without a stack trace.
        EnableDefaultExceptionHandler = false,
    });
}
catch (StoreOpenException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return ServeCommand.StoreProblem;
}
catch (Microsoft.Extensions.Options.OptionsValidationException ex)
{
    // Each failure already names its key: "Polling:MaxWait must be between 0 and 10 minutes."
    foreach (var failure in ex.Failures)
    {
        await Console.Error.WriteLineAsync("Invalid setting: " + failure);
    }

    return 1;
}
catch (Exception ex)
{
    // What the default handler did: exit code 1, with the whole exception unless it was a cancellation.
    if (ex is not OperationCanceledException)
    {
        await Console.Error.WriteLineAsync("Unhandled exception: " + ex);
    }

    return 1;
}
