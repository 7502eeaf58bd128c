using System.Diagnostics;
using System.Globalization;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Chaos.Tests;

/// <summary>
/// The lock service's queue across a kill -9 of the leader, with real processes: waiters that queued in a known order
/// on a follower are granted in that order by the new leader's entries, with fencing tokens that keep increasing, and
/// a waiter whose connection closed is skipped.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class LockFailoverTests
{
    private const string Key = "fifo:m";
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Waiters_queued_before_a_leader_kill_are_granted_in_queue_order_with_increasing_tokens()
    {
        await using var cluster = await LocalCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync(Within);
        var follower = leader % 3 + 1;

        // The holder, then three waiters, each queued only once LOCK.INFO shows the one before it queued.
        var holderToken = (await CallUntilDecidedAsync(cluster, follower, "LOCK.ACQUIRE", Key, "h", "60000")).Integer;
        var waiters = new List<(RespTestClient Client, Task<Reply> Grant)>();
        for (var i = 1; i <= 3; i++)
        {
            var client = await cluster.ConnectAsync(follower);
            client.ReplyTimeout = TimeSpan.FromSeconds(90);
            var name = "w" + i.ToString(CultureInfo.InvariantCulture);
            waiters.Add((client, client.CallAsync("LOCK.ACQUIRE", Key, name, "60000", "WAIT", "60000", "OWNER", name)));
            Assert.Equal(["h"], (await InfoWhenAsync(cluster, follower, info => info.Waiters.Count == i)).Holders);
        }

        try
        {
            Assert.Equal(["w1", "w2", "w3"], (await InfoWhenAsync(cluster, follower, static _ => true)).Waiters);

            await cluster.RunAsync("kill", leader);
            await ReleaseAsync(cluster, follower, "h");
            var first = await waiters[0].Grant;
            Assert.Equal(ReplyKind.Integer, first.Kind);
            Assert.True(first.Integer > holderToken, $"w1's token {first.Integer} after the holder's {holderToken}");

            // The second waiter leaves (its connection closes): the third is next.
            var second = InfoWhenAsync(cluster, follower, static info => info.Waiters is ["w3"]);
            await waiters[1].Client.DisposeAsync();
            var state = await second;
            Assert.Equal(["w1"], state.Holders);

            await ReleaseAsync(cluster, follower, "w1");
            var third = await waiters[2].Grant;
            Assert.Equal(ReplyKind.Integer, third.Kind);
            Assert.True(third.Integer > first.Integer, $"w3's token {third.Integer} after w1's {first.Integer}");
            await ReleaseAsync(cluster, follower, "w3");
        }
        finally
        {
            foreach (var (client, _) in waiters)
                await client.DisposeAsync();
        }
    }

    private sealed record LockState(IReadOnlyList<string> Holders, IReadOnlyList<string> Waiters);

    // LOCK.INFO on the node until the state satisfies the condition (a node without a leader answers CLUSTERDOWN).
    private static async Task<LockState> InfoWhenAsync(LocalCluster cluster, int node, Func<LockState, bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        LockState? last = null;
        while (deadline.Elapsed < Within)
        {
            var reply = await CallUntilDecidedAsync(cluster, node, "LOCK.INFO", Key);
            last = new LockState(
                Workloads.Workloads.LockInfoTokens(reply, "holders") ?? throw new InvalidDataException("LOCK.INFO: " + reply),
                Workloads.Workloads.LockInfoTokens(reply, "waiters") ?? throw new InvalidDataException("LOCK.INFO: " + reply));
            if (condition(last))
                return last;
            await Task.Delay(50);
        }

        throw new TimeoutException($"LOCK.INFO {Key} did not reach the state expected within {Within}; last: holders [{string.Join(", ", last?.Holders ?? [])}], " +
                                   $"waiters [{string.Join(", ", last?.Waiters ?? [])}]");
    }

    // Releases the token, again after an unknown outcome (the write in flight when the leader died): the first release
    // that was applied answers 1, a repeat 0; either way the token no longer holds, which the next grant shows.
    private static async Task ReleaseAsync(LocalCluster cluster, int node, string token)
    {
        var uncertain = false;
        while (true)
        {
            var reply = await CallUntilDecidedAsync(cluster, node, retryUncertain: true, "LOCK.RELEASE", Key, token);
            if (reply.Text?.StartsWith("UNCERTAIN", StringComparison.Ordinal) == true)
            {
                uncertain = true;
                continue;
            }

            Assert.Equal(ReplyKind.Integer, reply.Kind);
            Assert.True(reply.Integer == 1 || uncertain, $"LOCK.RELEASE {Key} {token}: {reply}");
            return;
        }
    }

    private static Task<Reply> CallUntilDecidedAsync(LocalCluster cluster, int node, params string[] argv)
        => CallUntilDecidedAsync(cluster, node, retryUncertain: false, argv);

    // Sends the command on a fresh connection to the node until it answers something other than CLUSTERDOWN (no leader
    // yet); with retryUncertain, an UNCERTAIN is returned for the caller to retry, else it fails the test.
    private static async Task<Reply> CallUntilDecidedAsync(LocalCluster cluster, int node, bool retryUncertain, params string[] argv)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            await using var client = await cluster.ConnectAsync(node);
            client.ReplyTimeout = TimeSpan.FromSeconds(10);
            var reply = await client.CallAsync(argv);
            var undecided = reply.IsError && reply.Text!.StartsWith("CLUSTERDOWN", StringComparison.Ordinal);
            if (!undecided || deadline.Elapsed > Within)
            {
                Assert.False(reply.IsError && !(retryUncertain && reply.Text!.StartsWith("UNCERTAIN", StringComparison.Ordinal)), $"{string.Join(' ', argv)}: {reply}");
                return reply;
            }

            await Task.Delay(100);
        }
    }
}
