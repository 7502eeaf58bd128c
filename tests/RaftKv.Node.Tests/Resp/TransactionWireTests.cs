using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Resp;

/// <summary>A one-node cluster with small transaction limits, shared by the MULTI/EXEC wire tests (each uses its own keys).</summary>
public sealed class TransactionNodeFixture : IAsyncLifetime
{
    public const int MaxTransactionCommands = 5;
    public const int MaxWatchedKeys = 3;

    private TestCluster? cluster;

    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        cluster = await TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?>
        {
            ["RaftKv:Limits:MaxTransactionCommands"] = MaxTransactionCommands.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RaftKv:Limits:MaxWatchedKeys"] = MaxWatchedKeys.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        Port = cluster.RespPort(await cluster.WaitForLeaderAsync());
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null)
            await cluster.DisposeAsync();
    }
}

/// <summary>
/// MULTI, EXEC, DISCARD, WATCH and UNWATCH on the wire: pipelining, RESP3, other connections' writes, what RaftKv
/// refuses inside MULTI, and the limits. Redis's own behaviour is compared line by line in
/// <c>Differential/Scripts/transactions.redis</c>.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TransactionWireTests(TransactionNodeFixture fixture) : IClassFixture<TransactionNodeFixture>
{
    private static readonly Reply Queued = Reply.Status("QUEUED");
    private static readonly Reply ExecAbort = Reply.Error("EXECABORT Transaction discarded because of previous errors.");
    private static readonly Reply NotAllowed = Reply.Error("ERR Command not allowed inside a transaction");

    private Task<RespTestClient> ConnectAsync() => RespTestClient.ConnectAsync(fixture.Port);

    [Fact]
    public async Task A_pipelined_transaction_answers_every_command_in_order()
    {
        await using var raw = await RawRespClient.ConnectAsync(fixture.Port);

        await raw.SendAsync("DEL wire:p\r\nMULTI\r\nSET wire:p v\r\nGET wire:p\r\nINCR wire:p\r\nEXEC\r\nGET wire:p\r\n");

        await raw.ExpectAsync(":0\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n$1\r\nv\r\n-ERR value is not an integer or out of range\r\n$1\r\nv\r\n");
    }

    [Fact]
    public async Task A_write_from_another_connection_to_a_watched_key_aborts_EXEC()
    {
        await using var client = await ConnectAsync();
        await using var other = await ConnectAsync();
        await client.CallAsync("SET", "wire:w", "1");

        Assert.Equal(Reply.Ok, await client.CallAsync("WATCH", "wire:w"));
        Assert.Equal(Reply.Ok, await other.CallAsync("SET", "wire:w", "2"));
        Assert.Equal(Reply.Ok, await client.CallAsync("MULTI"));
        Assert.Equal(Queued, await client.CallAsync("SET", "wire:w", "mine"));
        Assert.Equal(Reply.NullArray, await client.CallAsync("EXEC"));
        Assert.Equal(Reply.FromBulk("2"), await client.CallAsync("GET", "wire:w"));

        // EXEC forgot the watch: the next transaction runs.
        Assert.Equal(Reply.Ok, await client.CallAsync("MULTI"));
        Assert.Equal(Queued, await client.CallAsync("SET", "wire:w", "mine"));
        Assert.Equal(Reply.FromArray([Reply.Ok]), await client.CallAsync("EXEC"));
    }

    [Fact]
    public async Task WATCH_compares_values_so_rewriting_the_same_value_lets_EXEC_run()
    {
        await using var client = await ConnectAsync();
        await using var other = await ConnectAsync();
        await client.CallAsync("SET", "wire:same", "v");

        await client.CallAsync("WATCH", "wire:same");
        Assert.Equal(Reply.Ok, await other.CallAsync("SET", "wire:same", "v"));
        await client.CallAsync("MULTI");
        await client.CallAsync("GET", "wire:same");

        Assert.Equal(Reply.FromArray([Reply.FromBulk("v")]), await client.CallAsync("EXEC"));
    }

    [Fact]
    public async Task An_aborted_EXEC_is_the_RESP3_null()
    {
        await using var raw = await RawRespClient.ConnectAsync(fixture.Port);
        await using var other = await ConnectAsync();
        await raw.SendAsync("WATCH wire:r3\r\n");
        await raw.ExpectAsync("+OK\r\n");
        await other.CallAsync("SET", "wire:r3", "changed");

        await raw.SendAsync("HELLO 3\r\nMULTI\r\nGET wire:r3\r\nEXEC\r\nMULTI\r\nGET wire:missing\r\nEXEC\r\n");

        // HELLO's map (compared with Redis's by the differential test) ends with its empty module list.
        var hello = await raw.ReadReplyAsync();
        Assert.Equal(RespReplyType.Map, hello.Type);
        Assert.Equal(new RespReply(RespReplyType.BulkString, bytes: "modules"u8.ToArray()), hello.Items![^2]);
        Assert.Equal(new RespReply(RespReplyType.Array, items: []), hello.Items[^1]);
        await raw.ExpectAsync("+OK\r\n");
        await raw.ExpectAsync("+QUEUED\r\n_\r\n+OK\r\n+QUEUED\r\n*1\r\n_\r\n");
    }

    [Fact]
    public async Task SELECT_inside_MULTI_moves_the_connection_for_the_commands_pipelined_after_EXEC()
    {
        await using var raw = await RawRespClient.ConnectAsync(fixture.Port);

        await raw.SendAsync("MULTI\r\nSELECT 5\r\nSET wire:db five\r\nEXEC\r\nGET wire:db\r\nSELECT 0\r\nGET wire:db\r\n");

        await raw.ExpectAsync("+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n+OK\r\n$4\r\nfive\r\n+OK\r\n$-1\r\n");
    }

    [Fact]
    public async Task PING_ECHO_and_TIME_run_inside_a_transaction()
    {
        await using var client = await ConnectAsync();
        await client.CallAsync("MULTI");
        foreach (var command in new[] { new[] { "PING" }, ["ECHO", "hi"], ["TIME"] })
            Assert.Equal(Queued, await client.CallAsync(command));

        var reply = await client.CallAsync("EXEC");

        Assert.Equal(Reply.Status("PONG"), reply.Items![0]);
        Assert.Equal(Reply.FromBulk("hi"), reply.Items[1]);
        var time = reply.Items[2].Items!;
        Assert.True(long.Parse(Text(time[0]), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.InRange(long.Parse(Text(time[1]), System.Globalization.CultureInfo.InvariantCulture), 0, 999_999);
    }

    [Theory]
    [InlineData("INFO")]
    [InlineData("CLIENT", "ID")]
    [InlineData("HELLO", "3")]
    [InlineData("ROLE")]
    [InlineData("LOCK.ACQUIRE", "wire:lock", "token", "1000")]
    [InlineData("SESSION.OPEN", "10000")]
    public async Task Commands_a_transaction_cannot_run_are_refused_and_discard_it(params string[] command)
    {
        await using var client = await ConnectAsync();
        await client.CallAsync("MULTI");
        await client.CallAsync("SET", "wire:refused", "v");

        Assert.Equal(NotAllowed, await client.CallAsync(command));
        Assert.Equal(ExecAbort, await client.CallAsync("EXEC"));
        Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "wire:refused"));
    }

    [Fact]
    public async Task QUIT_inside_MULTI_closes_the_connection_at_once()
    {
        await using var raw = await RawRespClient.ConnectAsync(fixture.Port);

        await raw.SendAsync("MULTI\r\nSET wire:quit v\r\nQUIT\r\n");

        await raw.ExpectAsync("+OK\r\n+QUEUED\r\n+OK\r\n");
        await raw.ExpectClosedAsync();
        await using var client = await ConnectAsync();
        Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "wire:quit"));
    }

    [Fact]
    public async Task Queuing_past_the_limit_discards_the_transaction()
    {
        await using var client = await ConnectAsync();
        await client.CallAsync("MULTI");
        for (var i = 0; i < TransactionNodeFixture.MaxTransactionCommands; i++)
            Assert.Equal(Queued, await client.CallAsync("INCR", "wire:limit"));

        var refused = await client.CallAsync("INCR", "wire:limit");

        Assert.Equal(Reply.Error($"ERR a transaction may queue at most {TransactionNodeFixture.MaxTransactionCommands} commands (RaftKv:Limits:MaxTransactionCommands)"), refused);
        Assert.Equal(ExecAbort, await client.CallAsync("EXEC"));
        Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "wire:limit"));
    }

    [Fact]
    public async Task Watching_past_the_limit_is_refused_and_watches_none_of_the_keys()
    {
        await using var client = await ConnectAsync();
        await using var other = await ConnectAsync();
        var tooMany = Reply.Error($"ERR a connection may watch at most {TransactionNodeFixture.MaxWatchedKeys} keys (RaftKv:Limits:MaxWatchedKeys)");

        Assert.Equal(Reply.Ok, await client.CallAsync("WATCH", "wire:a", "wire:b"));
        Assert.Equal(Reply.Ok, await client.CallAsync("WATCH", "wire:a", "wire:b", "wire:a")); // already watched: no more keys
        Assert.Equal(tooMany, await client.CallAsync("WATCH", "wire:c", "wire:d"));
        Assert.Equal(Reply.Ok, await other.CallAsync("SET", "wire:c", "changed"));
        await client.CallAsync("MULTI");
        await client.CallAsync("PING");

        // wire:c was not watched, so its change does not abort EXEC.
        Assert.Equal(Reply.FromArray([Reply.Status("PONG")]), await client.CallAsync("EXEC"));
    }

    [Fact]
    public async Task RESET_ends_MULTI_and_forgets_the_watched_keys()
    {
        await using var client = await ConnectAsync();
        await using var other = await ConnectAsync();
        await client.CallAsync("WATCH", "wire:reset");
        await client.CallAsync("MULTI");
        await client.CallAsync("SET", "wire:reset", "queued");

        Assert.Equal(Reply.Status("RESET"), await client.CallAsync("RESET"));
        Assert.Equal(Reply.Error("ERR EXEC without MULTI"), await client.CallAsync("EXEC"));
        await other.CallAsync("SET", "wire:reset", "changed");
        await client.CallAsync("MULTI");
        await client.CallAsync("GET", "wire:reset");
        Assert.Equal(Reply.FromArray([Reply.FromBulk("changed")]), await client.CallAsync("EXEC"));
    }

    [Fact]
    public async Task COMMAND_INFO_describes_the_transaction_commands()
    {
        await using var client = await ConnectAsync();

        var info = await client.CallAsync("COMMAND", "INFO", "multi", "exec", "discard", "watch", "unwatch");

        Assert.Equal(["multi", "exec", "discard", "watch", "unwatch"], info.Items!.Select(static i => Text(i.Items![0])));
        Assert.Equal([1L, 1, 1, -2, 1], info.Items!.Select(static i => i.Items![1].Integer));
    }

    private static string Text(Reply reply) => System.Text.Encoding.UTF8.GetString(reply.Bulk!);
}
