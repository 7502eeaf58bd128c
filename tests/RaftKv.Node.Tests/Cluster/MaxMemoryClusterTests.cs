using System.Globalization;
using System.Text;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.Testing;
using Xunit.Abstractions;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// <c>maxmemory</c> on a three-node cluster: set through the log (CONFIG SET on any node, or a configured initial value
/// proposed once), judged on every replica alike by the state machine's own used memory, kept across restarts and
/// snapshots, and reported by <c>INFO memory</c>.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MaxMemoryClusterTests(ITestOutputHelper output)
{
    private static readonly Reply Oom = Reply.Error("OOM command not allowed when used memory > 'maxmemory'.");

    [Fact]
    public async Task CONFIG_SET_on_a_follower_limits_every_replica_alike_and_DEL_frees_room_for_writes_again()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        await using (var client = await cluster.ConnectAsync(follower))
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxmemory", "200kb"));
            Assert.Equal(Reply.FromArray([Reply.FromBulk("maxmemory"), Reply.FromBulk("204800")]), await client.CallAsync("CONFIG", "GET", "maxmemory"));
        }

        // Fill until the cluster refuses: 10 KB values, through the follower.
        var value = new string('v', 10_000);
        var stored = 0;
        await using (var client = await cluster.ConnectAsync(follower))
        {
            while (await client.CallAsync("SET", Key(stored), value) is var reply && !reply.Equals(Oom))
            {
                Assert.Equal(Reply.Ok, reply);
                stored++;
                Assert.True(stored < 100, "never refused");
            }
        }

        Assert.InRange(stored, 15, 20);
        await cluster.WaitForConvergenceAsync();
        var used = await UsedMemoryAsync(cluster);
        Assert.Single(used.Distinct());
        Assert.True(used[0] <= 204_800, $"used_memory {used[0]}");

        // Every node refuses the same write and lets the same delete through.
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var client = await cluster.ConnectAsync(node);
            Assert.Equal(Oom, await client.CallAsync("SET", "one-more", value));
            Assert.Equal(Oom, await client.CallAsync("APPEND", Key(0), new string('x', 2_000)));
            Assert.Equal(Reply.FromBulk(value), await client.CallAsync("GET", Key(node)));
        }

        await using (var client = await cluster.ConnectAsync(leader))
        {
            Assert.Equal(Reply.FromInteger(3), await client.CallAsync("DEL", Key(0), Key(1), Key(2)));
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "one-more", value));
        }

        await cluster.WaitForConvergenceAsync();
        Assert.Single((await UsedMemoryAsync(cluster)).Distinct());
        Assert.Equal(Enumerable.Repeat(stored - 2L, cluster.Size), (await InfoAsync(cluster, "keyspace")).Select(static f => long.Parse(f["db0"].Split(',')[0][5..], CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task APPENDs_and_a_SETRANGE_that_would_pass_the_limit_are_refused_identically_on_every_replica()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync((leader + 1) % cluster.Size);
        Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxmemory", "1mb"));

        // One EXEC, one log entry: apply on each replica admits APPENDs until the next would pass the limit, then
        // refuses the rest, each replica judging by its own counter.
        Assert.Equal(Reply.Ok, await client.CallAsync("MULTI"));
        var chunk = new string('a', 100_000);
        for (var i = 0; i < 15; i++)
            Assert.Equal(Reply.Status("QUEUED"), await client.CallAsync("APPEND", "grown", chunk));
        var replies = (await client.CallAsync("EXEC")).Items!;
        var admitted = replies.TakeWhile(static r => !r.IsError).Count();
        Assert.InRange(admitted, 9, 10);
        Assert.All(replies.Skip(admitted), static r => Assert.Equal(Oom, r));

        // A SETRANGE to 400 MB (within proto-max-bulk-len) is refused before anything allocates it, on every node.
        var heap = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(Oom, await client.CallAsync("SETRANGE", "grown", "400000000", "x"));
        Assert.Equal(Oom, await client.CallAsync("SETRANGE", "fresh", "400000000", "x"));
        Assert.True(GC.GetTotalMemory(forceFullCollection: true) - heap < 100_000_000, "a refused SETRANGE allocated its string");

        var digest = await cluster.WaitForConvergenceAsync();
        Assert.StartsWith("1:", digest, StringComparison.Ordinal);
        Assert.Single((await UsedMemoryAsync(cluster)).Distinct());
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var reader = await cluster.ConnectAsync(node);
            Assert.Equal(Reply.FromInteger(admitted * 100_000L), await reader.CallAsync("STRLEN", "grown"));
        }
    }

    [Fact]
    public async Task Maxmemory_survives_restarts_and_a_restore_from_a_snapshot()
    {
        await using var cluster = await TestCluster.StartAsync(snapshotEvery: 10);
        var leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxmemory", "3mb"));
            for (var i = 0; i < 40; i++)
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", Key(i), "v"));
        }

        await cluster.WaitForConvergenceAsync();
        for (var node = 0; node < cluster.Size; node++)
            Assert.NotEmpty(Directory.EnumerateFileSystemEntries(Path.Combine(cluster.DataPath(node), "snapshots")));

        // One node restarts (snapshot + log), then all of them at once.
        var follower = (leader + 1) % cluster.Size;
        await cluster.StopNodeAsync(follower);
        await cluster.StartNodeAsync(follower);
        Assert.Equal(3L * 1024 * 1024, cluster.Service<RaftStateMachine>(follower).Inspect(static s => s.MaxMemory));
        for (var node = 0; node < cluster.Size; node++)
            await cluster.StopNodeAsync(node);
        for (var node = 0; node < cluster.Size; node++)
            await cluster.StartNodeAsync(node);
        await cluster.WaitForLeaderAsync();
        await cluster.WaitForConvergenceAsync();

        foreach (var fields in await InfoAsync(cluster, "memory"))
            Assert.Equal(("3145728", "3.00M", "1"), (fields["maxmemory"], fields["maxmemory_human"], fields["maxmemory_set"]));
    }

    [Fact]
    public async Task A_configured_maxmemory_is_proposed_once_and_CONFIG_SET_wins_over_the_configuration_afterwards()
    {
        await using var cluster = await TestCluster.StartAsync(settings: new Dictionary<string, string?> { ["RaftKv:MaxMemory"] = "1mb" });
        await cluster.WaitForLeaderAsync();
        await WaitUntilAsync(() => Enumerable.Range(0, cluster.Size).All(n => cluster.Service<RaftStateMachine>(n).Inspect(static s => s.MaxMemory) == 1024 * 1024));
        await cluster.WaitForConvergenceAsync();

        var leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxmemory", "2mb"));

        // Restarted with another configured value, every node keeps the replicated one.
        for (var node = 0; node < cluster.Size; node++)
            await cluster.StopNodeAsync(node);
        for (var node = 0; node < cluster.Size; node++)
            await cluster.StartNodeAsync(node, new Dictionary<string, string?> { ["RaftKv:MaxMemory"] = "3mb" });
        leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after-restart", "v")); // the new leader has applied its term
        await cluster.WaitForConvergenceAsync();
        await Task.Delay(500); // a few of the proposer's ticks: it must have nothing to propose
        Assert.All(Enumerable.Range(0, cluster.Size), n => Assert.Equal(2L * 1024 * 1024, cluster.Service<RaftStateMachine>(n).Inspect(static s => s.MaxMemory)));
    }

    [Fact]
    public async Task A_malformed_configured_maxmemory_stops_the_node_at_start()
    {
        var thrown = await Assert.ThrowsAsync<NodeStartupException>(() => TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?> { ["RaftKv:MaxMemory"] = "lots" }));
        Assert.Contains("RaftKv:MaxMemory", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task INFO_memory_and_CONFIG_show_Redis_s_fields_and_refuse_what_RaftKv_does_not_support()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1);
        await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(0);

        var fresh = Fields(await client.CallAsync("INFO", "memory"));
        Assert.Equal(("0", "0B", "noeviction", "0"), (fresh["maxmemory"], fresh["maxmemory_human"], fresh["maxmemory_policy"], fresh["maxmemory_set"]));

        // An empty store holds only the default user, which costs nothing (as in Redis's accounting of an empty server).
        Assert.Equal(("0", "0"), (fresh["used_memory"], fresh["used_memory_acl"]));
        Assert.True(long.Parse(fresh["used_memory_rss"], CultureInfo.InvariantCulture) > 0);

        Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxmemory", "100MB"));
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "value"));
        Assert.Equal(ReplyKind.Bulk, (await client.CallAsync("SCRIPT", "LOAD", "return 1")).Kind);
        var info = Fields(await client.CallAsync("INFO", "memory"));
        Assert.Equal(("104857600", "100.00M", "1"), (info["maxmemory"], info["maxmemory_human"], info["maxmemory_set"]));
        var used = long.Parse(info["used_memory"], CultureInfo.InvariantCulture);
        Assert.Equal(cluster.Service<RaftStateMachine>(0).Inspect(static s => s.UsedMemory), used);
        Assert.Equal(used, long.Parse(info["used_memory_keys"], CultureInfo.InvariantCulture) + long.Parse(info["used_memory_scripts"], CultureInfo.InvariantCulture)
                           + long.Parse(info["used_memory_sessions"], CultureInfo.InvariantCulture) + long.Parse(info["used_memory_acl"], CultureInfo.InvariantCulture));
        Assert.Equal(RaftKv.Node.Commands.MemoryConfigParameters.ToHuman(used), info["used_memory_human"]);
        Assert.Contains("# Memory", Encoding.UTF8.GetString((await client.CallAsync("INFO")).Bulk!), StringComparison.Ordinal);

        Assert.Equal(Reply.FromArray([Reply.FromBulk("maxmemory-policy"), Reply.FromBulk("noeviction")]), await client.CallAsync("CONFIG", "GET", "maxmemory-policy"));
        Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxmemory-policy", "NOEVICTION"));
        Assert.Equal(Reply.Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - RaftKv supports only noeviction"),
            await client.CallAsync("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"));
        Assert.Equal(Reply.Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            await client.CallAsync("CONFIG", "SET", "maxmemory", "-1"));
        Assert.Equal(Reply.Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            await client.CallAsync("CONFIG", "SET", "maxmemory", "12zb"));
        Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxmemory", "0"));
        Assert.Equal(Reply.FromArray([Reply.FromBulk("maxmemory"), Reply.FromBulk("0")]), await client.CallAsync("CONFIG", "GET", "maxmemory"));
    }

    [Fact]
    public async Task Measurement_with_maxmemory_writes_are_refused_and_the_process_stays_bounded()
    {
        // Not a timed assertion: a bound on what the nodes hold. 1 MB values are written until OOM, then 300 more are
        // attempted (the "any client can write until the kernel kills the node" workload); the leader refuses those
        // before the log, so neither the state nor the log grows. The figures go to the test output.
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(leader);
        Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxmemory", "64mb"));
        var before = GC.GetTotalMemory(forceFullCollection: true);

        var value = new string('m', 1 << 20);
        int accepted = 0, refused = 0;
        for (var i = 0; i < 360; i++)
        {
            var reply = await client.CallAsync("SET", Key(i), value);
            if (reply.Equals(Oom))
                refused++;
            else
                accepted++;
        }

        await cluster.WaitForConvergenceAsync();
        var heldBytes = GC.GetTotalMemory(forceFullCollection: true) - before;
        var used = await UsedMemoryAsync(cluster);
        // Summed over the nodes: leadership may move during the run, and whichever node leads refuses before its log.
        var rejectedBeforeLog = Enumerable.Range(0, cluster.Size).Sum(node => cluster.Service<Proposer>(node).RefusedForMemory);
        output.WriteLine($"maxmemory 64 MB, 1 MB SETs: {accepted} accepted, {refused} refused ({rejectedBeforeLog} before the log); used_memory {used[0]} on each node; managed heap of the 3 in-process nodes +{heldBytes / (1 << 20)} MB");

        Assert.InRange(accepted, 60, 64);
        Assert.Equal(360 - accepted, refused);
        Assert.True(used.All(u => u <= 64 << 20));
        Assert.True(rejectedBeforeLog >= refused - 1, $"{rejectedBeforeLog} of {refused} refused before the log");
        // Three replicas of 64 MB, plus the log entries of the accepted writes, with room for the GC's slack.
        Assert.True(heldBytes < 3L * 64 * (1 << 20) + (accepted * 3L * (1 << 20)) + (128 << 20), $"+{heldBytes} bytes");
    }

    private static string Key(int i) => "key:" + i.ToString(CultureInfo.InvariantCulture);

    private static async Task<long[]> UsedMemoryAsync(TestCluster cluster)
        => [.. (await InfoAsync(cluster, "memory")).Select(static f => long.Parse(f["used_memory"], CultureInfo.InvariantCulture))];

    private static async Task<List<Dictionary<string, string>>> InfoAsync(TestCluster cluster, string section)
    {
        var all = new List<Dictionary<string, string>>();
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var client = await cluster.ConnectAsync(node);
            all.Add(Fields(await client.CallAsync("INFO", section)));
        }

        return all;
    }

    private static Dictionary<string, string> Fields(Reply info)
        => Encoding.UTF8.GetString(info.Bulk!)
            .Split("\r\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(static line => !line.StartsWith('#'))
            .Select(static line => line.Split(':', 2))
            .ToDictionary(static p => p[0], static p => p[1], StringComparer.Ordinal);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within the deadline");
            await Task.Delay(20);
        }
    }
}
