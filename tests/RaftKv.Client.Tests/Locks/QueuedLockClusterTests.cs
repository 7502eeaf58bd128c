using Medallion.Threading;
using RaftKv.Client.Tests.Cluster;
using RaftKv.Testing;
using static RaftKv.Client.Tests.Cluster.ClusterClients;

namespace RaftKv.Client.Tests.Locks;

/// <summary>One in-process three-node cluster for the queued lock tests (each test uses its own lock names).</summary>
public sealed class QueuedLockCluster : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public RaftKvConnection Observer { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await TestCluster.StartAsync();
        await Cluster.WaitForLeaderAsync();
        Observer = await ConnectAsync(Cluster);
    }

    public async Task DisposeAsync()
    {
        await Observer.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>
/// The lock provider against a real cluster: waiters granted in the order they queued, reader-writer and semaphore
/// rules, and DistributedLock's contract (timeout 0 never waits, a cancelled or timed-out wait leaves no waiter,
/// disposal releases and hands off, no reentrancy) — checked on the server's own view, <c>LOCK.INFO</c>.
/// </summary>
[Collection(ClientClusterCollection.Name)]
public sealed class QueuedLockClusterTests(QueuedLockCluster fixture) : IClassFixture<QueuedLockCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Queued_waiters_are_granted_in_the_order_they_queued_with_growing_fencing_tokens()
    {
        const int Waiters = 4;
        var connections = await Task.WhenAll(Enumerable.Range(0, Waiters + 1).Select(_ => ConnectAsync(fixture.Cluster)));
        try
        {
            var holder = await new RaftKvDistributedLock("q:fifo", connections[0]).AcquireAsync(Patience);
            var order = new List<int>();
            var fencing = new List<long> { holder.FencingToken };
            var waiters = new List<Task>();
            for (var i = 1; i <= Waiters; i++)
            {
                var index = i;
                var resource = new RaftKvDistributedLock("q:fifo", connections[i], new RaftKvLockOptions { Owner = $"waiter-{i}" });
                waiters.Add(Task.Run(async () =>
                {
                    await using var handle = await resource.AcquireAsync(Patience);
                    lock (order)
                    {
                        order.Add(index);
                        fencing.Add(handle.FencingToken);
                    }
                }));
                await WaitForWaitersAsync("q:fifo", i);
            }

            Assert.Equal(["waiter-1", "waiter-2", "waiter-3", "waiter-4"], (await InfoAsync("q:fifo")).WaiterOwners);
            await holder.DisposeAsync();
            await Task.WhenAll(waiters).WaitAsync(Patience);

            Assert.Equal([1, 2, 3, 4], order);
            Assert.Equal(fencing.Order(), fencing);
            Assert.Equal(fencing.Count, fencing.Distinct().Count());
            Assert.Null(await InfoOrNullAsync("q:fifo"));
        }
        finally
        {
            foreach (var connection in connections)
                await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task Readers_overlap_a_writer_excludes_them_and_a_waiting_writer_blocks_new_readers()
    {
        await using var a = await ConnectAsync(fixture.Cluster);
        await using var b = await ConnectAsync(fixture.Cluster);
        await using var c = await ConnectAsync(fixture.Cluster);
        var rw = new RaftKvDistributedSynchronizationProvider(a).CreateReaderWriterLock("q:rw");
        var rwB = new RaftKvDistributedSynchronizationProvider(b).CreateReaderWriterLock("q:rw");
        var rwC = new RaftKvDistributedSynchronizationProvider(c).CreateReaderWriterLock("q:rw");

        var reader1 = await rw.AcquireReadLockAsync(Patience);
        var reader2 = await rwB.TryAcquireReadLockAsync();
        Assert.NotNull(reader2);
        Assert.Null(await rwC.TryAcquireWriteLockAsync());

        var writer = rwC.AcquireWriteLockAsync(Patience).AsTask();
        await WaitForWaitersAsync("q:rw", 1);
        Assert.Null(await rw.TryAcquireReadLockAsync());
        var lateReader = rw.AcquireReadLockAsync(Patience).AsTask();
        await WaitForWaitersAsync("q:rw", 2);

        await reader1.DisposeAsync();
        Assert.False(writer.IsCompleted);
        await reader2.DisposeAsync();
        var written = await writer.WaitAsync(Patience);
        Assert.False(lateReader.IsCompleted);
        var info = await InfoAsync("q:rw");
        Assert.Equal(("rwlock", 1, 1), (info.Kind, info.Holders, info.Waiters));

        await written.DisposeAsync();
        await using var read = await lateReader.WaitAsync(Patience);
        Assert.True(read.FencingToken > written.FencingToken);
    }

    [Fact]
    public async Task A_semaphore_admits_max_count_holders_and_hands_a_ticket_to_the_next_waiter()
    {
        await using var a = await ConnectAsync(fixture.Cluster);
        await using var b = await ConnectAsync(fixture.Cluster);
        IDistributedSemaphoreProvider provider = new RaftKvDistributedSynchronizationProvider(a);
        var semaphore = provider.CreateSemaphore("q:pool", 3);

        var tickets = new List<IDistributedSynchronizationHandle>();
        for (var i = 0; i < 3; i++)
            tickets.Add(await semaphore.AcquireAsync(Patience));
        Assert.Null(await semaphore.TryAcquireAsync());
        await Assert.ThrowsAsync<RaftKvServerException>(async () => await new RaftKvDistributedSemaphore("q:pool", 4, b).TryAcquireAsync());

        var fourth = new RaftKvDistributedSemaphore("q:pool", 3, b).AcquireAsync(Patience).AsTask();
        await WaitForWaitersAsync("q:pool", 1);
        Assert.Equal(3, (await InfoAsync("q:pool")).Holders);

        await tickets[1].DisposeAsync();
        await using var granted = await fourth.WaitAsync(Patience);
        var info = await InfoAsync("q:pool");
        Assert.Equal(("semaphore", 3, 0), (info.Kind, info.Holders, info.Waiters));
        await tickets[0].DisposeAsync();
        await tickets[2].DisposeAsync();
    }

    [Fact]
    public async Task Timeout_zero_never_queues_a_timed_out_or_cancelled_wait_leaves_no_waiter_and_the_lock_is_not_reentrant()
    {
        await using var a = await ConnectAsync(fixture.Cluster);
        await using var b = await ConnectAsync(fixture.Cluster);
        var mine = new RaftKvDistributedLock("q:contract", a);
        var theirs = new RaftKvDistributedLock("q:contract", b);
        await using var held = await mine.AcquireAsync(Patience);

        Assert.Null(await mine.TryAcquireAsync());
        Assert.Null(await theirs.TryAcquireAsync(TimeSpan.Zero));
        Assert.Equal(0, (await InfoAsync("q:contract")).Waiters);

        Assert.Null(await theirs.TryAcquireAsync(TimeSpan.FromMilliseconds(300)));
        Assert.Equal(0, (await InfoAsync("q:contract")).Waiters);
        await Assert.ThrowsAsync<TimeoutException>(async () => await theirs.AcquireAsync(TimeSpan.FromMilliseconds(300)));
        Assert.Equal(0, (await InfoAsync("q:contract")).Waiters);

        using var cancel = new CancellationTokenSource();
        var cancelled = theirs.AcquireAsync(cancellationToken: cancel.Token).AsTask();
        await WaitForWaitersAsync("q:contract", 1);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(0, (await InfoAsync("q:contract")).Waiters);
        Assert.Equal(1, (await InfoAsync("q:contract")).Holders);
    }

    [Fact]
    public async Task Disposing_a_handle_releases_and_hands_the_lock_to_the_queued_waiter()
    {
        await using var a = await ConnectAsync(fixture.Cluster);
        await using var b = await ConnectAsync(fixture.Cluster);
        IDistributedLockProvider first = new RaftKvDistributedSynchronizationProvider(a);
        var held = await first.CreateLock("q:handoff").AcquireAsync(Patience);
        var next = new RaftKvDistributedLock("q:handoff", b).AcquireAsync(Patience).AsTask();
        await WaitForWaitersAsync("q:handoff", 1);

        await held.DisposeAsync();
        await held.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => held.HandleLostToken);

        await using var handle = await next.WaitAsync(Patience);
        Assert.True(handle.FencingToken > ((RaftKvLockHandle)held).FencingToken);
        Assert.Equal("q:handoff", handle.Name);
        Assert.False(handle.HandleLostToken.IsCancellationRequested);
    }

    [Fact]
    public async Task Reader_writer_and_semaphore_holds_are_extended_past_their_expiry_and_lost_when_released_by_others()
    {
        await using var a = await ConnectAsync(fixture.Cluster);
        var options = new RaftKvLockOptions { Expiry = TimeSpan.FromSeconds(2), ExtensionCadence = TimeSpan.FromMilliseconds(300) };
        var provider = new RaftKvDistributedSynchronizationProvider(a, options);
        await using var read = await provider.CreateReaderWriterLock("q:extend-rw").AcquireReadLockAsync(Patience);
        await using var ticket = await provider.CreateSemaphore("q:extend-sem", 2).AcquireAsync(Patience);

        await Task.Delay(options.Expiry * 2.5);

        Assert.False(read.HandleLostToken.IsCancellationRequested);
        Assert.False(ticket.HandleLostToken.IsCancellationRequested);
        Assert.Equal(1, (await InfoAsync("q:extend-rw")).Holders);
        Assert.Equal(1, (await InfoAsync("q:extend-sem")).Holders);

        // Taken away behind the handle's back (an operator's release by token): the next extension says :0.
        var holder = (await fixture.Observer.ExecuteAsync("LOCK.INFO", "q:extend-sem")).Elements[5].Elements[0].Elements[0].AsString()!;
        Assert.Equal(1, (await fixture.Observer.ExecuteAsync("SEMAPHORE.RELEASE", "q:extend-sem", holder)).AsInt64());
        var lost = new TaskCompletionSource();
        using var registration = ticket.HandleLostToken.Register(() => lost.TrySetResult());
        await lost.Task.WaitAsync(Patience);
        Assert.False(read.HandleLostToken.IsCancellationRequested);
    }

    [Fact]
    public async Task A_waiter_whose_connection_drops_is_released_by_its_node_and_queues_again_behind_the_next()
    {
        var cluster = fixture.Cluster;
        var proxies = Enumerable.Range(0, cluster.Size).Select(i => TcpProxy.Start(cluster.RespPort(i))).ToArray();
        try
        {
            var proxied = Options([.. proxies.Select(static p => p.Endpoint)]);
            proxied.DiscoverMembers = false;
            await using var dropped = await RaftKvConnection.ConnectAsync(proxied);
            await using var holderConnection = await ConnectAsync(cluster);
            await using var nextConnection = await ConnectAsync(cluster);
            var holder = await new RaftKvDistributedLock("q:dropped", holderConnection).AcquireAsync(Patience);
            var order = new List<string>();

            async Task<RaftKvLockHandle> WaitAsync(RaftKvConnection connection, string owner)
            {
                var handle = await new RaftKvDistributedLock("q:dropped", connection, new RaftKvLockOptions { Owner = owner }).AcquireAsync(Patience);
                lock (order)
                    order.Add(owner);
                return handle;
            }

            var first = WaitAsync(dropped, "first");
            await WaitForWaitersAsync("q:dropped", 1);
            var next = WaitAsync(nextConnection, "next");
            await WaitForWaitersAsync("q:dropped", 2);

            foreach (var proxy in proxies)
                proxy.DropConnections();

            // Its node released the dropped waiter's token; the client queued again, with a new token, behind "next".
            await WaitForAsync("q:dropped", static info => info?.WaiterOwners is ["next", "first"], "the dropped waiter queued again behind the next one");
            await holder.DisposeAsync();
            await using (await next.WaitAsync(Patience))
                Assert.False(first.IsCompleted);
            await using var last = await first.WaitAsync(Patience);

            Assert.Equal(["next", "first"], order);
        }
        finally
        {
            foreach (var proxy in proxies)
                await proxy.DisposeAsync();
        }
    }

    // Waits until the server shows `count` waiters of `name` (the acquire sent last is queued in the log).
    private Task WaitForWaitersAsync(string name, int count)
        => WaitForAsync(name, info => info?.Waiters == count, $"{count} waiters");

    private async Task WaitForAsync(string name, Func<LockInfo?, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition(await InfoOrNullAsync(name)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"LOCK.INFO {name} never showed {what}");
            await Task.Delay(20);
        }
    }

    private async Task<LockInfo> InfoAsync(string name)
        => await InfoOrNullAsync(name) ?? throw new InvalidOperationException($"Nothing holds or waits for {name}.");

    private async Task<LockInfo?> InfoOrNullAsync(string name)
    {
        var reply = await fixture.Observer.ExecuteAsync("LOCK.INFO", name);
        if (reply.IsNull)
            return null;
        var fields = reply.Elements;
        var waiters = fields[7].Elements;
        return new LockInfo(fields[1].AsString()!, fields[5].Elements.Count, waiters.Count, [.. waiters.Select(static w => w.Elements[1].AsString()!)]);
    }

    private sealed record LockInfo(string Kind, int Holders, int Waiters, string[] WaiterOwners);
}
