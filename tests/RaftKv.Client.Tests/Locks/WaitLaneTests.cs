using Medallion.Threading;
using Microsoft.Extensions.DependencyInjection;
using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Locks;

/// <summary>
/// Queued acquires on the wire, against a scripted fake node: the blocked acquire travels on a wait lane of its own
/// (plain, not in the session), failures on the lane are retried with the same token, and a cancelled wait is released.
/// </summary>
public sealed class WaitLaneTests
{
    [Fact]
    public async Task A_blocked_acquire_holds_up_no_other_command_and_a_cancelled_one_is_released_with_its_token()
    {
        await using var node = new FakeNode();
        node.Intercept = request => request.Command switch
        {
            "LOCK.ACQUIRE" => FakeReply.Mute,
            "LOCK.RELEASE" => FakeReply.Integer(1),
            _ => null,
        };
        await using var client = await ConnectAsync(node);
        using var cancel = new CancellationTokenSource();

        var acquiring = new RaftKvDistributedLock("lock:k", client).TryAcquireAsync(TimeSpan.FromSeconds(5), cancel.Token).AsTask();
        await Eventually.TrueAsync(() => node.Received.Any(static r => r.Command == "LOCK.ACQUIRE"), "the queued acquire");
        Assert.True(await client.StringSetAsync("other", "1"));
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquiring);
        var acquire = node.Received.Single(static r => r.Command == "LOCK.ACQUIRE");
        var release = node.Received.Single(static r => r.Command == "LOCK.RELEASE");
        var set = node.Received.Single(static r => r.Command == "SET");
        Assert.False(acquire.IsSessionExec);
        Assert.Equal(["lock:k", acquire.Args[2], "30000", "WAIT", "5000", "OWNER"], acquire.Args[1..7]);
        Assert.True(release.IsSessionExec);
        Assert.Equal(acquire.Args[2], release.Inner[2]);
        Assert.NotEqual(set.Connection, acquire.Connection);
        Assert.Equal(set.Connection, release.Connection);
    }

    [Fact]
    public async Task A_wait_whose_lane_closes_is_released_and_continued_with_a_new_token()
    {
        await using var node = new FakeNode();
        var attempts = 0;
        node.Intercept = request => request.Command switch
        {
            "LOCK.ACQUIRE" when Interlocked.Increment(ref attempts) == 1 => FakeReply.Close,
            "LOCK.ACQUIRE" => FakeReply.Integer(41),
            "LOCK.RELEASE" => FakeReply.Integer(1),
            _ => null,
        };
        await using var client = await ConnectAsync(node);

        await using (var handle = await new RaftKvDistributedLock("lock:k", client).AcquireAsync(TimeSpan.FromSeconds(5)))
            Assert.Equal(41, handle.FencingToken);

        var tokens = node.Received.Where(static r => r.Command is "LOCK.ACQUIRE" or "LOCK.RELEASE").Select(static r => $"{r.Command} {r.Inner[2]}").ToList();
        var (first, second) = (tokens[0].Split(' ')[1], tokens[2].Split(' ')[1]);
        Assert.NotEqual(first, second);
        Assert.Equal([$"LOCK.ACQUIRE {first}", $"LOCK.RELEASE {first}", $"LOCK.ACQUIRE {second}", $"LOCK.RELEASE {second}"], tokens);
    }

    [Theory]
    [InlineData("UNCERTAIN leadership changed")]
    [InlineData("CLUSTERDOWN no leader")]
    [InlineData("MOVED 0 127.0.0.1:1")]
    public async Task A_wait_cut_short_by_the_cluster_is_retried_with_the_same_token(string error)
    {
        await using var node = new FakeNode();
        var attempts = 0;
        node.Intercept = request => request.Command switch
        {
            "LOCK.ACQUIRE" when Interlocked.Increment(ref attempts) == 1 => FakeReply.Error(error),
            "LOCK.ACQUIRE" => FakeReply.Integer(41),
            "LOCK.RELEASE" => FakeReply.Integer(1),
            _ => null,
        };
        await using var client = await ConnectAsync(node);

        await using var handle = await new RaftKvDistributedLock("lock:k", client).AcquireAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(41, handle.FencingToken);
        var acquires = node.Received.Where(static r => r.Command == "LOCK.ACQUIRE").ToList();
        Assert.Equal(2, acquires.Count);
        Assert.Equal(acquires[0].Args[2], acquires[1].Args[2]);
    }

    [Fact]
    public async Task A_lane_is_reused_by_the_next_queued_acquire()
    {
        await using var node = new FakeNode();
        node.Intercept = static request => request.Command switch
        {
            "LOCK.ACQUIRE" or "RWLOCK.ACQUIRE" or "SEMAPHORE.ACQUIRE" => FakeReply.Integer(3),
            "LOCK.RELEASE" or "RWLOCK.RELEASE" or "SEMAPHORE.RELEASE" => FakeReply.Integer(1),
            _ => null,
        };
        await using var client = await ConnectAsync(node);
        var provider = new RaftKvDistributedSynchronizationProvider(client);

        await (await provider.CreateLock("a").AcquireAsync(TimeSpan.FromSeconds(5))).DisposeAsync();
        await (await provider.CreateReaderWriterLock("b").AcquireReadLockAsync(TimeSpan.FromSeconds(5))).DisposeAsync();
        await (await provider.CreateSemaphore("c", 2).AcquireAsync(TimeSpan.FromSeconds(5))).DisposeAsync();

        var lanes = node.Received.Where(static r => r.Command.EndsWith(".ACQUIRE", StringComparison.Ordinal)).Select(static r => r.Connection).Distinct();
        Assert.Single(lanes);
    }

    [Fact]
    public async Task AddRaftKv_registers_one_connection_and_one_provider_behind_the_three_interfaces()
    {
        await using var node = new FakeNode();
        node.Intercept = static request => request.Command switch
        {
            "SEMAPHORE.ACQUIRE" => FakeReply.Integer(8),
            "SEMAPHORE.RELEASE" => FakeReply.Integer(1),
            _ => null,
        };
        var services = new ServiceCollection().AddRaftKv(
            options =>
            {
                options.Endpoints.Add(node.Endpoint);
                options.TopologyRefreshInterval = TimeSpan.FromHours(1);
            },
            locks => locks.Owner = "from-di");
        await using var container = services.BuildServiceProvider();

        var provider = container.GetRequiredService<RaftKvDistributedSynchronizationProvider>();
        Assert.Same(provider, container.GetRequiredService<IDistributedLockProvider>());
        Assert.Same(provider, container.GetRequiredService<IDistributedReaderWriterLockProvider>());
        Assert.Same(provider, container.GetRequiredService<IDistributedSemaphoreProvider>());
        Assert.Same(container.GetRequiredService<RaftKvConnection>(), container.GetRequiredService<RaftKvConnection>());

        await using (var handle = await container.GetRequiredService<IDistributedSemaphoreProvider>().AcquireSemaphoreAsync("pool", 2))
            Assert.Equal(8, Assert.IsType<RaftKvLockHandle>(handle).FencingToken);
        var acquire = node.Received.Single(static r => r.Command == "SEMAPHORE.ACQUIRE");
        Assert.Equal("from-di", acquire.Inner[^1]);
        Assert.Equal("2", acquire.Inner[2]);
    }

    [Fact]
    public async Task AddRaftKv_connects_at_first_resolve_and_tries_again_at_the_next_after_a_failure()
    {
        await using var node = new FakeNode();
        var up = false;
        node.Intercept = request => up || request.Name != "INFO" ? null : FakeReply.Close;
        await using var container = new ServiceCollection()
            .AddRaftKv(options =>
            {
                options.Endpoints.Add(node.Endpoint);
                options.OperationTimeout = TimeSpan.FromMilliseconds(500);
                options.TopologyRefreshInterval = TimeSpan.FromHours(1);
            })
            .BuildServiceProvider();

        Assert.Throws<RaftKvTimeoutException>(() => container.GetRequiredService<IDistributedLockProvider>());
        up = true;

        Assert.NotNull(container.GetRequiredService<IDistributedLockProvider>());
        Assert.Equal(1, node.SessionsOpened);
    }

    private static Task<RaftKvConnection> ConnectAsync(FakeNode node)
        => RaftKvConnection.ConnectAsync(new RaftKvClientOptions
        {
            Endpoints = { node.Endpoint },
            OperationTimeout = TimeSpan.FromSeconds(10),
            MinRetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(100),
            TopologyRefreshInterval = TimeSpan.FromHours(1),
        });
}
