using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Blocking lock acquires on a real 3-node cluster: waiters queued through the log, on the leader and on followers,
/// are answered in queue order by the apply of the release that frees the lock; a waiter whose client went away is
/// released; a blocked acquire blocks its connection like BLPOP; SESSION.EXEC waits the same way.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class LockWaitClusterTests(SharedClusterFixture fixture) : IClassFixture<SharedClusterFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private TestCluster Cluster => fixture.Cluster;

    // Waits until LOCK.INFO on the leader lists `count` waiters of `key` (the previous acquire is queued in the log).
    private async Task WaitForWaitersAsync(RespTestClient observer, string key, int count)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var info = await observer.CallAsync("LOCK.INFO", key);
            if (info.Kind == ReplyKind.Array && info.Items![7].Items!.Count == count)
                return;
            Assert.True(DateTime.UtcNow < deadline, $"LOCK.INFO {key} never showed {count} waiters: {info}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Waiters_on_the_leader_and_on_followers_are_granted_in_queue_order()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        var follower = (leader + 1) % Cluster.Size;
        await using var observer = await Cluster.ConnectAsync(leader);
        await using var holder = await Cluster.ConnectAsync(leader);
        var held = await holder.CallAsync("LOCK.ACQUIRE", "q:fifo", "holder", "60000");
        Assert.Equal(ReplyKind.Integer, held.Kind);

        // Four waiters, alternating leader and follower connections, each queued before the next is sent.
        var clients = new List<RespTestClient>();
        var replies = new List<Task<Reply>>();
        for (var i = 0; i < 4; i++)
        {
            var client = await Cluster.ConnectAsync(i % 2 == 0 ? leader : follower);
            clients.Add(client);
            replies.Add(client.CallAsync("LOCK.ACQUIRE", "q:fifo", $"w{i}", "60000", "WAIT", "60000", "OWNER", $"client-{i}"));
            await WaitForWaitersAsync(observer, "q:fifo", i + 1);
        }

        // INFO shows the queue (replicated) and this node's blocked clients (two of the four are on the leader).
        var info = System.Text.Encoding.UTF8.GetString((await observer.CallAsync("INFO", "locks")).Bulk!);
        Assert.Contains("locks=1,holders=1,waiters=4", info);
        var clientsInfo = System.Text.Encoding.UTF8.GetString((await observer.CallAsync("INFO", "clients")).Bulk!);
        Assert.Contains("blocked_clients:2", clientsInfo);

        var fencing = held.Integer;
        var release = ("holder", holder);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(Reply.FromInteger(1), await release.Item2.CallAsync("LOCK.RELEASE", "q:fifo", release.Item1));
            var granted = await replies[i].WaitAsync(Patience);
            Assert.Equal(ReplyKind.Integer, granted.Kind);
            Assert.True(granted.Integer > fencing, "fencing tokens grow with each hand-off");
            fencing = granted.Integer;
            Assert.All(replies.Skip(i + 1), static r => Assert.False(r.IsCompleted, "a later waiter was answered first"));
            Assert.Equal(Reply.FromBulk($"w{i}"), await observer.CallAsync("GET", "q:fifo"));
            release = ($"w{i}", clients[i]);
        }

        Assert.Equal(Reply.FromInteger(1), await clients[3].CallAsync("LOCK.RELEASE", "q:fifo", "w3"));
        foreach (var client in clients)
            await client.DisposeAsync();
    }

    [Fact]
    public async Task A_waiter_whose_client_disconnects_is_released_and_skipped()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        var follower = (leader + 2) % Cluster.Size;
        await using var observer = await Cluster.ConnectAsync(leader);
        await using var holder = await Cluster.ConnectAsync(leader);
        await holder.CallAsync("LOCK.ACQUIRE", "q:gone", "holder", "60000");

        // The first waiter asks for a ten-minute lease, then its connection (to a follower) dies.
        await using var gone = await Cluster.ConnectAsync(follower);
        var goneReply = gone.CallAsync("LOCK.ACQUIRE", "q:gone", "gone", "600000", "WAIT", "600000");
        await WaitForWaitersAsync(observer, "q:gone", 1);
        await using var next = await Cluster.ConnectAsync(leader);
        var nextReply = next.CallAsync("LOCK.ACQUIRE", "q:gone", "next", "60000", "WAIT", "120000");
        await WaitForWaitersAsync(observer, "q:gone", 2);
        gone.Abort();
        await Assert.ThrowsAnyAsync<Exception>(() => goneReply);
        await WaitForWaitersAsync(observer, "q:gone", 1);

        // Had the dead waiter kept its place, the release would hand it a ten-minute lease; the next waiter gets it.
        Assert.Equal(Reply.FromInteger(1), await holder.CallAsync("LOCK.RELEASE", "q:gone", "holder"));
        Assert.Equal(ReplyKind.Integer, (await nextReply.WaitAsync(Patience)).Kind);
        Assert.Equal(Reply.FromBulk("next"), await observer.CallAsync("GET", "q:gone"));
        await next.CallAsync("LOCK.RELEASE", "q:gone", "next");
    }

    [Fact]
    public async Task A_queued_waiter_on_a_follower_is_granted_by_the_next_leader_when_the_lease_ends()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        var waiterNode = (leader + 1) % Cluster.Size;
        long holderFencing;
        await using (var holder = await Cluster.ConnectAsync(leader))
            holderFencing = (await holder.CallAsync("LOCK.ACQUIRE", "q:failover", "holder", "3000")).Integer;
        await using var waiter = await Cluster.ConnectAsync(waiterNode);
        waiter.ReplyTimeout = Patience;
        var granted = waiter.CallAsync("LOCK.ACQUIRE", "q:failover", "w", "60000", "WAIT", "60000");
        await using (var observer = await Cluster.ConnectAsync(waiterNode))
            await WaitForWaitersAsync(observer, "q:failover", 1);

        // The leader that queued the waiter dies; the next one ends the holder's lease in cluster time and grants.
        await Cluster.StopNodeAsync(leader);
        var reply = await granted.WaitAsync(Patience);
        Assert.Equal(ReplyKind.Integer, reply.Kind);
        Assert.True(reply.Integer > holderFencing);
        await using var check = await Cluster.ConnectAsync(waiterNode);
        Assert.Equal(Reply.FromBulk("w"), await check.CallAsync("GET", "q:failover"));
        Assert.Equal(Reply.FromInteger(1), await waiter.CallAsync("LOCK.RELEASE", "q:failover", "w"));
        await fixture.AllRunningLeaderAsync();
    }

    [Fact]
    public async Task A_waiter_on_a_node_cut_off_from_the_leader_is_told_uncertain()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        var lonely = (leader + 1) % Cluster.Size;
        await using (var holder = await Cluster.ConnectAsync(leader))
            await holder.CallAsync("LOCK.ACQUIRE", "q:cutoff", "holder", "600000");
        await using var waiter = await Cluster.ConnectAsync(lonely);
        waiter.ReplyTimeout = Patience;
        var reply = waiter.CallAsync("LOCK.ACQUIRE", "q:cutoff", "w", "60000", "WAIT", "600000");
        await using (var observer = await Cluster.ConnectAsync(lonely))
            await WaitForWaitersAsync(observer, "q:cutoff", 1);

        // The other two stop: the waiter's node knows no leader and will not apply the wait's end for ten minutes.
        foreach (var node in Enumerable.Range(0, Cluster.Size).Where(n => n != lonely))
            await Cluster.StopNodeAsync(node);
        var answer = await reply.WaitAsync(Patience);
        Assert.True(answer.IsError && answer.Text!.StartsWith("UNCERTAIN", StringComparison.Ordinal), answer.ToString());

        var newLeader = await fixture.AllRunningLeaderAsync();
        await using var cleanup = await Cluster.ConnectAsync(newLeader);
        await cleanup.CallAsync("LOCK.RELEASE", "q:cutoff", "w");
        await cleanup.CallAsync("LOCK.RELEASE", "q:cutoff", "holder");
    }

    [Fact]
    public async Task A_wait_that_ends_answers_nil_and_leaves_the_queue()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        await using var holder = await Cluster.ConnectAsync(leader);
        await holder.CallAsync("LOCK.ACQUIRE", "q:timeout", "holder", "60000");
        await using var waiter = await Cluster.ConnectAsync((leader + 1) % Cluster.Size);
        Assert.Equal(Reply.NullBulk, await waiter.CallAsync("LOCK.ACQUIRE", "q:timeout", "w", "60000", "WAIT", "300"));
        var info = await holder.CallAsync("LOCK.INFO", "q:timeout");
        Assert.Empty(info.Items![7].Items!);
        await holder.CallAsync("LOCK.RELEASE", "q:timeout", "holder");
    }

    [Fact]
    public async Task A_blocked_acquire_blocks_its_connection_like_blpop()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        await using var holder = await Cluster.ConnectAsync(leader);
        await holder.CallAsync("LOCK.ACQUIRE", "q:block", "holder", "60000");
        await using var waiter = await Cluster.ConnectAsync(leader);

        // Pipelined: the SET after the blocked acquire must not run before the lock is granted.
        await waiter.SendAsync([["LOCK.ACQUIRE"u8.ToArray(), "q:block"u8.ToArray(), "w"u8.ToArray(), "60000"u8.ToArray(), "WAIT"u8.ToArray(), "60000"u8.ToArray()],
            ["SET"u8.ToArray(), "q:block:fenced"u8.ToArray(), "written"u8.ToArray()]]);
        await WaitForWaitersAsync(holder, "q:block", 1);
        Assert.Equal(Reply.NullBulk, await holder.CallAsync("GET", "q:block:fenced"));

        await holder.CallAsync("LOCK.RELEASE", "q:block", "holder");
        Assert.Equal(ReplyKind.Integer, (await waiter.ReadReplyAsync()).Kind);
        Assert.Equal(Reply.Ok, await waiter.ReadReplyAsync());
        Assert.Equal(Reply.FromBulk("written"), await holder.CallAsync("GET", "q:block:fenced"));
        await waiter.CallAsync("LOCK.RELEASE", "q:block", "w");
    }

    [Fact]
    public async Task Readers_writers_and_semaphores_wait_in_the_same_queues()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        await using var observer = await Cluster.ConnectAsync(leader);
        await using var reader = await Cluster.ConnectAsync(leader);
        await reader.CallAsync("RWLOCK.ACQUIRE", "q:rw", "READ", "r1", "60000");
        await using var writer = await Cluster.ConnectAsync((leader + 1) % Cluster.Size);
        var write = writer.CallAsync("RWLOCK.ACQUIRE", "q:rw", "WRITE", "w", "60000", "WAIT", "60000");
        await WaitForWaitersAsync(observer, "q:rw", 1);
        Assert.Equal(Reply.NullBulk, await observer.CallAsync("RWLOCK.ACQUIRE", "q:rw", "READ", "late-reader", "60000"));
        await reader.CallAsync("RWLOCK.RELEASE", "q:rw", "r1");
        Assert.Equal(ReplyKind.Integer, (await write.WaitAsync(Patience)).Kind);
        await writer.CallAsync("RWLOCK.RELEASE", "q:rw", "w");

        await observer.CallAsync("SEMAPHORE.ACQUIRE", "q:sem", "1", "s1", "60000");
        await using var second = await Cluster.ConnectAsync((leader + 2) % Cluster.Size);
        var waiting = second.CallAsync("SEMAPHORE.ACQUIRE", "q:sem", "1", "s2", "60000", "WAIT", "60000");
        await WaitForWaitersAsync(observer, "q:sem", 1);
        await observer.CallAsync("SEMAPHORE.RELEASE", "q:sem", "s1");
        Assert.Equal(ReplyKind.Integer, (await waiting.WaitAsync(Patience)).Kind);
        await second.CallAsync("SEMAPHORE.RELEASE", "q:sem", "s2");
    }

    [Fact]
    public async Task A_session_wrapped_acquire_blocks_and_its_retry_answers_the_grant()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        await using var client = await Cluster.ConnectAsync(leader);
        await using var holder = await Cluster.ConnectAsync(leader);
        await holder.CallAsync("LOCK.ACQUIRE", "q:session", "holder", "60000");
        var session = (await client.CallAsync("SESSION.OPEN", "60000")).Integer.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var acquire = client.CallAsync("SESSION.EXEC", session, "1", "0", "LOCK.ACQUIRE", "q:session", "w", "60000", "WAIT", "60000");
        await WaitForWaitersAsync(holder, "q:session", 1);
        await holder.CallAsync("LOCK.RELEASE", "q:session", "holder");
        var granted = await acquire.WaitAsync(Patience);
        Assert.Equal(ReplyKind.Integer, granted.Kind);

        // A retry of the same sequence number (the reply was lost) answers the grant, not a second queueing.
        await using var retry = await Cluster.ConnectAsync((leader + 1) % Cluster.Size);
        Assert.Equal(granted, await retry.CallAsync("SESSION.EXEC", session, "1", "0", "LOCK.ACQUIRE", "q:session", "w", "60000", "WAIT", "60000"));
        await client.CallAsync("LOCK.RELEASE", "q:session", "w");
    }
}
