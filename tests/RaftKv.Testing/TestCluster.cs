using System.Globalization;
using RaftKv.Node.Hosting;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace RaftKv.Testing;

/// <summary>
/// A three-node cluster in this process: Raft over DotNext's TCP transport on loopback (or HTTP in Kestrel), real RESP
/// sockets, the peer channel with a secret of this cluster's own, one data directory per node that survives a node's
/// stop so a restart replays its WAL and snapshots.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "raftkv-tests", Guid.NewGuid().ToString("N"));
    private readonly List<TestNode> nodes;
    private readonly int snapshotEvery;
    private readonly IReadOnlyDictionary<string, string?> extraSettings;

    private TestCluster(int size, int snapshotEvery, IReadOnlyDictionary<string, string?>? settings)
    {
        this.snapshotEvery = snapshotEvery;
        extraSettings = settings ?? new Dictionary<string, string?>();
        var ports = LoopbackPorts.Free(size * 5);
        nodes = [.. Enumerable.Range(0, size).Select(i => new TestNode(i, ports[5 * i], ports[(5 * i) + 1], ports[(5 * i) + 2], Path.Combine(root, $"node{i + 1}"))
        {
            TlsPort = ports[(5 * i) + 3],
            HttpPort = ports[(5 * i) + 4],
        })];
    }

    public int Size => nodes.Count;

    private string transport = "tcp";

    // Called with each node's services after it is built and before it starts (tests that add a logger provider).
    private Action<int, IServiceProvider>? onBuilt;

    /// <summary>
    /// Starts <paramref name="size"/> nodes; <paramref name="settings"/> are added to every node's configuration. In a
    /// setting's value <c>{RespPort}</c>, <c>{TlsPort}</c> and <c>{HttpPort}</c> become that node's own ports: e.g.
    /// <c>RaftKv:Tls:Port={TlsPort}</c> adds a TLS listener to every node, and <c>RaftKv:Resp:Port=0</c> with
    /// <c>RaftKv:Tls:Port={RespPort}</c> makes the members' advertised RESP addresses TLS-only.
    /// <paramref name="transport"/> is the scheme of the Raft addresses: <c>tcp</c> (the default) or <c>http</c>.
    /// </summary>
    /// <remarks>
    /// <paramref name="restoreFrom"/>, a backup file, is installed into every node's empty data directory first
    /// (<c>RaftKv.Node restore</c>): a new cluster whose state is the backup's. <paramref name="onBuilt"/> sees each
    /// node's services (at every start) before the node starts.
    /// </remarks>
    public static async Task<TestCluster> StartAsync(
        int size = 3, int snapshotEvery = 10_000, IReadOnlyDictionary<string, string?>? settings = null, string transport = "tcp", string? restoreFrom = null,
        Action<int, IServiceProvider>? onBuilt = null)
    {
        var cluster = new TestCluster(size, snapshotEvery, settings) { transport = transport, onBuilt = onBuilt };
        if (restoreFrom is not null)
        {
            foreach (var node in cluster.nodes)
                Node.Backup.BackupRestore.Install(restoreFrom, node.DataPath);
        }

        await Task.WhenAll(cluster.nodes.Select(n => cluster.StartNodeAsync(n.Index)));
        return cluster;
    }

    public int RespPort(int node) => nodes[node].RespPort;

    /// <summary>The port <c>{TlsPort}</c> stands for in this node's settings (free for a TLS listener; unused unless a setting names it).</summary>
    public int TlsPort(int node) => nodes[node].TlsPort;

    /// <summary>The port <c>{HttpPort}</c> stands for in this node's settings (free for <c>RaftKv:Http:Listen</c>; unused unless a setting names it).</summary>
    public int HttpPort(int node) => nodes[node].HttpPort;

    /// <summary>The port of the node's Raft transport (<c>tcp://127.0.0.1:port</c> in <c>RaftKv:Members</c>).</summary>
    public int RaftPort(int node) => nodes[node].RaftPort;

    /// <summary>The port of the node's peer channel (forwarded writes and read indexes between members).</summary>
    public int PeerPort(int node) => nodes[node].PeerPort;

    /// <summary>The secret every member of this cluster shares (<c>RaftKv:Peer:ClusterSecret</c>).</summary>
    public string Secret { get; } = "test-secret-" + Guid.NewGuid().ToString("N");

    public bool IsRunning(int node) => nodes[node].App is not null;

    /// <summary>The node's data directory (its write-ahead log is under <c>wal/</c>).</summary>
    public string DataPath(int node) => nodes[node].DataPath;

    public Task<RespTestClient> ConnectAsync(int node) => RespTestClient.ConnectAsync(nodes[node].RespPort);

    public T Service<T>(int node)
        where T : notnull
        => nodes[node].App is { } app ? app.Services.GetRequiredService<T>() : throw new InvalidOperationException($"node{node + 1} is stopped");

    public string Digest(int node) => Service<RaftStateMachine>(node).Inspect(static s => s.ComputeDigest());

    /// <summary>
    /// Starts one more node with <c>RaftKv:Join=true</c> (it waits to be added with MEMBER.ADD) and returns its index;
    /// every node's <c>RaftKv:Members</c> lists it from now on (a seed list: the members themselves follow the log).
    /// </summary>
    public async Task<int> StartJoiningNodeAsync(IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var ports = LoopbackPorts.Free(4);
        var index = nodes.Count;
        nodes.Add(new TestNode(index, ports[0], ports[1], ports[2], Path.Combine(root, $"node{index + 1}")) { TlsPort = ports[3] });
        var settings = new Dictionary<string, string?>(overrides ?? new Dictionary<string, string?>()) { ["RaftKv:Join"] = "true" };
        await StartNodeAsync(index, settings);
        return index;
    }

    /// <summary>The node's Raft address as MEMBER.ADD and MEMBER.REMOVE take it.</summary>
    public string RaftAddress(int node) => $"{transport}://127.0.0.1:{nodes[node].RaftPort}/";

    /// <summary>Starts node <paramref name="index"/>; <paramref name="overrides"/> are added to its configuration last.</summary>
    public async Task StartNodeAsync(int index, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var node = nodes[index];
        var settings = new Dictionary<string, string?>
        {
            ["raft:publicEndPoint"] = $"{transport}://127.0.0.1:{node.RaftPort}/",
            ["raft:coldStart"] = "false",
            ["raft:lowerElectionTimeout"] = "300",
            ["raft:upperElectionTimeout"] = "600",
            ["raft:requestTimeout"] = "00:00:05",
            ["raft:rpcTimeout"] = "00:00:02",
            ["RaftKv:DataPath"] = node.DataPath,
            ["RaftKv:SnapshotEveryEntries"] = snapshotEvery.ToString(CultureInfo.InvariantCulture),
            ["RaftKv:Resp:Port"] = node.RespPort.ToString(CultureInfo.InvariantCulture),
            ["RaftKv:Peer:ClusterSecret"] = Secret,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var member in nodes)
        {
            settings[$"RaftKv:Members:{member.Index}:Raft"] = $"{transport}://127.0.0.1:{member.RaftPort}/";
            settings[$"RaftKv:Members:{member.Index}:Resp"] = $"127.0.0.1:{member.RespPort}";
            settings[$"RaftKv:Members:{member.Index}:Peer"] = $"127.0.0.1:{member.PeerPort}";
        }

        foreach (var (key, value) in extraSettings)
            settings[key] = OwnPorts(value, node);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
            settings[key] = OwnPorts(value, node);

        var app = RaftKvNode.Build([], config => config.AddInMemoryCollection(settings));
        try
        {
            onBuilt?.Invoke(index, app.Services);
            await RaftKvNode.StartAsync(app);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        node.App = app;
    }

    public async Task StopNodeAsync(int index)
    {
        if (nodes[index].App is not { } app)
            return;
        nodes[index].App = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await app.StopAsync(timeout.Token);
        await app.DisposeAsync();
    }

    /// <summary>Waits until one running node holds live leadership and every running node agrees on it.</summary>
    public async Task<int> WaitForLeaderAsync(TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            var running = nodes.Where(n => n.App is not null).ToArray();
            var leaders = running.Where(n => Service<ClusterView>(n.Index).IsLeader).ToArray();
            if (leaders is [var leader])
            {
                var address = $"127.0.0.1:{leader.RespPort}";
                if (running.All(n => Service<ClusterView>(n.Index).LeaderRespAddress == address))
                    return leader.Index;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("No single agreed leader within the deadline.");
    }

    /// <summary>Waits until every running node has applied the same index and has the same state digest.</summary>
    public async Task<string> WaitForConvergenceAsync(TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        var running = nodes.Where(n => n.App is not null).Select(n => n.Index).ToArray();
        while (true)
        {
            var digests = running.Select(Digest).Distinct().ToArray();
            if (digests is [var digest])
                return digest;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("Replicas did not converge: " + string.Join(" / ", digests));
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(nodes.Select(n => StopNodeAsync(n.Index)));
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind is harmless.
        }
    }

    private static string? OwnPorts(string? value, TestNode node)
        => value?.Replace("{RespPort}", node.RespPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{TlsPort}", node.TlsPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{HttpPort}", node.HttpPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private sealed class TestNode(int index, int respPort, int raftPort, int peerPort, string dataPath)
    {
        public int Index { get; } = index;
        public int RespPort { get; } = respPort;
        public int RaftPort { get; } = raftPort;
        public int PeerPort { get; } = peerPort;
        public int TlsPort { get; init; }
        public int HttpPort { get; init; }
        public string DataPath { get; } = dataPath;
        public WebApplication? App { get; set; }
    }
}
