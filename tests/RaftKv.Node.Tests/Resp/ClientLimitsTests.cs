using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;

namespace RaftKv.Node.Tests.Resp;

/// <summary>
/// maxclients, timeout and client-output-buffer-limit on real sockets. Nothing here asserts how long something took:
/// a test configures a limit, causes the event (a connection too many, an idle client, a client that does not read)
/// and waits, within a generous bound, for the server to act; memory is asserted on the server's own byte counters.
/// </summary>
public sealed class ClientLimitsTests
{
    private const int Megabyte = 1024 * 1024;

    private readonly LimitsHandler _handler = new();

    [Fact]
    public async Task The_connection_past_maxclients_gets_the_error_and_is_closed_and_a_freed_slot_is_reused()
    {
        await using var server = await RespServerHarness.StartAsync(_handler, new RespLimits { MaxClients = 2 });
        var first = await server.ConnectAsync();
        await using var second = await server.ConnectAsync();
        await PingAsync(first);
        await PingAsync(second);

        await using (var refused = await server.ConnectAsync())
        {
            await refused.ExpectAsync("-ERR max number of clients reached\r\n");
            await refused.ExpectClosedAsync();
        }

        Assert.Equal(1, server.Server.RejectedConnections);
        Assert.Equal(2, server.Server.TotalConnectionsReceived);

        await first.DisposeAsync();
        await WaitUntilAsync(() => server.Server.ConnectedClients == 1);
        await using var third = await server.ConnectAsync();
        await PingAsync(third);
    }

    [Fact]
    public async Task An_idle_connection_is_closed_after_timeout_but_not_while_its_reply_is_pending()
    {
        await using var server = await RespServerHarness.StartAsync(_handler, new RespLimits { IdleTimeoutSeconds = 1 });
        await using var waiting = await server.ConnectAsync();
        await waiting.SendAsync("GATE slow\r\n");
        await _handler.WaitHandledAsync("GATE");
        await using var idle = await server.ConnectAsync();
        await PingAsync(idle);

        // The idle client has been idle no longer than the waiting one, whose reply is pending: the sweep that closes
        // the idle one has seen the waiting one too and let it be.
        await idle.ExpectClosedAsync();
        _handler.Release("slow");
        await waiting.ExpectAsync("+slow\r\n");

        // Once its reply is sent, the waiting client is idle like any other.
        await waiting.ExpectClosedAsync();
    }

    [Fact]
    public async Task A_client_that_never_reads_is_disconnected_at_its_output_limit_and_the_node_holds_no_more_than_that()
    {
        const int hard = 4 * Megabyte;
        await using var server = await RespServerHarness.StartAsync(_handler, new RespLimits { OutputBufferHardLimit = hard, OutputBufferSoftLimit = 0 });
        await using var client = await server.ConnectAsync();

        // 200 replies of 1 MB: far more than the limit plus what the kernel's socket buffers take.
        await client.SendAsync(string.Concat(Enumerable.Repeat(Big(Megabyte), 200)));

        await WaitUntilAsync(() => server.Server.ConnectedClients == 0);
        var replyBytes = RespWriter.Measure(Reply.FromBulk(new byte[Megabyte]));
        Assert.InRange(server.Server.PeakOutputBufferBytes, hard, hard + replyBytes);
        Assert.Equal(0, server.Server.OutputBufferBytes);

        var received = await client.DrainAsync();
        Assert.True(received < 100L * Megabyte, $"the client received {received} bytes");
    }

    [Fact]
    public async Task A_single_reply_over_the_hard_limit_closes_the_connection_before_any_of_it_is_sent()
    {
        await using var server = await RespServerHarness.StartAsync(_handler, new RespLimits { OutputBufferHardLimit = Megabyte });
        await using var client = await server.ConnectAsync();

        await client.SendAsync(Big(8 * Megabyte));

        Assert.Equal(0, await client.DrainAsync());
        await WaitUntilAsync(() => server.Server.ConnectedClients == 0);
    }

    [Fact]
    public async Task A_client_over_the_soft_limit_for_longer_than_its_seconds_is_disconnected()
    {
        var limits = new RespLimits { OutputBufferHardLimit = 0, OutputBufferSoftLimit = Megabyte, OutputBufferSoftSeconds = 1 };
        await using var server = await RespServerHarness.StartAsync(_handler, limits);
        await using var client = await server.ConnectAsync();

        await client.SendAsync(string.Concat(Enumerable.Repeat(Big(Megabyte), 50)));

        await WaitUntilAsync(() => server.Server.ConnectedClients == 0);
        Assert.True(await client.DrainAsync() < 50L * Megabyte);
    }

