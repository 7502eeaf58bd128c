using RaftKv.Client.Tests.Fakes;
using RaftKv.Testing;
using static RaftKv.Client.Tests.Cluster.ClusterClients;

namespace RaftKv.Client.Tests.Cluster;

/// <summary>RaftKvDistributedLock against a real three-node cluster: mutual exclusion, fencing, extension, loss.</summary>
[Collection(ClientClusterCollection.Name)]
public sealed class LockClusterTests
{
    [Fact]
    public async Task Concurrent_lockers_never_overlap_and_fencing_tokens_increase_across_a_leader_stop()
    {
        const int Lockers = 4;
        const int Rounds = 6;
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var connections = await Task.WhenAll(Enumerable.Range(0, Lockers).Select(_ => ConnectAsync(cluster)));
        var options = new RaftKvLockOptions { Expiry = TimeSpan.FromSeconds(10), MaxBusyWaitSleepTime = TimeSpan.FromMilliseconds(100) };
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(3));

        var inside = 0;
        var overlaps = 0;
        var tokens = new List<long>();
        var stoppedAfter = -1;
        var lockers = connections.Select(connection => Task.Run(async () =>
        {
            var resource = new RaftKvDistributedLock("lock:resource", connection, options);
            for (var round = 0; round < Rounds; round++)
            {
                await using var handle = await resource.AcquireAsync(cancellationToken: bound.Token);
                if (Interlocked.Increment(ref inside) != 1)
                    Interlocked.Increment(ref overlaps);
                lock (tokens)
                    tokens.Add(handle.FencingToken);
                await Task.Delay(20, bound.Token);
                Interlocked.Decrement(ref inside);
            }
        })).ToArray();

        await Eventually.TrueAsync(
            () =>
            {
                lock (tokens)
                    return tokens.Count >= Lockers * Rounds / 3 || lockers.Any(static l => l.IsCompleted);
            },
            "a third of the acquisitions");
        lock (tokens)
            stoppedAfter = tokens.Count;
        await cluster.StopNodeAsync(leader);
        await Task.WhenAll(lockers);
        foreach (var connection in connections)
            await connection.DisposeAsync();

        Assert.Equal(0, overlaps);
        Assert.Equal(Lockers * Rounds, tokens.Count);
        Assert.InRange(stoppedAfter, 1, tokens.Count - 1);
        for (var i = 1; i < tokens.Count; i++)
            Assert.True(tokens[i] > tokens[i - 1], $"fencing token {tokens[i]} after {tokens[i - 1]}");
    }

    [Fact]
    public async Task A_held_lock_is_extended_past_its_expiry_and_released_on_dispose()
    {
        await using var cluster = await TestCluster.StartAsync();
        await cluster.WaitForLeaderAsync();
        await using var holder = await ConnectAsync(cluster);
        await using var rival = await ConnectAsync(cluster);
        var options = new RaftKvLockOptions { Expiry = TimeSpan.FromSeconds(3), ExtensionCadence = TimeSpan.FromMilliseconds(500) };
        var held = new RaftKvDistributedLock("lock:extended", holder, options);
        var contested = new RaftKvDistributedLock("lock:extended", rival, options);

        var handle = await held.AcquireAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(options.Expiry * 2.5);

        Assert.False(handle.HandleLostToken.IsCancellationRequested);
        Assert.Null(await contested.TryAcquireAsync());

        await handle.DisposeAsync();
        await handle.DisposeAsync();
        await using var next = await contested.TryAcquireAsync();
        Assert.NotNull(next);
        Assert.True(next.FencingToken > handle.FencingToken);
    }

    [Fact]
    public async Task HandleLostToken_fires_when_the_holder_is_cut_off_and_another_client_then_takes_the_lock()
    {
        await using var cluster = await TestCluster.StartAsync();
        await cluster.WaitForLeaderAsync();
        var proxies = Enumerable.Range(0, cluster.Size).Select(i => TcpProxy.Start(cluster.RespPort(i))).ToArray();
        try
        {
            var options = Options([.. proxies.Select(static p => p.Endpoint)]);
            options.DiscoverMembers = false;
            await using var holder = await RaftKvConnection.ConnectAsync(options);
            await using var rival = await ConnectAsync(cluster);
            var lockOptions = new RaftKvLockOptions { Expiry = TimeSpan.FromSeconds(3), MaxClockSkew = TimeSpan.FromMilliseconds(500) };
            var handle = await new RaftKvDistributedLock("lock:partitioned", holder, lockOptions).AcquireAsync(TimeSpan.FromSeconds(10));
            var lost = new TaskCompletionSource();
            using var registration = handle.HandleLostToken.Register(() => lost.TrySetResult());

            foreach (var proxy in proxies)
                proxy.Cut();

            await lost.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var taken = await new RaftKvDistributedLock("lock:partitioned", rival, lockOptions).AcquireAsync(TimeSpan.FromSeconds(30));
            Assert.True(taken.FencingToken > handle.FencingToken);

            foreach (var proxy in proxies)
                proxy.Heal();
            await handle.DisposeAsync();
            Assert.Null(await new RaftKvDistributedLock("lock:partitioned", rival, lockOptions).TryAcquireAsync());
            await taken.DisposeAsync();
        }
        finally
        {
            foreach (var proxy in proxies)
                await proxy.DisposeAsync();
        }
    }
}
