using System.Diagnostics;
using System.Net.Sockets;

namespace RaftKv.Chaos.Tests;

/// <summary>
/// Drives real node processes through <c>cluster-config/local-cluster.sh</c>, with a data directory of its own.
/// Disposing stops every node it started.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    public static readonly int[] Nodes = [1, 2, 3];

    private readonly string data = Path.Combine(Path.GetTempPath(), "raftkv-chaos", Guid.NewGuid().ToString("N"));

    public static string RepositoryRoot { get; } = FindRoot();

    public static int RespPort(int node) => 6380 + node;

    public static async Task<LocalCluster> StartAsync()
    {
        foreach (var node in Nodes)
        {
            if (IsListening(RespPort(node)))
                throw new InvalidOperationException($"Port {RespPort(node)} is in use: stop the local cluster (cluster-config/local-cluster.sh stop) before running the chaos tests.");
        }

        var cluster = new LocalCluster();
        await cluster.RunAsync("start");
        return cluster;
    }

    /// <summary>Runs the script with the given arguments; returns its standard output, throws on a non-zero exit.</summary>
    public async Task<string> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(RepositoryRoot, "cluster-config", "local-cluster.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["RAFTKV_DATA"] = data;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start local-cluster.sh");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"local-cluster.sh {string.Join(' ', arguments)} exited {process.ExitCode}: {await error}{await output}");
        return (await output).Trim();
    }

    /// <summary>Polls <c>leader</c> until a node answers, and returns its number.</summary>
    public async Task<int> WaitForLeaderAsync(TimeSpan within)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return int.Parse(await RunAsync("leader"), System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (InvalidOperationException) when (deadline.Elapsed < within)
            {
                await Task.Delay(100);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await RunAsync("stop");
        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private static bool IsListening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RaftKv.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException("RaftKv.sln not found above " + AppContext.BaseDirectory);
    }
}
