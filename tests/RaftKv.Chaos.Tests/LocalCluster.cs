using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using RaftKv.Client;
using RaftKv.Testing;

namespace RaftKv.Chaos.Tests;

/// <summary>
/// Drives real node processes through <c>cluster-config/local-cluster.sh</c>, with a data directory of its own.
/// With <c>isolatedNetworks</c>, each node runs in a network namespace of its own (10.211.0.N, root only), so a node
/// can be partitioned away. With <c>secure</c>, the script starts it with <c>RAFTKV_TLS=1</c> and a fresh
/// <c>RAFTKV_REQUIREPASS</c> (every later verb finds both in the data directory), and <see cref="ConnectAsync"/>
/// connects over TLS with the client certificate and authenticates. Disposing stops every node it started and removes
/// the namespaces.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    public static readonly int[] Nodes = [1, 2, 3];

    private readonly string data = Path.Combine(Path.GetTempPath(), "raftkv-chaos", Guid.NewGuid().ToString("N"));
    private readonly bool isolatedNetworks;

    private LocalCluster(bool isolatedNetworks, bool secure)
    {
        this.isolatedNetworks = isolatedNetworks;
        if (secure)
            Security = RespClientSecurity.FromTlsDirectory(Path.Combine(data, "tls"), password: Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)));
    }

    /// <summary>How clients reach the nodes: TLS files and the default user's password; null for plaintext without a password.</summary>
    public RespClientSecurity? Security { get; }

    public static string RepositoryRoot { get; } = FindRoot();

    public static int RespPort(int node) => 6380 + node;

    /// <summary>The address node <paramref name="node"/> serves on.</summary>
    public string Host(int node) => isolatedNetworks ? $"10.211.0.{node}" : "127.0.0.1";

    /// <summary>Where the nodes keep their data and logs.</summary>
    public string DataPath => data;

    public static async Task<LocalCluster> StartAsync(bool isolatedNetworks = false, bool secure = false)
    {
        var cluster = new LocalCluster(isolatedNetworks, secure);
        if (isolatedNetworks && Directory.Exists("/run/netns") && Directory.EnumerateFiles("/run/netns", "rkv*").Any())
            throw new InvalidOperationException("Network namespaces rkv1-3 exist: another isolated cluster is running (RAFTKV_NETNS=1 cluster-config/local-cluster.sh stop).");
        foreach (var node in Nodes)
        {
            if (!isolatedNetworks && IsListening(cluster.Host(node), RespPort(node)))
                throw new InvalidOperationException($"{cluster.Host(node)}:{RespPort(node)} is in use: stop the other cluster (cluster-config/local-cluster.sh stop) first.");
        }

        // Only the first start is told: kill-all and restarts by the nemesis find the settings in the data directory.
        Dictionary<string, string> environment = cluster.Security is { Password: { } password }
            ? new() { ["RAFTKV_TLS"] = "1", ["RAFTKV_REQUIREPASS"] = password }
            : new() { ["RAFTKV_TLS"] = "0", ["RAFTKV_REQUIREPASS"] = "" };
        try
        {
            await cluster.RunAsync(["start"], environment);
        }
        catch
        {
            // A start that failed half-way may have left nodes (and namespaces) behind: stop them before failing.
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>RaftKv.Client's options for this cluster: every node, with its TLS files and password when it has them.</summary>
    public RaftKvClientOptions ClientOptions()
    {
        var options = new RaftKvClientOptions();
        foreach (var node in Nodes)
            options.Endpoints.Add($"{Host(node)}:{RespPort(node)}");
        if (Security is { } security)
        {
            options.User = security.User;
            options.Password = security.Password;
            if (security.CaCertFile is { } caFile)
            {
                options.Tls = new RaftKvTlsOptions
                {
                    Enabled = true,
                    CaCertificateFile = caFile,
                    ClientCertificateFile = security.CertFile,
                    ClientKeyFile = security.KeyFile,
                };
            }
        }

        return options;
    }

    public Task<RespTestClient> ConnectAsync(int node, CancellationToken token = default) => RespTestClient.ConnectAsync(Host(node), RespPort(node), Security, token);

    /// <summary>Runs the script with the given arguments; returns its standard output, throws on a non-zero exit.</summary>
    public Task<string> RunAsync(params string[] arguments) => RunAsync(arguments, environment: null);

    /// <summary>Runs the script with extra environment variables (e.g. <c>RAFTKV_NODE2_ARGS</c> for one node's options).</summary>
    public async Task<string> RunAsync(string[] arguments, IReadOnlyDictionary<string, string>? environment)
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
        start.Environment["RAFTKV_NO_BUILD"] = "1";
        start.Environment["RAFTKV_NETNS"] = isolatedNetworks ? "1" : "0";
        // TLS and the password are the data directory's (recorded at start), not whatever this process inherited.
        start.Environment.Remove("RAFTKV_TLS");
        start.Environment.Remove("RAFTKV_REQUIREPASS");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start local-cluster.sh");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"local-cluster.sh {string.Join(' ', arguments)} exited {process.ExitCode}: {await error}{await output}");
        return (await output).Trim();
    }

    public Task<string> RunAsync(string command, int node) => RunAsync(command, node.ToString(CultureInfo.InvariantCulture));

    /// <summary>Polls <c>leader</c> until a node answers, and returns its number.</summary>
    public async Task<int> WaitForLeaderAsync(TimeSpan within)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return int.Parse(await RunAsync("leader"), CultureInfo.InvariantCulture);
            }
            catch (InvalidOperationException) when (deadline.Elapsed < within)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>The node's <c>DEBUG DIGEST</c>: <c>applied-index:state-digest</c>.</summary>
    public async Task<string> DigestAsync(int node)
    {
        await using var client = await ConnectAsync(node);
        client.ReplyTimeout = TimeSpan.FromSeconds(10);
        var reply = await client.CallAsync("DEBUG", "DIGEST");
        return reply.Bulk is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes) : throw new InvalidOperationException("DEBUG DIGEST: " + reply);
    }

    /// <summary>Keep the data directory (logs, write-ahead logs, snapshots) when disposed, to investigate a failed run.</summary>
    public bool KeepData { get; set; } = Environment.GetEnvironmentVariable("RAFTKV_CHAOS_KEEP_DATA") == "1";

    public async ValueTask DisposeAsync()
    {
        await RunAsync("stop");
        if (KeepData)
            return;

        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private static bool IsListening(string host, int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(host, port);
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
