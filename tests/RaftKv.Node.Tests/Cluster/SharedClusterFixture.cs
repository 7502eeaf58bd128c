using RaftKv.Testing;
using StackExchange.Redis;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// One three-node cluster shared by the tests of a class (each test uses its own keys and leaves every node running,
/// or starts again any node it stopped through <see cref="AllRunningLeaderAsync"/>).
/// </summary>
public sealed class SharedClusterFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>Starts any node a previous test left stopped and returns the agreed leader.</summary>
    public async Task<int> AllRunningLeaderAsync()
    {
        for (var node = 0; node < Cluster.Size; node++)
        {
            if (!Cluster.IsRunning(node))
                await Cluster.StartNodeAsync(node);
        }

        return await Cluster.WaitForLeaderAsync();
    }

    /// <summary>A node that is not the leader right now.</summary>
    public async Task<int> FollowerAsync() => (await Cluster.WaitForLeaderAsync() + 1) % Cluster.Size;
}

/// <summary>StackExchange.Redis as the tests configure it: generous timeouts for a noisy 2-core machine.</summary>
internal static class StackExchangeRedis
{
    public static Task<ConnectionMultiplexer> ConnectAsync(params int[] ports)
    {
        var options = new ConfigurationOptions { AbortOnConnectFail = false, ConnectTimeout = 10_000, SyncTimeout = 10_000, AsyncTimeout = 10_000 };
        foreach (var port in ports)
            options.EndPoints.Add($"127.0.0.1:{port}");
        return ConnectedToAPrimaryAsync(ConnectionMultiplexer.ConnectAsync(options));
    }

    /// <summary>
    /// With AbortOnConnectFail off, ConnectAsync can return before the primary it learned of (the Raft leader, found
    /// through CLUSTER NODES or INFO) has its own connection up; a write issued in that window goes to a replica and
    /// fails with "Command cannot be issued to a replica". Wait, bounded, for a connected primary, as an application
    /// would before its first write.
    /// </summary>
    private static async Task<ConnectionMultiplexer> ConnectedToAPrimaryAsync(Task<ConnectionMultiplexer> connecting)
    {
        var redis = await connecting;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!redis.GetServers().Any(static s => s.IsConnected && !s.IsReplica) && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        return redis;
    }
}
