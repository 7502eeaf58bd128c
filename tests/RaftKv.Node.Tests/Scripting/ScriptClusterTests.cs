using System.Globalization;
using System.Text;
using RaftKv.Node.Raft;
using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Scripting;

/// <summary>
/// Scripts on a replicated cluster: the seed's lock pattern across a leader change (the script cache is replicated
/// state), scripts stopped by a limit leave every replica identical, and a mixed workload of scripts and commands
/// with a failover converges to one state digest.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ScriptClusterTests(SharedClusterFixture fixture) : IClassFixture<SharedClusterFixture>
{
    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task The_lock_pattern_works_across_a_leader_change_and_EVALSHA_survives_it()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        string sha;
        await using (var client = await Cluster.ConnectAsync(leader))
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "lock:res", "token-1", "NX", "EX", "10"));
            Assert.Equal(Reply.NullBulk, await client.CallAsync("SET", "lock:res", "token-2", "NX", "EX", "10"));
            sha = Text(await client.CallAsync("SCRIPT", "LOAD", ScriptDifferentialTests.Release));
            Assert.Equal(Reply.FromInteger(0), await client.CallAsync("EVALSHA", sha, "1", "lock:res", "wrong-token"));
            Assert.Equal(Reply.FromInteger(0), await client.CallAsync("EVAL", ScriptDifferentialTests.Release, "1", "lock:res", "wrong-token"));
            Assert.Equal(Reply.FromInteger(1), await client.CallAsync("EVALSHA", sha, "1", "lock:res", "token-1"));
            Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "lock:res"));
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "lock:res", "token-3", "NX", "EX", "10"));
        }

        // A follower runs read-only scripts itself, and forwards scripts that go through the log to the leader.
        var follower = (leader + 1) % Cluster.Size;
        await using (var client = await Cluster.ConnectAsync(follower))
        {
            Assert.Equal("token-3", Text(await client.CallAsync("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "lock:res")));
            Assert.Equal(Reply.FromInteger(0), await client.CallAsync("EVALSHA", sha, "1", "lock:res", "token-1"));
        }

        await Cluster.StopNodeAsync(leader);
        var newLeader = await Cluster.WaitForLeaderAsync();
        Assert.NotEqual(leader, newLeader);
        await using (var client = await Cluster.ConnectAsync(newLeader))
        {
            Assert.Equal(Reply.FromArray([Reply.FromInteger(1)]), await client.CallAsync("SCRIPT", "EXISTS", sha));
            Assert.Equal(Reply.FromInteger(0), await client.CallAsync("EVALSHA", sha, "1", "lock:res", "token-1"));
            Assert.Equal(Reply.FromInteger(1), await client.CallAsync("EVALSHA", sha, "1", "lock:res", "token-3"));
            Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "lock:res"));
        }

        await Cluster.StartNodeAsync(leader);
        await Cluster.WaitForLeaderAsync();
        await Cluster.WaitForConvergenceAsync();
        await using var restarted = await Cluster.ConnectAsync(leader);
        Assert.Equal(Reply.NullBulk, await restarted.CallAsync("GET", "lock:res"));
    }

    [Fact]
    public async Task Scripts_stopped_by_the_instruction_budget_or_the_memory_cap_leave_every_replica_identical()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        await using (var client = await Cluster.ConnectAsync(leader))
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "limits:counter", "0"));

            // Writes made before the stop stay (as on Redis), identically everywhere.
            var budget = await client.CallAsync("EVAL", "redis.call('incr', KEYS[1]) local n = 0 while true do n = n + 1 end", "1", "limits:counter");
            Assert.StartsWith("ERR Script exceeded its instruction budget", budget.Text, StringComparison.Ordinal);

            var memory = await client.CallAsync("EVAL",
                "redis.call('incr', KEYS[1]) local t = {} while true do t[#t + 1] = {#t, #t, #t, #t} end", "1", "limits:counter");
            Assert.StartsWith("ERR Script exceeded its memory limit", memory.Text, StringComparison.Ordinal);

            // A pcall cannot swallow the stop.
            var caught = await client.CallAsync("EVAL",
                "local ok = pcall(function() while true do end end) redis.call('incr', KEYS[1]) return 'escaped'", "1", "limits:counter");
            Assert.StartsWith("ERR Script exceeded its instruction budget", caught.Text, StringComparison.Ordinal);
        }

        await Cluster.WaitForConvergenceAsync();
        for (var node = 0; node < Cluster.Size; node++)
        {
            await using var client = await Cluster.ConnectAsync(node);
            Assert.Equal("2", Text(await client.CallAsync("GET", "limits:counter")));
        }
    }

    [Fact]
    public async Task A_mixed_workload_of_scripts_and_commands_with_a_failover_converges_to_one_digest()
    {
        var leader = await fixture.AllRunningLeaderAsync();
        var random = new Random(20_261_128);
        await RunWorkloadAsync(leader, random, 150);

        await Cluster.StopNodeAsync(leader);
        var newLeader = await Cluster.WaitForLeaderAsync();
        await RunWorkloadAsync(newLeader, random, 150);

        await Cluster.StartNodeAsync(leader);
        await Cluster.WaitForLeaderAsync();
        var digest = await Cluster.WaitForConvergenceAsync();
        Assert.Contains(":", digest, StringComparison.Ordinal);
        Assert.True(Cluster.Service<RaftStateMachine>(leader).Inspect(static s => s.Scripts.Count) > 0);
    }

    private async Task RunWorkloadAsync(int leader, Random random, int operations)
    {
        await using var client = await Cluster.ConnectAsync(leader);
        for (var i = 0; i < operations; i++)
        {
            var argv = ScriptWorkload.Next(random);
            var reply = await client.CallAsync(argv);
            Assert.False(reply.Text?.StartsWith("UNCERTAIN", StringComparison.Ordinal) == true, $"{string.Join(' ', argv)} -> {reply}");
        }
    }

    private static string Text(Reply reply)
        => reply.Kind == ReplyKind.Bulk ? Encoding.UTF8.GetString(reply.Bulk!) : reply.ToString();
}

