using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;
using System.Text.Json;
using System.Xml.Linq;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Packaging;

/// <summary>
/// The Switchboard.Client NuGet package, tested from the packed .nupkg: its metadata and dependencies, and a fresh console
/// project that installs it like a user would and publishes and subscribes against a real hub.
/// </summary>
public sealed class NuGetPackageTests(PackedClient packed) : IClassFixture<PackedClient>
{
    // Server-side assemblies a client must never bring along.
    private static readonly string[] ServerOnly =
        ["Switchboard.Core", "Switchboard.Config", "Switchboard.Jobs", "Switchboard.Monitoring", "Switchboard.AspNetCore", "Switchboard.Storage.Sqlite", "Switchboard.Storage.Redis", "Switchboard",
         "Microsoft.Data.Sqlite", "StackExchange.Redis", "OpenTelemetry", "System.CommandLine", "StandardWebhooks"];

    [Fact]
    public void Package_HasItsMetadata_AReadme_AndOnlyClientDependencies()
    {
        XNamespace ns = packed.Ns;
        var metadata = packed.Metadata;
        var csproj = XDocument.Load(Path.Combine(NodeScript.RepositoryRoot(), "src", "Switchboard.Client", "Switchboard.Client.csproj"));

        Assert.Equal("Switchboard.Client", metadata.Element(ns + "id")?.Value);
        Assert.Equal(csproj.Descendants("Version").Single().Value, metadata.Element(ns + "version")?.Value);
        Assert.True(metadata.Element(ns + "description")?.Value.Length > 40, "a real description");
        var license = metadata.Element(ns + "license");
        Assert.Equal(("expression", "MIT"), (license?.Attribute("type")?.Value, license?.Value));
        Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
        var readme = packed.ReadEntry("README.md");
        Assert.Contains("SwitchboardClient", readme);
        Assert.Contains("AddSwitchboardClient", readme);
        var repository = metadata.Element(ns + "repository");
        Assert.Equal("git", repository?.Attribute("type")?.Value);
        if (repository?.Attribute("commit") is { } commit)
        {
            Assert.Matches("^[0-9a-f]{40}$", commit.Value);
        }

        var dependencies = metadata.Element(ns + "dependencies")!.Elements(ns + "group").ToList();
        Assert.Equal("net10.0", Assert.Single(dependencies).Attribute("targetFramework")?.Value);
        Assert.Equal(["Microsoft.IdentityModel.JsonWebTokens"], dependencies[0].Elements(ns + "dependency").Select(d => d.Attribute("id")!.Value));
        Assert.Equal(["Microsoft.AspNetCore.App"], metadata.Descendants(ns + "frameworkReference").Select(f => f.Attribute("name")!.Value));

        Assert.Equal(["lib/net10.0/Switchboard.Client.dll", "lib/net10.0/Switchboard.Client.xml"], packed.Entries.Where(e => e.StartsWith("lib/", StringComparison.Ordinal)).Order());
        Assert.DoesNotContain(packed.Entries, e => e.EndsWith(".pdb", StringComparison.Ordinal) && !e.StartsWith("lib/", StringComparison.Ordinal));

        // The assembly itself references no server-side assembly.
        using var zip = ZipFile.OpenRead(packed.PackagePath);
        using var dll = new MemoryStream();
        using (var entry = zip.GetEntry("lib/net10.0/Switchboard.Client.dll")!.Open())
        {
            entry.CopyTo(dll);
        }

        dll.Position = 0;
        using var pe = new PEReader(dll);
        var reader = pe.GetMetadataReader();
        var references = reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name)).ToList();
        Assert.Contains("Microsoft.IdentityModel.JsonWebTokens", references);
        Assert.Empty(references.Intersect(ServerOnly));
    }

    [Fact]
    public async Task Package_InstallsIntoAFreshConsoleProject_ThatPublishesAndSubscribes_AgainstARealHub()
    {
        await using var hub = await HubServer.StartAsync();
        using var work = new TempDirectory();
        var app = Path.Combine(work.Path, "app");
        // A packages folder of its own: a Switchboard.Client of the same version installed earlier on this machine must not stand
        // in for the one just packed. The machine's folder is still a source (read-only), so other packages need no download.
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(work.Path, "packages") };
        var machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var version = packed.Metadata.Element(packed.Ns + "version")!.Value;

        await DotnetCli.RunCheckedAsync(work.Path, environment, TimeSpan.FromMinutes(2), "new", "console", "-o", app, "-n", "App");
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="switchboard-local" value="{packed.Feed}" />
                {(Directory.Exists(machinePackages) ? $"<add key=\"machine\" value=\"{machinePackages}\" />" : "")}
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="switchboard-local"><package pattern="Switchboard.*" /></packageSource>
                {(Directory.Exists(machinePackages) ? "<packageSource key=\"machine\"><package pattern=\"*\" /></packageSource>" : "")}
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        await DotnetCli.RunCheckedAsync(app, environment, TimeSpan.FromMinutes(3), "add", "package", "Switchboard.Client", "--version", version);
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), Program);

        // What was restored is the .nupkg just packed, byte for byte.
        using (var assets = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(app, "obj", "project.assets.json"))))
        {
            var library = assets.RootElement.GetProperty("libraries").GetProperty($"Switchboard.Client/{version}");
            Assert.Equal(Convert.ToBase64String(SHA512.HashData(await File.ReadAllBytesAsync(packed.PackagePath))), library.GetProperty("sha512").GetString());
        }

        var topic = "packaged." + Guid.NewGuid().ToString("N")[..12];
        var output = await DotnetCli.RunCheckedAsync(app, environment, TimeSpan.FromMinutes(4),
            "run", "--disable-build-servers", "--", hub.BaseAddress.ToString(), topic);

        var lines = output.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        var published = lines.Where(l => l.GetProperty("kind").GetString() == "published").Select(l => l.GetProperty("seq").GetInt64()).ToList();
        var received = lines.Where(l => l.GetProperty("kind").GetString() == "received").ToList();
        Assert.True(published.Count == 3, $"the app published {published.Count} events:\n{output}");
        Assert.Equal(published, received.Select(l => l.GetProperty("seq").GetInt64()));
        Assert.All(received, l => Assert.Equal(topic, l.GetProperty("topic").GetString()));
        Assert.Equal(["websocket"], lines.Where(l => l.GetProperty("kind").GetString() == "connected").Select(l => l.GetProperty("transport").GetString()!.ToLowerInvariant()));

        // The hub really has them, as the app sent them.
        using var http = hub.CreateClient();
        using var stored = JsonDocument.Parse(await http.GetStringAsync($"v1/events?topic={topic}&after=earliest"));
        var events = stored.RootElement.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(published, events.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal([0, 1, 2], events.Select(e => e.GetProperty("data").GetProperty("i").GetInt32()));
        Assert.All(events, e => Assert.Equal("ü 🎉", e.GetProperty("data").GetProperty("text").GetString()));
        Assert.All(events, e => Assert.Equal("pack.test", e.GetProperty("type").GetString()));

        // The client came from the package, and nothing server-side came with it.
        var loaded = lines.Single(l => l.GetProperty("kind").GetString() == "assemblies").GetProperty("names").EnumerateArray().Select(n => n.GetString()!).ToList();
        Assert.Contains("Switchboard.Client", loaded);
        Assert.Empty(loaded.Intersect(ServerOnly));
        var binaries = Directory.GetFiles(Path.Combine(app, "bin"), "*.dll", SearchOption.AllDirectories).Select(Path.GetFileNameWithoutExtension).ToList();
        Assert.Contains("Switchboard.Client", binaries);
        Assert.Empty(binaries.Intersect(ServerOnly));
    }

    /// <summary>The app a user would write: DI registration, a publish, a subscription from earliest.</summary>
    private const string Program = """
        using System.Text.Json;
        using Microsoft.Extensions.DependencyInjection;
        using Switchboard.Client;

        var services = new ServiceCollection();
        services.AddSwitchboardClient(o => o.BaseAddress = new Uri(args[0]));
        await using var provider = services.BuildServiceProvider();
        var hub = provider.GetRequiredService<SwitchboardClient>();
        var topic = args[1];

        var last = 0L;
        for (var i = 0; i < 3; i++)
        {
            var e = await hub.PublishAsync(topic, JsonSerializer.SerializeToElement(new { i, text = "ü 🎉" }), type: "pack.test");
            Console.WriteLine(JsonSerializer.Serialize(new { kind = "published", seq = e.Seq }));
            last = e.Seq;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var options = new SubscribeOptions
        {
            After = "earliest",
            OnConnected = t => Console.WriteLine(JsonSerializer.Serialize(new { kind = "connected", transport = t.ToString() })),
        };
        await foreach (var e in hub.SubscribeAsync([topic], options, timeout.Token))
        {
            Console.WriteLine(JsonSerializer.Serialize(new { kind = "received", seq = e.Seq, topic = e.Topic, cursor = e.Cursor }));
            if (e.Seq == last)
            {
                break;
            }
        }

        var names = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name).Order().ToArray();
        Console.WriteLine(JsonSerializer.Serialize(new { kind = "assemblies", names }));
        """;
}
