using System.Globalization;
using System.Text;
using Microsoft.Extensions.Hosting;
using RaftKv.Node.Resp;

namespace RaftKv.Node.Tests.Resp;

/// <summary>The RESP server over real loopback sockets, asserting the exact bytes a client receives.</summary>
public sealed class RespServerTests
{
    private readonly ScriptedHandler _handler = new();

    [Fact]
    public async Task A_request_is_answered()
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var client = await server.ConnectAsync();

        await client.SendAsync("*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n");

        await client.ExpectAsync("*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n");
    }

    [Fact]
    public async Task Pipelined_replies_leave_in_request_order_even_when_later_ones_complete_first()
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var client = await server.ConnectAsync();

        await client.SendAsync("GATE one\r\nECHO a\r\nGATE two\r\nECHO b\r\n");
        await _handler.WaitHandledAsync("GATE");
        await _handler.WaitHandledAsync("ECHO");
        await _handler.WaitHandledAsync("GATE");
        await _handler.WaitHandledAsync("ECHO");
        _handler.Release("two");
        _handler.Release("one");

        await client.ExpectAsync("+one\r\n*2\r\n$4\r\nECHO\r\n$1\r\na\r\n+two\r\n*2\r\n$4\r\nECHO\r\n$1\r\nb\r\n");
    }

    [Fact]
    public async Task A_client_pipelining_past_the_pending_reply_bound_gets_every_reply_in_order()
    {
        await using var server = await RespServerHarness.StartAsync(_handler, maxPendingReplies: 1);
        await using var client = await server.ConnectAsync();
        var requests = new StringBuilder("GATE first\r\n");
        var replies = new StringBuilder("+first\r\n");
        for (var i = 0; i < 100; i++)
        {
            var value = i.ToString(CultureInfo.InvariantCulture);
            requests.Append(CultureInfo.InvariantCulture, $"*1\r\n${value.Length}\r\n{value}\r\n");
            replies.Append(CultureInfo.InvariantCulture, $"*1\r\n${value.Length}\r\n{value}\r\n");
        }

        await client.SendAsync(requests.ToString());
        await _handler.WaitHandledAsync("GATE");
        _handler.Release("first");

        await client.ExpectAsync(replies.ToString());
    }

    [Fact]
    public async Task A_request_sent_in_many_tiny_writes_is_answered_once_complete()
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var client = await server.ConnectAsync();
        const string request = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$11\r\nhello world\r\n";

        foreach (var b in Sequences.Bytes(request))
            await client.SendAsync([b]);
        await client.SendAsync("PING\r\n");

        await client.ExpectAsync(request + "*1\r\n$4\r\nPING\r\n");
    }

    [Fact]
    public async Task A_malformed_request_is_answered_with_a_protocol_error_after_earlier_replies_and_the_connection_closed()
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var client = await server.ConnectAsync();

        await client.SendAsync("*1\r\n$3\r\nfoo\r\n*x\r\n*1\r\n$3\r\nbar\r\n");

        await client.ExpectAsync("*1\r\n$3\r\nfoo\r\n-ERR Protocol error: invalid multibulk length\r\n");
        await client.ExpectClosedAsync();
        Assert.Equal(["FOO"], _handler.DrainHandled());
    }

    [Fact]
    public async Task A_bulk_length_over_the_limit_is_refused_and_the_connection_closed()
    {
        await using var server = await RespServerHarness.StartAsync(_handler, new RespLimits { MaxBulkLength = 1024 });
        await using var client = await server.ConnectAsync();

        await client.SendAsync("*2\r\n$3\r\nSET\r\n$1025\r\n");

        await client.ExpectAsync("-ERR Protocol error: invalid bulk length\r\n");
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task A_request_outgrowing_the_query_buffer_limit_closes_the_connection_without_a_reply()
    {
        var limits = new RespLimits { MaxInlineLength = 1024, MaxQueryBuffer = 64 * 1024 };
        await using var server = await RespServerHarness.StartAsync(_handler, limits);
        await using var client = await server.ConnectAsync();

        await client.SendAsync("PING\r\n*2\r\n$3\r\nSET\r\n$100000\r\n" + new string('x', 70 * 1024));

        await client.ExpectAsync("*1\r\n$4\r\nPING\r\n");
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task CloseAfterReply_sends_the_reply_then_closes_without_running_later_requests()
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var client = await server.ConnectAsync();

        await client.SendAsync("ECHO before\r\nQUIT\r\nECHO after\r\n");

        await client.ExpectAsync("*2\r\n$4\r\nECHO\r\n$6\r\nbefore\r\n+OK\r\n");
        await client.ExpectClosedAsync();
        Assert.Equal(["ECHO", "QUIT"], _handler.DrainHandled());
    }

    [Fact]
    public async Task A_10_MB_value_round_trips()
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var client = await server.ConnectAsync();
        var value = new byte[10 * 1024 * 1024];
        new Random(7).NextBytes(value);
        byte[] request = [.. Encoding.ASCII.GetBytes($"*2\r\n$3\r\nSET\r\n${value.Length}\r\n"), .. value, .. "\r\n"u8];

        await client.SendAsync(request);

        Assert.Equal(request, await client.ReadAsync(request.Length));
    }

    [Fact]
    public async Task A_failing_handler_gets_an_internal_error_and_the_connection_carries_on()
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var client = await server.ConnectAsync();

        await client.SendAsync("THROW\r\nFAULT\r\nECHO still here\r\n");

        await client.ExpectAsync(
            "-ERR internal error\r\n-ERR internal error\r\n*3\r\n$4\r\nECHO\r\n$5\r\nstill\r\n$4\r\nhere\r\n");
    }

    [Fact]
    public async Task Connections_have_increasing_ids_their_address_and_the_injected_time()
    {
        var now = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        await using var server = await RespServerHarness.StartAsync(_handler, time: new FixedTime(now));
        await using var first = await server.ConnectAsync();
        await using var second = await server.ConnectAsync();

        await first.SendAsync("WHOAMI\r\n");
        await second.SendAsync("WHOAMI\r\n");

        await first.ExpectAsync(WhoAmI(1, now, first));
        await second.ExpectAsync(WhoAmI(2, now, second));
        Assert.Equal(2, server.Server.ConnectedClients);
        Assert.Equal(2, server.Server.TotalConnectionsReceived);
    }

    [Fact]
    public async Task Closed_connections_are_no_longer_counted()
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var staying = await server.ConnectAsync();
        await using var leaving = await server.ConnectAsync();
        await staying.SendAsync("PING\r\n");
        await staying.ExpectAsync("*1\r\n$4\r\nPING\r\n");

        await leaving.SendAsync("QUIT\r\n");
        await leaving.ExpectAsync("+OK\r\n");
        await leaving.ExpectClosedAsync();

        await WaitUntilAsync(() => server.Server.ConnectedClients == 1);
        Assert.Equal(2, server.Server.TotalConnectionsReceived);
    }

    [Fact]
    public async Task Stopping_the_server_closes_every_connection_and_aborts_pending_replies()
    {
        var server = await RespServerHarness.StartAsync(_handler);
        await using var idle = await server.ConnectAsync();
        await using var waiting = await server.ConnectAsync();
        await idle.SendAsync("PING\r\n");
        await idle.ExpectAsync("*1\r\n$4\r\nPING\r\n");
        await waiting.SendAsync("GATE never\r\n");
        await _handler.WaitHandledAsync("GATE");

        await server.DisposeAsync();

        await idle.ExpectClosedAsync();
        await waiting.ExpectClosedAsync();
        Assert.Equal(0, server.Server.ConnectedClients);
    }

    [Fact]
    public async Task AddRespServer_binds_options_from_configuration_and_runs_as_a_hosted_service()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RaftKv:Resp:BindAddress"] = "127.0.0.1",
            ["RaftKv:Resp:Port"] = RaftKv.Testing.LoopbackPorts.Free(1)[0].ToString(CultureInfo.InvariantCulture),
            ["RaftKv:Limits:MaxBulkLength"] = "4",
        });
        builder.Services.AddSingleton<IRespRequestHandler>(_handler);
        builder.Services.AddRespServer(builder.Configuration);
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.StartAsync(timeout.Token);
        try
        {
            var server = host.Services.GetRequiredService<RespServer>();
            await using var client = await RawRespClient.ConnectAsync(server.Port);

            await client.SendAsync("*1\r\n$4\r\nPING\r\n*1\r\n$5\r\n");

            await client.ExpectAsync("*1\r\n$4\r\nPING\r\n-ERR Protocol error: invalid bulk length\r\n");
        }
        finally
        {
            await host.StopAsync(timeout.Token);
        }
    }

    private static string WhoAmI(long id, DateTimeOffset connectedAt, RawRespClient client)
    {
        var time = connectedAt.ToString("O", CultureInfo.InvariantCulture);
        var address = client.LocalEndPoint.ToString()!;
        return $"*3\r\n:{id}\r\n${time.Length}\r\n{time}\r\n${address.Length}\r\n{address}\r\n";
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
            await Task.Delay(10, timeout.Token);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