/// <summary>Random requests mixing scripts (including ones that iterate tables, draw random numbers, read TIME and
/// fail) with plain commands, over a few keys.</summary>
internal static class ScriptWorkload
{
    private static readonly string[] Keys = ["w:a", "w:b", "w:c", "w:lock"];

    private static readonly string[] Scripts =
    [
        "return redis.call('incrby', KEYS[1], ARGV[1])",
        "local t = {} for i = 1, 20 do t['k' .. i] = i end local s = '' for k, v in pairs(t) do s = s .. k end redis.call('set', KEYS[1], s) return s",
        "redis.call('set', KEYS[1], tostring(math.random(1000000)) .. ':' .. redis.call('time')[1]) return redis.call('get', KEYS[1])",
        "local t = {} t[{}] = 1 t[{}] = 2 t[KEYS] = 3 local s = '' for k, v in pairs(t) do s = s .. v end redis.call('append', KEYS[1], s) return s",
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        "redis.call('set', KEYS[1], ARGV[1]) error('fails after a write')",
        "redis.call('set', KEYS[1], #tostring({}) .. string.format('%s', {}))",
        "local n = 0 for i = 1, tonumber(ARGV[1]) * 1000 do n = n + i end redis.call('set', KEYS[1], n) return n",
        "return redis.pcall('incr', KEYS[1])",
    ];

    public static string[] Next(Random random)
    {
        var key = Keys[random.Next(Keys.Length)];
        var value = random.Next(100).ToString(CultureInfo.InvariantCulture);
        return random.Next(6) switch
        {
            0 => ["SET", key, value],
            1 => ["DEL", key],
            2 => ["SET", key, value, "NX", "PX", "5000"],
            3 => ["SCRIPT", "LOAD", Scripts[random.Next(Scripts.Length)]],
            _ => ["EVAL", Scripts[random.Next(Scripts.Length)], "1", key, value],
        };
    }
}
