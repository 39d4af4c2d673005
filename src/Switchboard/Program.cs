using System.CommandLine;
using Switchboard.Cli;

// SIGTERM cancels the command's token; the host then stops gracefully within its own shutdown timeout (30 s), so the
// command line must not give up first (its default of 2 s exits with 143 while slow clients are still being closed).
return await SwitchboardCommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(45) });
