using Microsoft.Extensions.Configuration;
using RaftKv.Node.Commands;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Replicated and per-node CONFIG parameters on a three-node cluster, INFO commandstats/errorstats and CONFIG
/// RESETSTAT, SLOWLOG recording, and CONFIG REWRITE's file round trip.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DiagnosticsTests(SharedClusterFixture fixture) : IClassFixture<SharedClusterFixture>
{
    [Fact]
    public async Task A_replicated_parameter_set_on_a_follower_is_equal_on_every_replica_and_a_per_node_one_changes_only_that_node()
    {
        var follower = await fixture.FollowerAsync();
        var clients = new RespTestClient[fixture.Cluster.Size];
        for (var i = 0; i < clients.Length; i++)
            clients[i] = await fixture.Cluster.ConnectAsync(i);
        try
        {
            Assert.Equal(Reply.Ok, await clients[follower].CallAsync("CONFIG", "SET", "maxmemory", "987654321", "slowlog-max-len", "7"));
            await fixture.Cluster.WaitForConvergenceAsync();
            for (var i = 0; i < clients.Length; i++)
            {
                Assert.Equal(Pair("maxmemory", "987654321"), await clients[i].CallAsync("CONFIG", "GET", "maxmemory"));
                Assert.Equal(Pair("slowlog-max-len", i == follower ? "7" : "128"), await clients[i].CallAsync("CONFIG", "GET", "slowlog-max-len"));
            }
        }
        finally
        {
            await clients[follower].CallAsync("CONFIG", "SET", "maxmemory", "0", "slowlog-max-len", "128");
            foreach (var client in clients)
                await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task INFO_commandstats_and_errorstats_count_calls_failures_and_refusals_and_RESETSTAT_zeroes_them()
    {
        await using var client = await fixture.Cluster.ConnectAsync(await fixture.FollowerAsync());
        Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "RESETSTAT"));
        for (var i = 0; i < 5; i++)
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "stats:k", "not-a-number"));
        Assert.True((await client.CallAsync("INCR", "stats:k")).IsError); // a failed call: ERR not an integer
        Assert.True((await client.CallAsync("GET")).IsError); // a rejected call: wrong arity
        Assert.True((await client.CallAsync("NO-SUCH-COMMAND")).IsError); // no command's: an error only
        Assert.True((await client.CallAsync("CONFIG", "nope")).IsError); // an unknown subcommand: an error only

        var commands = Fields(await client.CallAsync("INFO", "commandstats"));
        Assert.StartsWith("calls=5,usec=", commands["cmdstat_set"], StringComparison.Ordinal);
        Assert.EndsWith(",rejected_calls=0,failed_calls=0", commands["cmdstat_set"], StringComparison.Ordinal);
        Assert.EndsWith(",rejected_calls=0,failed_calls=1", commands["cmdstat_incr"], StringComparison.Ordinal);
        Assert.StartsWith("calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0", commands["cmdstat_get"], StringComparison.Ordinal);
        Assert.StartsWith("calls=1,", commands["cmdstat_config|resetstat"], StringComparison.Ordinal);
        Assert.DoesNotContain(commands.Keys, static k => k.Contains("no-such", StringComparison.Ordinal) || k == "cmdstat_config");

        var errors = Fields(await client.CallAsync("INFO", "errorstats"));
        Assert.Equal("count=4", errors["errorstat_ERR"]);
        var stats = Fields(await client.CallAsync("INFO", "stats"));
        Assert.Equal("4", stats["total_error_replies"]);
        Assert.Equal("9", stats["total_commands_processed"]); // RESETSTAT, 5 SET, INCR, INFO commandstats, INFO errorstats (this INFO counts once done)

        Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "RESETSTAT"));
        commands = Fields(await client.CallAsync("INFO", "commandstats"));
        Assert.False(commands.ContainsKey("cmdstat_set"));
        Assert.Empty(Fields(await client.CallAsync("INFO", "errorstats")));
        Assert.Equal("0", Fields(await client.CallAsync("INFO", "stats"))["total_error_replies"]);

        // The exporter's view is not reset.
        var total = fixture.Cluster.Service<CommandStats>(await fixture.FollowerAsync()).Snapshot(sinceReset: false);
        Assert.Contains(total, static s => s.Name == "set" && s.Calls >= 5);
    }

    [Fact]
    public async Task SLOWLOG_records_every_command_at_threshold_zero_with_Redis_cuts_and_nothing_at_minus_one()
    {
        await using var client = await fixture.Cluster.ConnectAsync(await fixture.FollowerAsync());
        try
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "slowlog-log-slower-than", "0"));
            Assert.Equal(Reply.Ok, await client.CallAsync("SLOWLOG", "RESET"));
            Assert.Equal(Reply.Ok, await client.CallAsync("CLIENT", "SETNAME", "slow-one"));
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "slow:k", new string('v', 200)));
            string[] del = ["DEL", .. Enumerable.Range(0, 40).Select(static i => $"slow:{i}")];
            Assert.Equal(Reply.FromInteger(0), await client.CallAsync(del));

            var entries = (await client.CallAsync("SLOWLOG", "GET", "2")).Items!;
            Assert.Equal(2, entries.Count);
            var (newest, set) = (entries[0].Items!, entries[1].Items!);
            Assert.True(newest[0].Integer > set[0].Integer);
            Assert.Equal(32, newest[3].Items!.Count);
            Assert.Equal("... (10 more arguments)", Text(newest[3].Items![31]));
            Assert.Equal(new string('v', 128) + "... (72 more bytes)", Text(set[3].Items![2]));
            Assert.Equal("slow-one", Text(set[5]));
            Assert.StartsWith("127.0.0.1:", Text(set[4]), StringComparison.Ordinal);
            Assert.True(set[2].Integer >= 0);

            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "slowlog-log-slower-than", "-1"));
            var length = (await client.CallAsync("SLOWLOG", "LEN")).Integer;
            await client.CallAsync("GET", "slow:k");
            Assert.Equal(length, (await client.CallAsync("SLOWLOG", "LEN")).Integer);
        }
        finally
        {
            await client.CallAsync("CONFIG", "SET", "slowlog-log-slower-than", "10000");
            await client.CallAsync("SLOWLOG", "RESET");
        }
    }

    [Fact]
    public void CONFIG_REWRITE_writes_the_changed_values_into_the_file_and_keeps_the_rest()
    {
        var file = Path.Combine(Path.GetTempPath(), $"raftkv-rewrite-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """
            {
              // a comment, dropped by the rewrite
              "raft": { "publicEndPoint": "tcp://127.0.0.1:7381/" },
              "raftkv": { "DataPath": "data/x", "limits": { "maxclients": 5 } }
            }
            """);
        try
        {
            var rewriter = new ConfigFileRewriter(new ConfigurationBuilder().AddInMemoryCollection([KeyValuePair.Create<string, string?>("config", file)]).Build());
            Assert.Equal(Reply.Ok, rewriter.Rewrite([KeyValuePair.Create("RaftKv:Limits:MaxClients", 77L), KeyValuePair.Create("RaftKv:SlowLog:MaxLength", 9L)]));

            var read = new ConfigurationBuilder().AddJsonFile(file).Build();
            Assert.Equal("77", read["RaftKv:Limits:MaxClients"]);
            Assert.Equal("9", read["RaftKv:SlowLog:MaxLength"]);
            Assert.Equal("data/x", read["RaftKv:DataPath"]);
            Assert.Equal("tcp://127.0.0.1:7381/", read["raft:publicEndPoint"]);
            Assert.DoesNotContain("\"RaftKv\"", File.ReadAllText(file), StringComparison.Ordinal); // the existing section, not a second one
            Assert.False(File.Exists(file + ".rewrite.tmp"));

            File.WriteAllText(file, "[1, 2");
            Assert.StartsWith("ERR Rewriting config file: ", rewriter.Rewrite([KeyValuePair.Create("RaftKv:SlowLog:MaxLength", 9L)]).Text, StringComparison.Ordinal);
            Assert.Equal("[1, 2", File.ReadAllText(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task CONFIG_REWRITE_on_a_node_writes_what_CONFIG_SET_changed_on_it_and_not_the_replicated_parameters()
    {
        var file = Path.Combine(Path.GetTempPath(), $"raftkv-rewrite-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """{ "RaftKv": { "Limits": { "MaxClients": 5 } } }""");
        try
        {
            await using var cluster = await TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?> { ["config"] = file });
            await cluster.WaitForLeaderAsync();
            await using var client = await cluster.ConnectAsync(0);
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "slowlog-max-len", "33", "maxmemory", "1000000"));
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "REWRITE"));

            var read = new ConfigurationBuilder().AddJsonFile(file).Build();
            Assert.Equal("33", read["RaftKv:SlowLog:MaxLength"]);
            Assert.Equal("5", read["RaftKv:Limits:MaxClients"]); // not changed by CONFIG SET: left as it was
            Assert.Null(read["RaftKv:MaxMemory"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Text(Reply bulk) => System.Text.Encoding.UTF8.GetString(bulk.Bulk!);

    private static Reply Pair(string name, string value) => Reply.FromArray([Reply.FromBulk(name), Reply.FromBulk(value)]);

    private static Dictionary<string, string> Fields(Reply info)
        => Text(info).Split("\r\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(static line => !line.StartsWith('#'))
            .Select(static line => line.Split(':', 2))
            .ToDictionary(static p => p[0], static p => p[1], StringComparer.Ordinal);
}
