using Switchboard.Cli;

return await SwitchboardCommandLine.Build().Parse(args).InvokeAsync();
