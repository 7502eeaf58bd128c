using System.Globalization;
using System.Text;
using RaftKv.Node.Resp;
using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Resp;

/// <summary>A one-node cluster for the client-limit tests; each test puts back every parameter it changes.</summary>
public sealed class ClientLimitsNodeFixture : IAsyncLifetime
{
    private TestCluster? cluster;

    public int Port { get; private set; }

    public RespServer Server => cluster!.Service<RespServer>(0);

    public async Task InitializeAsync()
    {
        cluster = await TestCluster.StartAsync(size: 1);
        Port = cluster.RespPort(await cluster.WaitForLeaderAsync());
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null)
            await cluster.DisposeAsync();
    }
}

/// <summary>
/// <c>CONFIG GET/SET</c> of maxclients, timeout, client-output-buffer-limit, client-query-buffer-limit and
/// proto-max-bulk-len on a real node (Redis 7.0's syntax and error texts), each change observed taking effect;
/// <c>CLIENT LIST</c> that a client cannot forge; the <c>INFO</c> fields of the limits.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClientConfigTests(ClientLimitsNodeFixture fixture) : IClassFixture<ClientLimitsNodeFixture>
{
    private const string DefaultOutputBufferLimit = "normal 1073741824 268435456 60 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

    [Theory]
    [InlineData("maxclients", "10000")]
    [InlineData("timeout", "0")]
    [InlineData("client-output-buffer-limit", DefaultOutputBufferLimit)]
    [InlineData("client-query-buffer-limit", "1073741824")]
    [InlineData("proto-max-bulk-len", "536870912")]
    public async Task CONFIG_GET_shows_each_client_limit_at_its_default(string parameter, string value)
    {
        await using var client = await RespTestClient.ConnectAsync(fixture.Port);

        Assert.Equal(Reply.FromArray([Reply.FromBulk(parameter), Reply.FromBulk(value)]), await client.CallAsync("CONFIG", "GET", parameter));
    }

    [Theory]
    [InlineData("maxclients", "abc", "argument couldn't be parsed into an integer")]
    [InlineData("maxclients", "1.5", "argument couldn't be parsed into an integer")]
    [InlineData("maxclients", "0", "argument must be between 1 and 4294967295 inclusive")]
    [InlineData("maxclients", "-1", "argument must be between 1 and 4294967295 inclusive")]
    [InlineData("maxclients", "99999999999", "argument must be between 1 and 4294967295 inclusive")]
    [InlineData("timeout", "-1", "argument must be between 0 and 2147483647 inclusive")]
    [InlineData("timeout", "abc", "argument couldn't be parsed into an integer")]
    [InlineData("client-output-buffer-limit", "abc", "Wrong number of arguments in buffer limit configuration.")]
    [InlineData("client-output-buffer-limit", "normal 1 2 3 pubsub 1 2", "Wrong number of arguments in buffer limit configuration.")]
    [InlineData("client-output-buffer-limit", "foo 1 2 3", "Invalid client class specified in buffer limit configuration.")]
    [InlineData("client-output-buffer-limit", "master 1 2 3", "Invalid client class specified in buffer limit configuration.")]
    [InlineData("client-output-buffer-limit", "normal 1x 2 3", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")]
    [InlineData("client-output-buffer-limit", "normal -1 0 0", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")]
    [InlineData("client-output-buffer-limit", "normal 1 2 -3", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")]
    [InlineData("client-output-buffer-limit", "normal 1 2 x", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")]
    [InlineData("client-query-buffer-limit", "100", "argument must be between 1048576 and 2147483591 inclusive")]
    [InlineData("client-query-buffer-limit", "5gb", "argument must be between 1048576 and 2147483591 inclusive")]
    [InlineData("client-query-buffer-limit", "abc", "argument must be a memory value")]
    [InlineData("proto-max-bulk-len", "1k", "argument must be between 1048576 and 2147483591 inclusive")]
    [InlineData("proto-max-bulk-len", "4gb", "argument must be between 1048576 and 2147483591 inclusive")]
    [InlineData("proto-max-bulk-len", "-5", "argument must be a memory value")]
    [InlineData("proto-max-bulk-len", "12xb", "argument must be a memory value")]
    public async Task CONFIG_SET_refuses_invalid_values_with_Redis_errors_and_changes_nothing(string parameter, string value, string reason)
    {
        await using var client = await RespTestClient.ConnectAsync(fixture.Port);
        var before = await client.CallAsync("CONFIG", "GET", parameter);

        Assert.Equal(Reply.Error($"ERR CONFIG SET failed (possibly related to argument '{parameter}') - {reason}"),
            await client.CallAsync("CONFIG", "SET", parameter, value));
        Assert.Equal(before, await client.CallAsync("CONFIG", "GET", parameter));
    }

    [Fact]
    public async Task CONFIG_SET_parses_memory_units_and_buffer_limit_classes_as_Redis_does()
    {
        await using var client = await RespTestClient.ConnectAsync(fixture.Port);
        try
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "client-output-buffer-limit", "NORMAL 1k 2kb 3 replica 1mb 2m 5 normal 4gb 5g 6"));
            Assert.Equal(Reply.FromBulk("normal 4294967296 5000000000 6 slave 1048576 2000000 5 pubsub 33554432 8388608 60"),
                (await client.CallAsync("CONFIG", "GET", "client-output-buffer-limit")).Items![1]);

            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "client-output-buffer-limit", ""));
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "proto-max-bulk-len", "2MB", "client-query-buffer-limit", "1048576b"));
            Assert.Equal(Reply.FromBulk("2097152"), (await client.CallAsync("CONFIG", "GET", "proto-max-bulk-len")).Items![1]);
            Assert.Equal(Reply.FromBulk("1048576"), (await client.CallAsync("CONFIG", "GET", "client-query-buffer-limit")).Items![1]);
        }
        finally
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "client-output-buffer-limit", DefaultOutputBufferLimit,
                "proto-max-bulk-len", "512mb", "client-query-buffer-limit", "1gb"));
        }
    }

    [Fact]
    public async Task CONFIG_SET_maxclients_refuses_the_next_connection_and_counts_it()
    {
        await using var client = await RespTestClient.ConnectAsync(fixture.Port);
        var rejected = fixture.Server.RejectedConnections;
        try
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxclients", "1"));

            await using var refused = await RawRespClient.ConnectAsync(fixture.Port);
            await refused.ExpectAsync("-ERR max number of clients reached\r\n");
            await refused.ExpectClosedAsync();

            Assert.Equal(rejected + 1, fixture.Server.RejectedConnections);
            Assert.Contains("maxclients:1\r\n", (await client.CallRespAsync("INFO", "clients")).Text, StringComparison.Ordinal);
            Assert.Contains($"rejected_connections:{rejected + 1}\r\n", (await client.CallRespAsync("INFO", "stats")).Text, StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "maxclients", "10000"));
        }
    }

    [Fact]
    public async Task CONFIG_SET_timeout_closes_a_connection_left_idle()
    {
        await using (var client = await RespTestClient.ConnectAsync(fixture.Port))
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "timeout", "1"));

        try
        {
            await using var idle = await RawRespClient.ConnectAsync(fixture.Port);
            await idle.SendAsync("PING\r\n");
            await idle.ExpectAsync("+PONG\r\n");

            await idle.ExpectClosedAsync();
        }
        finally
        {
            await using var client = await RespTestClient.ConnectAsync(fixture.Port);
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "timeout", "0"));
        }
    }

    [Fact]
    public async Task CONFIG_SET_client_output_buffer_limit_disconnects_a_client_that_does_not_read_its_GETRANGE_replies()
    {
        const int limit = 2 * 1024 * 1024;
        const int valueLength = 256 * 1024;
        await using var client = await RespTestClient.ConnectAsync(fixture.Port);
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "obl:value", new string('v', valueLength)));
        try
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "client-output-buffer-limit", $"normal {limit} 0 0"));
            await using var reader = await RawRespClient.ConnectAsync(fixture.Port);
            await reader.SendAsync("CLIENT ID\r\n");
            var id = (await reader.ReadReplyAsync()).Integer;

            // 400 replies of 256 KB (100 MB), never read.
            var request = "*4\r\n$8\r\nGETRANGE\r\n$9\r\nobl:value\r\n$1\r\n0\r\n$2\r\n-1\r\n";
            await reader.SendAsync(string.Concat(Enumerable.Repeat(request, 400)));

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (fixture.Server.Connections.Any(c => c.Id == id))
                await Task.Delay(20, timeout.Token);

            var reply = RespWriter.Measure(Reply.FromBulk(new byte[valueLength]));
            // Reads sharing a barrier complete together; those still running when the limit is reached finish
            // (a few, one per thread), the rest are skipped: nothing near the 100 MB asked for.
            Assert.InRange(fixture.Server.PeakOutputBufferBytes, limit, limit + (16 * reply));
            Assert.True(await reader.DrainAsync() < 50L * 1024 * 1024);
        }
        finally
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "client-output-buffer-limit", DefaultOutputBufferLimit));
        }
    }

    [Fact]
    public async Task CONFIG_SET_proto_max_bulk_len_bounds_requests_and_the_strings_writes_make()
    {
        await using var client = await RespTestClient.ConnectAsync(fixture.Port);
        try
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "proto-max-bulk-len", "1mb"));

            Assert.Equal(Reply.Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"), await client.CallAsync("SETRANGE", "pmbl:key", "1048576", "x"));
            Assert.Equal(Reply.FromInteger(1048576), await client.CallAsync("SETRANGE", "pmbl:key", "1048575", "x"));

            await using var raw = await RawRespClient.ConnectAsync(fixture.Port);
            await raw.SendAsync("*3\r\n$3\r\nSET\r\n$8\r\npmbl:big\r\n$1048577\r\n");
            await raw.ExpectAsync("-ERR Protocol error: invalid bulk length\r\n");
            await raw.ExpectClosedAsync();
        }
        finally
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "proto-max-bulk-len", "512mb"));
        }
    }

    [Fact]
    public async Task CONFIG_SET_client_query_buffer_limit_closes_a_client_whose_request_outgrows_it()
    {
        await using var client = await RespTestClient.ConnectAsync(fixture.Port);
        try
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "client-query-buffer-limit", "1mb"));

            await using var raw = await RawRespClient.ConnectAsync(fixture.Port);
            var value = new string('q', 1536 * 1024);
            await raw.SendAsync($"*3\r\n$3\r\nSET\r\n$7\r\nqbl:big\r\n${value.Length}\r\n{value}\r\n");
            await raw.ExpectClosedAsync();

            Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "qbl:big"));
        }
        finally
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("CONFIG", "SET", "client-query-buffer-limit", "1gb"));
        }
    }

    [Fact]
    public async Task CLIENT_LIST_shows_only_known_command_names_so_a_newline_in_a_name_cannot_forge_a_line()
    {
        await using var forger = await RawRespClient.ConnectAsync(fixture.Port);
        await using var observer = await RespTestClient.ConnectAsync(fixture.Port);
        await forger.SendAsync("CLIENT ID\r\n");
        var id = (await forger.ReadReplyAsync()).Integer;

        foreach (var (name, shown) in new[]
        {
            ("gEt", "get"),
            ("foo\r\nid=999 addr=forged:1 fd=8 name=forged cmd=x", "NULL"),
            ("get\nid=998", "NULL"),
            ("client|list", "NULL"),
            ("CLIENT", "NULL"),
        })
        {
            var argv = name == "CLIENT" ? new[] { name, "nope" } : new[] { name, "k" };
            var request = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{argv.Length}\r\n");
            foreach (var argument in argv)
                request.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(argument)}\r\n{argument}\r\n");
            await forger.SendAsync(request.ToString());
            await forger.ReadReplyAsync();

            var list = (await observer.CallRespAsync("CLIENT", "LIST")).Text;
            var lines = list.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(lines, static line => Assert.Matches("^id=[0-9]+ addr=127\\.0\\.0\\.1:[0-9]+ laddr=", line));
            Assert.DoesNotContain("forged", list, StringComparison.Ordinal);
            Assert.DoesNotContain("\r", list, StringComparison.Ordinal);
            var line = Assert.Single(lines, l => l.StartsWith($"id={id} ", StringComparison.Ordinal));
            Assert.Contains($" cmd={shown} ", line, StringComparison.Ordinal);
        }

        Assert.Contains(" cmd=client|info ", (await observer.CallRespAsync("CLIENT", "INFO")).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CLIENT_LIST_reports_a_connection_s_buffers()
    {
        await using var partial = await RawRespClient.ConnectAsync(fixture.Port);
        await using var observer = await RespTestClient.ConnectAsync(fixture.Port);
        await partial.SendAsync("CLIENT ID\r\n");
        var id = (await partial.ReadReplyAsync()).Integer;

        await partial.SendAsync("*2\r\n$4\r\nECHO\r\n$100\r\n0123456789");

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (fixture.Server.Connections.Single(c => c.Id == id).InputBufferBytes == 0)
            await Task.Delay(20, timeout.Token);
        var line = (await observer.CallRespAsync("CLIENT", "LIST", "ID", id.ToString(CultureInfo.InvariantCulture))).Text;
        Assert.Contains(" qbuf=30 ", line, StringComparison.Ordinal);
        Assert.Contains(" oll=0 omem=0 ", line, StringComparison.Ordinal);
        Assert.Contains("client_recent_max_input_buffer:30\r\n", (await observer.CallRespAsync("INFO", "clients")).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task INFO_shows_the_client_limits_and_counters()
    {
        await using var client = await RespTestClient.ConnectAsync(fixture.Port);

        var clients = (await client.CallRespAsync("INFO", "clients")).Text;
        var stats = (await client.CallRespAsync("INFO", "stats")).Text;

        Assert.Matches("connected_clients:[1-9][0-9]*\r\n", clients);
        Assert.Contains("maxclients:10000\r\n", clients, StringComparison.Ordinal);
        Assert.Matches("client_recent_max_input_buffer:[0-9]+\r\n", clients);
        Assert.Matches("client_recent_max_output_buffer:[0-9]+\r\n", clients);
        Assert.Matches("rejected_connections:[0-9]+\r\n", stats);
    }
}
