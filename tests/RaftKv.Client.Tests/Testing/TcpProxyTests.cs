using System.Net.Sockets;
using RaftKv.Client.Tests.Fakes;
using RaftKv.Testing;

namespace RaftKv.Client.Tests.Testing;

/// <summary>The fault-injecting proxy does what the cluster tests rely on.</summary>
public sealed class TcpProxyTests
{
    [Fact]
    public async Task It_forwards_both_ways()
    {
        await using var node = new FakeNode();
        await using var proxy = TcpProxy.Start(Port(node));
        await using var client = await ConnectAsync(proxy);

        Assert.True(await client.StringSetAsync("k", "v"));
        Assert.Equal("v", await client.StringGetAsync("k"));
    }

    [Fact]
    public async Task Dropped_connections_are_reset_and_new_ones_are_forwarded()
    {
        await using var node = new FakeNode();
        await using var proxy = TcpProxy.Start(Port(node));
        using var raw = new TcpClient();
        await raw.ConnectAsync("127.0.0.1", proxy.Port);
        await Eventually.TrueAsync(() => proxy.ConnectionCount == 1, "the connection through the proxy");

        proxy.DropConnections();

        var buffer = new byte[16];
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            var stream = raw.GetStream();
            await stream.WriteAsync("*1\r\n$4\r\nPING\r\n"u8.ToArray());
            if (await stream.ReadAsync(buffer) == 0)
                throw new EndOfStreamException();
        });
        await using var client = await ConnectAsync(proxy);
        Assert.True(await client.StringSetAsync("k", "v"));
    }

    [Fact]
    public async Task A_cut_silences_traffic_until_healed()
    {
        await using var node = new FakeNode();
        await using var proxy = TcpProxy.Start(Port(node));
        await using var client = await ConnectAsync(proxy);

        proxy.Cut();
        await Assert.ThrowsAsync<RaftKvTimeoutException>(() => client.StringGetAsync("k"));
        Assert.DoesNotContain(node.Received, static r => r.Name == "GET");

        proxy.Heal();
        Assert.True(await client.StringSetAsync("k", "v"));
    }

    [Fact]
    public async Task A_lost_reply_reaches_the_server_but_not_the_client()
    {
        await using var node = new FakeNode();
        await using var proxy = TcpProxy.Start(Port(node));
        using var raw = new TcpClient();
        await raw.ConnectAsync("127.0.0.1", proxy.Port);
        var stream = raw.GetStream();

        var lost = proxy.LoseReplyTo("marker"u8);
        await stream.WriteAsync("*3\r\n$3\r\nSET\r\n$6\r\nmarker\r\n$1\r\nv\r\n"u8.ToArray());

        await lost.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["SET marker v"], node.Applied);
        Assert.Equal(0, await ReadOrResetAsync(stream));
    }

    private static async Task<int> ReadOrResetAsync(NetworkStream stream)
    {
        try
        {
            return await stream.ReadAsync(new byte[16]);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static int Port(FakeNode node) => int.Parse(node.Endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);

    private static Task<RaftKvConnection> ConnectAsync(TcpProxy proxy)
        => RaftKvConnection.ConnectAsync(new RaftKvClientOptions
        {
            Endpoints = { proxy.Endpoint },
            DiscoverMembers = false,
            OperationTimeout = TimeSpan.FromSeconds(1),
            ConnectTimeout = TimeSpan.FromMilliseconds(300),
            ReplyTimeout = TimeSpan.FromMilliseconds(300),
            MinRetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(50),
            TopologyRefreshInterval = TimeSpan.FromHours(1),
        });
}
