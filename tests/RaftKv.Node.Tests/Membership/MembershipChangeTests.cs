using System.Collections.Concurrent;
using DotNext.Net.Cluster.Consensus.Raft;
using RaftKv.Node.Raft;
using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Membership;

/// <summary>
/// Membership changes one at a time under a write load: add a fourth node, remove the leader (it hands over), add a
/// fifth, remove one more. Every acknowledged write is readable at the end, the replicas' digests agree, no term had two
/// leaders, a removed node refuses clients, and the whole cluster restarts with the new membership.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MembershipChangeTests
{
    [Fact]
    public async Task Add_remove_the_leader_add_and_remove_under_load_keep_every_acknowledged_write_and_survive_a_whole_restart()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var members = new List<int> { 0, 1, 2 };
        var acknowledged = new ConcurrentDictionary<string, string>();
        var leaders = new ConcurrentDictionary<long, ConcurrentBag<int>>();
        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, 3).Select(w => WriteLoadAsync(cluster, () => members.ToArray(), w, acknowledged, stop.Token)));
        var watch = WatchLeadersAsync(cluster, () => members.ToArray(), leaders, stop.Token);

        // 1. Add a fourth node.
        var fourth = await cluster.StartJoiningNodeAsync();
        Assert.Equal(Reply.Ok, await ChangeAsync(cluster, members[0], "MEMBER.ADD", cluster.RaftAddress(fourth), Resp(cluster, fourth), Peer(cluster, fourth)));
        lock (members)
            members.Add(fourth);
        await MembershipTests.WaitForMembersAsync(cluster, [.. members], 4);

        // 2. Remove the leader, asked through another member: it hands over, then is removed.
        leader = await cluster.WaitForLeaderAsync();
        var other = members.First(m => m != leader);
        Assert.Equal(Reply.Ok, await ChangeAsync(cluster, other, "MEMBER.REMOVE", cluster.RaftAddress(leader)));
        lock (members)
            members.Remove(leader);
        await MembershipTests.WaitForMembersAsync(cluster, [.. members], 3);
        await AssertRefusesAsync(cluster, leader);
        await cluster.StopNodeAsync(leader);

        // 3. Add a fifth.
        var fifth = await cluster.StartJoiningNodeAsync();
        Assert.Equal(Reply.Ok, await ChangeAsync(cluster, members[^1], "MEMBER.ADD", cluster.RaftAddress(fifth), Resp(cluster, fifth), Peer(cluster, fifth)));
        lock (members)
            members.Add(fifth);
        await MembershipTests.WaitForMembersAsync(cluster, [.. members], 4);

        // 4. Remove one more (a follower this time).
        var current = await cluster.WaitForLeaderAsync();
        var follower = members.First(m => m != current);
        Assert.Equal(Reply.Ok, await ChangeAsync(cluster, current, "MEMBER.REMOVE", cluster.RaftAddress(follower)));
        lock (members)
            members.Remove(follower);
        await MembershipTests.WaitForMembersAsync(cluster, [.. members], 3);
        await cluster.StopNodeAsync(follower);

        await Task.Delay(500);
        await stop.CancelAsync();
        await load;
        await watch;
        Assert.True(acknowledged.Count > 20, $"the load made only {acknowledged.Count} acknowledged writes: the test proves little");

        // Every acknowledged write is there, on every remaining member; the replicas agree; one leader per term.
        await cluster.WaitForConvergenceAsync();
        await AssertAllReadableAsync(cluster, members, acknowledged);
        foreach (var (term, seen) in leaders)
            Assert.True(seen.Distinct().Count() <= 1, $"term {term} had leaders {string.Join(", ", seen.Distinct().Select(n => $"node{n + 1}"))}");

        // The whole cluster restarts with the new membership, from its members files.
        foreach (var node in members)
            await cluster.StopNodeAsync(node);
        await Task.WhenAll(members.Select(n => cluster.StartNodeAsync(n)));
        await cluster.WaitForLeaderAsync();
        await MembershipTests.WaitForMembersAsync(cluster, [.. members], 3);
        await AssertAllReadableAsync(cluster, members, acknowledged);
        await using var client = await cluster.ConnectAsync(members[0]);
        var list = await client.CallAsync("MEMBER.LIST");
        Assert.Equal(members.Select(cluster.RaftAddress).Order(StringComparer.Ordinal), list.Items!.Select(row => Text(row.Items![0])).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Bad_membership_requests_are_refused_and_change_nothing()
    {
        await using var cluster = await TestCluster.StartAsync();
        await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(0);
        Assert.StartsWith("ERR wrong number of arguments", (await client.CallAsync("MEMBER.ADD", "tcp://127.0.0.1:1/")).Text);
        Assert.StartsWith("ERR 'http://x' is not a Raft address", (await client.CallAsync("MEMBER.ADD", "http://x", "127.0.0.1:1", "127.0.0.1:2")).Text);
        Assert.StartsWith("ERR 'nope' is not a RESP address", (await client.CallAsync("MEMBER.ADD", "tcp://127.0.0.1:1/", "nope", "127.0.0.1:2")).Text);
        Assert.Equal($"ERR {cluster.RaftAddress(1)} is already a member", (await client.CallAsync("MEMBER.ADD", cluster.RaftAddress(1), "127.0.0.1:1", "127.0.0.1:2")).Text);
        Assert.Equal("ERR the RESP or peer address is already another member's", (await client.CallAsync("MEMBER.ADD", "tcp://127.0.0.1:1/", Resp(cluster, 1), "127.0.0.1:2")).Text);
        Assert.Equal("ERR tcp://127.0.0.1:1/ is not a member", (await client.CallAsync("MEMBER.REMOVE", "tcp://127.0.0.1:1/")).Text);
        Assert.StartsWith("ERR 'tcp://" + new string('a', 60), (await client.CallAsync("MEMBER.REMOVE", "tcp://" + new string('a', 2000) + ":1/")).Text);

        // Nobody listens there: the new member cannot catch up, and the membership stays as it was.
        var reply = await client.CallAsync("MEMBER.ADD", "tcp://127.0.0.1:9/", "127.0.0.1:10", "127.0.0.1:11");
        Assert.True(reply.IsError, reply.ToString());
        await MembershipTests.WaitForMembersAsync(cluster, [0, 1, 2], 3);
        Assert.Equal(3, (await client.CallAsync("MEMBER.LIST")).Items!.Count);
    }

    private static string Resp(TestCluster cluster, int node) => $"127.0.0.1:{cluster.RespPort(node)}";

    private static string Peer(TestCluster cluster, int node) => $"127.0.0.1:{cluster.PeerPort(node)}";

    private static string Text(Reply reply) => System.Text.Encoding.UTF8.GetString(reply.Bulk!);

    // A change retried while it answers "no leader" (an election in the middle): those replies change nothing.
    private static async Task<Reply> ChangeAsync(TestCluster cluster, int node, params string[] command)
    {
        await using var admin = await cluster.ConnectAsync(node);
        admin.ReplyTimeout = TimeSpan.FromMinutes(2);
        for (var attempt = 0; ; attempt++)
        {
            var reply = await admin.CallAsync(command);
            if (reply.Text is not { } text || !text.StartsWith("CLUSTERDOWN No Raft leader", StringComparison.Ordinal) || attempt == 20)
                return reply;
            await Task.Delay(250);
        }
    }

    private static async Task AssertRefusesAsync(TestCluster cluster, int removed)
    {
        await using var client = await cluster.ConnectAsync(removed);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var reply = await client.CallAsync("GET", "k");
            if (reply.Text?.StartsWith("CLUSTERDOWN this node was removed", StringComparison.Ordinal) == true)
                return;
            Assert.True(DateTime.UtcNow < deadline, $"the removed node answered {reply}");
            await Task.Delay(100);
        }
    }

    private static async Task AssertAllReadableAsync(TestCluster cluster, List<int> members, ConcurrentDictionary<string, string> acknowledged)
    {
        foreach (var node in members)
        {
            await using var client = await cluster.ConnectAsync(node);
            foreach (var (key, value) in acknowledged)
                Assert.Equal(Reply.FromBulk(value), await client.CallAsync("GET", key));
        }
    }

    // Writes distinct keys through the current members, in turn; an acknowledged SET is recorded, any other answer
    // (no leader, uncertain, a node being removed) is not.
    private static async Task WriteLoadAsync(TestCluster cluster, Func<int[]> members, int writer, ConcurrentDictionary<string, string> acknowledged, CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var targets = members();
            var node = targets[i % targets.Length];
            try
            {
                await using var client = await cluster.ConnectAsync(node);
                client.ReplyTimeout = TimeSpan.FromSeconds(15);
                for (var j = 0; j < 20 && !stop.IsCancellationRequested; j++)
                {
                    var key = $"w{writer}:{i}:{j}";
                    if (await client.CallAsync("SET", key, "v" + j) == Reply.Ok)
                        acknowledged[key] = "v" + j;
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException or TimeoutException or OperationCanceledException)
            {
                await Task.Delay(50, CancellationToken.None);
            }
        }
    }

    private static async Task WatchLeadersAsync(TestCluster cluster, Func<int[]> members, ConcurrentDictionary<long, ConcurrentBag<int>> leaders, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            foreach (var node in members())
            {
                try
                {
                    var raft = cluster.Service<IRaftCluster>(node);
                    if (cluster.Service<ClusterView>(node).IsLeader)
                        leaders.GetOrAdd(raft.Term, _ => []).Add(node);
                }
                catch (InvalidOperationException)
                {
                    // Stopped meanwhile.
                }
            }

            await Task.Delay(20, CancellationToken.None);
        }
    }
}