    [Fact]
    public async Task A_client_that_reads_its_replies_gets_them_all_under_the_limit()
    {
        await using var server = await RespServerHarness.StartAsync(_handler, new RespLimits { OutputBufferHardLimit = 4 * Megabyte });
        await using var client = await server.ConnectAsync();

        for (var round = 0; round < 5; round++)
        {
            await client.SendAsync(Big(Megabyte) + Big(Megabyte) + Big(Megabyte));
            for (var i = 0; i < 3; i++)
                Assert.Equal(LimitsHandler.Pattern(Megabyte), (await client.ReadReplyAsync()).Bytes);
        }

        await PingAsync(client);

        // The server counts the PONG's bytes out once its socket write completes, which may be just after the client read it.
        await WaitUntilAsync(() => server.Server.OutputBufferBytes == 0);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Large_replies_written_in_pieces_are_byte_for_byte_what_the_writer_makes(int protocol)
    {
        await using var server = await RespServerHarness.StartAsync(_handler);
        await using var client = await server.ConnectAsync();
        if (protocol == 3)
        {
            await client.SendAsync("RESP3\r\n");
            await client.ExpectAsync("+OK\r\n");
        }

        for (var i = 0; i < LimitsHandler.Samples.Length; i++)
        {
            var expected = new ArrayBufferWriter<byte>();
            RespWriter.Write(expected, LimitsHandler.Samples[i], protocol);
            Assert.Equal(expected.WrittenCount, RespWriter.Measure(LimitsHandler.Samples[i], protocol));

            await client.SendAsync(string.Create(CultureInfo.InvariantCulture, $"SAMPLE {i}\r\n"));

            Assert.Equal(expected.WrittenSpan.ToArray(), await client.ReadAsync(expected.WrittenCount));
        }
    }

    private static string Big(int bytes)
    {
        var size = bytes.ToString(CultureInfo.InvariantCulture);
        return $"*2\r\n$3\r\nBIG\r\n${size.Length}\r\n{size}\r\n";
    }

    private static async Task PingAsync(RawRespClient client)
    {
        await client.SendAsync("PING\r\n");
        await client.ExpectAsync("+PONG\r\n");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
            await Task.Delay(20, timeout.Token);
    }

    /// <summary>
    /// <c>BIG n</c>: a bulk of n bytes, made anew for each request. <c>SAMPLE i</c>: one of <see cref="Samples"/>.
    /// <c>GATE name</c>: <c>+name</c> once released. <c>RESP3</c>: switches the connection to RESP3. Anything else: <c>+PONG</c>.
    /// </summary>
    private sealed class LimitsHandler : IRespRequestHandler
    {
        public static readonly Reply[] Samples =
        [
            Reply.FromBulk(Pattern(200_000)),
            Reply.FromArray(
            [
                Reply.FromBulk(Pattern(100_000)),
                Reply.FromInteger(-42),
                Reply.FromArray([Reply.FromBulk(Pattern(70_000)), Reply.FromBulk("small"), Reply.NullBulk]),
                Reply.Status("done"),
            ]),
            Reply.FromMap([Reply.FromBulk("text"), Reply.FromVerbatim(new string('t', 300_000)), Reply.FromBulk("n"), Reply.FromInteger(1)]),
            Reply.FromArray([.. Enumerable.Range(0, 10_000).Select(static i => Reply.FromBulk(i.ToString(CultureInfo.InvariantCulture)))]),
            Reply.FromBulk(Pattern(64 * 1024)),
            Reply.FromBulk(Pattern((64 * 1024) + 1)),
        ];

        private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
        private readonly System.Threading.Channels.Channel<string> _handled = System.Threading.Channels.Channel.CreateUnbounded<string>();

        public static byte[] Pattern(int length)
        {
            var bytes = new byte[length];
            for (var i = 0; i < length; i++)
                bytes[i] = (byte)('a' + (i % 26));
            return bytes;
        }

        public ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection)
        {
            var name = request.NameUpper;
            var argument = request.Count > 1 ? Encoding.ASCII.GetString(request.Arguments[1].Span) : "";
            _handled.Writer.TryWrite(name);
            switch (name)
            {
                case "BIG":
                    return new(Reply.FromBulk(Pattern(int.Parse(argument, CultureInfo.InvariantCulture))));
                case "SAMPLE":
                    return new(Samples[int.Parse(argument, CultureInfo.InvariantCulture)]);
                case "GATE":
                    return WaitAsync(argument, connection.Aborted);
                case "RESP3":
                    connection.Protocol = 3;
                    return new(Reply.Ok);
                default:
                    return new(Reply.Status("PONG"));
            }
        }

        public void Release(string gate) => Gate(gate).TrySetResult();

        public async Task WaitHandledAsync(string name)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (await _handled.Reader.ReadAsync(timeout.Token) != name)
            {
            }
        }

        private async ValueTask<Reply> WaitAsync(string gate, CancellationToken aborted)
        {
            await Gate(gate).Task.WaitAsync(aborted);
            return Reply.Status(gate);
        }

        private TaskCompletionSource Gate(string name)
            => _gates.GetOrAdd(name, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}

/// <summary>Reading what is left on a connection the server closes.</summary>
internal static class RawRespClientDrain
{
    /// <summary>Reads and discards until the server closes (or resets) the connection; returns the bytes read.</summary>
    public static async Task<long> DrainAsync(this RawRespClient client)
    {
        long total = 0;
        try
        {
            while (true)
            {
                var chunk = await client.ReadSomeAsync();
                if (chunk == 0)
                    return total;
                total += chunk;
            }
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return total;
        }
    }
}
