using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>samples/FeatureFlags as its README runs it: a console app that prints when a flag flips.</summary>
public sealed class FeatureFlagsSampleTests
{
    [Fact]
    public async Task Sample_PrintsTheFlip_AfterAPut()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        using var http = hub.CreateClient();
        await PutAsync(http, """{"newCheckout": false}""");

        var lines = new ConcurrentQueue<string>();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "FeatureFlags.dll"), hub.BaseAddress.ToString(), "demo", "newCheckout", "alice" })
        {
            start.ArgumentList.Add(argument);
        }

        using var sample = new Process { StartInfo = start };
        sample.OutputDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        sample.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        sample.Start();
        sample.BeginOutputReadLine();
        sample.BeginErrorReadLine();
        try
        {
            await Waiting.UntilAsync(() => lines.Any(l => l.StartsWith("Watching 'demo'", StringComparison.Ordinal)), "the sample to start watching", TimeSpan.FromSeconds(60));
            Assert.Contains(lines, l => l.Contains("newCheckout for alice: OFF", StringComparison.Ordinal));

            await PutAsync(http, """{"newCheckout": true}""");

            await Waiting.UntilAsync(() => lines.Any(l => l.Contains("OFF -> ON", StringComparison.Ordinal)), "the flip to be printed");
        }
        finally
        {
            sample.Kill(entireProcessTree: true);
            await sample.WaitForExitAsync();
        }
    }

    private static async Task PutAsync(HttpClient http, string json)
    {
        using var response = await http.PutAsync("v1/config/demo", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
