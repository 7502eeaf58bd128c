using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Reflection.Metadata;
using System.Xml.Linq;

namespace RaftKv.Client.Tests.Api;

/// <summary><c>dotnet pack</c> of RaftKv.Client makes a package NuGet.org accepts: README, license, symbols, repository.</summary>
public sealed class PackageTests
{
    [Fact]
    public async Task Pack_produces_a_package_with_readme_license_and_repository_and_a_symbol_package_with_the_pdb()
    {
        var root = RepositoryRoot();
        var output = Directory.CreateTempSubdirectory("raftkv-pack-");
        try
        {
            // The test runs on the build it tests: pack that build, in the configuration this assembly was built in.
            var configuration = typeof(RaftKvConnection).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
            var pack = new ProcessStartInfo("dotnet", ["pack", Path.Combine(root, "src", "Client", "RaftKv.Client.csproj"), "-c", configuration, "--no-build", "-nologo", "-o", output.FullName])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(pack)!;
            var log = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"dotnet pack failed:\n{await log}\n{await errors}");

            var package = Assert.Single(output.GetFiles("RaftKv.Client.*.nupkg"));
            using (var nupkg = ZipFile.OpenRead(package.FullName))
            {
                var metadata = Nuspec(nupkg);
                Assert.Equal("RaftKv.Client", Field(metadata, "id"));
                Assert.Equal("README.md", Field(metadata, "readme"));
                Assert.NotNull(nupkg.GetEntry("README.md"));
                var license = metadata.Elements().Single(static e => e.Name.LocalName == "license");
                Assert.Equal("expression", license.Attribute("type")?.Value);
                Assert.Equal("MIT", license.Value);
                if (Path.Exists(Path.Combine(root, ".git")))
                {
                    // Built from a git checkout (a clone or a worktree), the package names the commit it was built from.
                    var repository = metadata.Elements().Single(static e => e.Name.LocalName == "repository");
                    Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");
                }
                Assert.NotNull(nupkg.GetEntry("lib/net10.0/RaftKv.Client.dll"));
                Assert.NotNull(nupkg.GetEntry("lib/net10.0/RaftKv.Client.xml"));
            }

            var symbols = Assert.Single(output.GetFiles("RaftKv.Client.*.snupkg"));
            using var snupkg = ZipFile.OpenRead(symbols.FullName);
            var pdb = snupkg.GetEntry("lib/net10.0/RaftKv.Client.pdb");
            Assert.NotNull(pdb);
            using var pdbBytes = new MemoryStream();
            await using (var stream = pdb.Open())
                await stream.CopyToAsync(pdbBytes);
            pdbBytes.Position = 0;
            using var reader = MetadataReaderProvider.FromPortablePdbStream(pdbBytes);
            Assert.NotEmpty(reader.GetMetadataReader().Documents);
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    private static XElement Nuspec(ZipArchive package)
    {
        var entry = package.Entries.Single(static e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = entry.Open();
        return XDocument.Load(stream).Root!.Elements().Single(static e => e.Name.LocalName == "metadata");
    }

    private static string? Field(XElement metadata, string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RaftKv.sln")))
                return directory.FullName;
        }

        throw new InvalidOperationException($"No RaftKv.sln above {AppContext.BaseDirectory}.");
    }
}
