using System.IO.Compression;
using System.Xml.Linq;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Packaging;

/// <summary>
/// <c>dotnet pack src/Switchboard.Client</c>, once for the test class, into a temp folder. Its build goes to a separate artifacts
/// folder, so the pack never rewrites the assemblies this test run has loaded.
/// </summary>
public sealed class PackedClient : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public string Feed => Path.Combine(_directory.Path, "feed");

    public string PackagePath { get; private set; } = "";

    public XElement Metadata { get; private set; } = new("metadata");

    public XNamespace Ns { get; private set; } = XNamespace.None;

    public IReadOnlyList<string> Entries { get; private set; } = [];

    public string ReadEntry(string name)
    {
        using var zip = ZipFile.OpenRead(PackagePath);
        using var reader = new StreamReader(zip.GetEntry(name)!.Open());
        return reader.ReadToEnd();
    }

    public async Task InitializeAsync()
    {
        var project = Path.Combine(NodeScript.RepositoryRoot(), "src", "Switchboard.Client");
        await DotnetCli.RunCheckedAsync(project, new Dictionary<string, string>(), TimeSpan.FromMinutes(4),
            "pack", "-c", "Release", "-o", Feed, "--artifacts-path", Path.Combine(_directory.Path, "artifacts"), "--disable-build-servers");
        PackagePath = Assert.Single(Directory.GetFiles(Feed, "*.nupkg"));
        using var zip = ZipFile.OpenRead(PackagePath);
        Entries = [.. zip.Entries.Select(e => e.FullName)];
        var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        await using var stream = nuspec.Open();
        var document = await XDocument.LoadAsync(stream, LoadOptions.None, CancellationToken.None);
        Ns = document.Root!.Name.Namespace;
        Metadata = document.Root.Element(Ns + "metadata")!;
    }

    public Task DisposeAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
