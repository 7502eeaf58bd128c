using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Scripts that used to hold every replica in C (work the instruction budget did not count) or whose reply could be
/// computed but not stored or forwarded, on a three-node cluster: each answers its error on the leader and through a
/// follower, and the cluster keeps serving, with every replica at the same digest.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class HostileScriptTests
{
    public static TheoryData<string> CostlyScripts =>
    [
        "return string.rep('', 2^62)",
        "return string.rep('x', 2^40)",
        "return #string.rep('ab', 1e9, ',')",
        "return string.find(string.rep('a', 100000), 'a*b')",
        "local s = string.rep('a', 1048576) for i = 1, 100000 do s = s:upper():lower() end return #s",
    ];

    [Theory]
    [MemberData(nameof(CostlyScripts))]
    public async Task A_script_doing_unbounded_work_in_C_stops_at_its_budget_and_the_cluster_keeps_serving(string script)
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;

        await using (var client = await cluster.ConnectAsync(follower))
        {
            // A write before the stop stays, on every replica alike (Redis has no rollback either).
            var reply = await client.CallAsync("EVAL", "redis.call('set', 'before', 'stop') " + script, "0");
            Assert.True(reply.IsError, reply.ToString());
            Assert.True(reply.Text!.Contains("exceeded its instruction budget", StringComparison.Ordinal)
                        || reply.Text.Contains("exceeded its memory limit", StringComparison.Ordinal), reply.Text);
        }

        // The leader kept its leadership (nothing held a replica past its budget) and serves, on every node.
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after", "ok"));
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var client = await cluster.ConnectAsync(node);
            Assert.Equal(Reply.FromBulk("ok"), await client.CallAsync("GET", "after"));
            Assert.Equal(Reply.FromBulk("stop"), await client.CallAsync("GET", "before"));
        }

        await cluster.WaitForConvergenceAsync();
    }

    [Fact]
    public async Task A_deeply_nested_reply_works_on_the_leader_through_a_follower_and_in_a_session_and_a_deeper_one_is_refused_alike()
    {
        const string Nest = "local t = 'leaf' for i = 1, tonumber(ARGV[1]) do t = {t} end return t";
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;

        Reply? expected = null;
        foreach (var node in new[] { leader, follower })
        {
            await using var client = await cluster.ConnectAsync(node);
            var reply = await client.CallAsync("EVAL", Nest, "0", "63");
            Assert.False(reply.IsError, reply.ToString());
            Assert.Equal(63, Depth(reply));
            expected ??= reply;
            Assert.Equal(expected, reply);

            Assert.Equal(Reply.Error("ERR reached lua stack limit"), await client.CallAsync("EVAL", Nest, "0", "200"));
        }

        // A session stores the reply to answer a retry with it: the same depth fits there, and the retry gets it.
        await using (var client = await cluster.ConnectAsync(follower))
        {
            var session = await client.CallAsync("SESSION.OPEN", "30000");
            Assert.Equal(ReplyKind.Integer, session.Kind);
            var id = session.Integer.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var first = await client.CallAsync("SESSION.EXEC", id, "1", "0", "EVAL", Nest, "0", "63");
            Assert.Equal(expected, first);
            Assert.Equal(expected, await client.CallAsync("SESSION.EXEC", id, "1", "0", "EVAL", Nest, "0", "63"));
        }

        // DEBUG DIGEST and snapshots still work with the reply stored.
        var digest = await cluster.WaitForConvergenceAsync();
        Assert.False(string.IsNullOrEmpty(digest));
    }

    private static int Depth(Reply reply)
    {
        var depth = 0;
        while (reply.Kind == ReplyKind.Array && reply.Items is [var inner])
        {
            depth++;
            reply = inner;
        }

        return depth;
    }
}
