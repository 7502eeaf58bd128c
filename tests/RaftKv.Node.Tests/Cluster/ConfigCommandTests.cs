using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>CONFIG GET/SET/HELP/REWRITE/RESETSTAT with Redis 7.0's replies.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ConfigCommandTests(SharedClusterFixture fixture) : IClassFixture<SharedClusterFixture>
{
    [Fact]
    public async Task CONFIG_GET_matches_glob_patterns_case_insensitively_and_answers_pairs()
    {
        await using var client = await fixture.Cluster.ConnectAsync(await fixture.FollowerAsync());
        Assert.Equal(Reply.FromArray([Reply.FromBulk("DataBases"), Reply.FromBulk("16")]), await client.CallAsync("CONFIG", "GET", "DataBases"));
        var both = await client.CallAsync("CONFIG", "GET", "databases", "datab*");
        Assert.Equal(2, both.Items!.Count);
        Assert.Equal(Reply.EmptyArray, await client.CallAsync("CONFIG", "GET", "no-such-parameter"));
        Assert.True((await client.CallAsync("CONFIG", "GET", "*")).Items!.Count >= 10);
    }

    [Fact]
    public async Task CONFIG_SET_refuses_unknown_read_only_and_malformed_requests_as_Redis_does()
    {
        await using var client = await fixture.Cluster.ConnectAsync(0);
        Assert.Equal(Reply.Error("ERR Unknown option or number of arguments for CONFIG SET - 'no-such-parameter'"),
            await client.CallAsync("CONFIG", "SET", "no-such-parameter", "1"));
        Assert.Equal(Reply.Error("ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
            await client.CallAsync("CONFIG", "SET", "databases", "32"));
        Assert.Equal(Reply.Error("ERR wrong number of arguments for 'config|set' command"), await client.CallAsync("CONFIG", "SET", "databases"));
        Assert.Equal(Reply.Error("ERR wrong number of arguments for 'config|get' command"), await client.CallAsync("CONFIG", "GET"));
        Assert.Equal(Reply.Error("ERR wrong number of arguments for 'config' command"), await client.CallAsync("CONFIG"));
        Assert.Equal(Reply.Error("ERR unknown subcommand 'nope'. Try CONFIG HELP."), await client.CallAsync("CONFIG", "nope"));
        Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "RESETSTAT"));
        Assert.Equal(Reply.Error("ERR The server is running without a config file"), await client.CallAsync("CONFIG", "REWRITE"));
        Assert.True((await client.CallAsync("CONFIG", "HELP")).Items!.Count > 4);
    }
}
