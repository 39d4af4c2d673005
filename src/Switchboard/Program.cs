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
        await Console.Error.WriteLineAsync("Invalid setting: " + WithoutMemberPrefix(failure));
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

// The generated validators put the property's name before each message ("MaxWait: Polling:MaxWait must be ..."); the
// messages name the whole key already, so the prefix only repeats it.
static string WithoutMemberPrefix(string failure)
{
    var colon = failure.IndexOf(": ", StringComparison.Ordinal);
    if (colon <= 0)
    {
        return failure;
    }

    var member = failure[..colon];
    var message = failure[(colon + 2)..];
    return message.Contains(":" + member, StringComparison.Ordinal) ? message : failure;
}
