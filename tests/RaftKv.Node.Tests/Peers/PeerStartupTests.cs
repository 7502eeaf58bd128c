using System.Buffers;
using RaftKv.Node.Peers;
using RaftKv.StateMachine;
using RaftKv.Node.Tests.Cluster;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Peers;

/// <summary>Start-up refusals of the peer channel's configuration, and its framing on its own.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PeerStartupTests
{
    [Fact]
    public async Task A_node_whose_secret_the_running_members_refuse_does_not_start_and_starts_once_it_is_fixed()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var odd = (leader + 1) % cluster.Size;
        await cluster.StopNodeAsync(odd);

        var error = await Assert.ThrowsAsync<NodeStartupException>(() => cluster.StartNodeAsync(odd, new Dictionary<string, string?>
        {
            ["RaftKv:Peer:ClusterSecret"] = "a-secret-of-another-cluster",
        }));
        Assert.Contains("refused this node's cluster secret", error.Message);
        Assert.False(cluster.IsRunning(odd));

        // The others refused and logged it, and kept serving.
        var listener = cluster.Service<PeerListener>(leader);
        Assert.True(listener.ConnectionsRefused >= 1);
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after", "refusal"));

        await cluster.StartNodeAsync(odd);
        await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(odd))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "fixed", "secret"));
    }

    [Theory]
    [InlineData(null, "is not set")]
    [InlineData("short", "at least 16 bytes")]
    public async Task A_member_without_a_usable_secret_does_not_start(string? secret, string reason)
    {
        await using var cluster = await TestCluster.StartAsync();
        await cluster.StopNodeAsync(0);
        var error = await Assert.ThrowsAsync<NodeStartupException>(() => cluster.StartNodeAsync(0, new Dictionary<string, string?>
        {
            ["RaftKv:Peer:ClusterSecret"] = secret,
        }));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Frames_are_read_whole_however_the_bytes_are_split()
    {
        var frames = new[]
        {
            PeerProtocol.Frame(1, "first"u8),
            PeerProtocol.Frame(2, []),
            PeerProtocol.Frame(0x81, Enumerable.Range(0, 300).Select(static i => (byte)i).ToArray()),
        };
        var bytes = frames.SelectMany(static f => f).ToArray();

        for (var split = 0; split <= bytes.Length; split++)
        {
            var read = new List<(byte, byte[])>();
            var pending = new ReadOnlySequence<byte>(bytes, 0, split);
            while (PeerProtocol.TryReadFrame(ref pending, 1024, out var type, out var payload))
                read.Add((type, payload.ToArray()));

            var rest = new ReadOnlySequence<byte>(bytes[(split - (int)pending.Length)..]);
            while (PeerProtocol.TryReadFrame(ref rest, 1024, out var type, out var payload))
                read.Add((type, payload.ToArray()));

            Assert.Equal(0, rest.Length);
            Assert.Equal([(1, "first"u8.ToArray()), (2, []), (0x81, frames[2][5..])], read.Select(static r => (r.Item1, r.Item2)));
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1025u)]
    [InlineData(uint.MaxValue)]
    public void A_frame_length_of_zero_or_above_the_limit_is_malformed(uint length)
    {
        var header = new byte[PeerProtocol.FrameHeaderLength];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header, length);
        var buffer = new ReadOnlySequence<byte>(header);
        Assert.Throws<InvalidDataException>(() => PeerProtocol.TryReadFrame(ref buffer, 1024, out _, out _));
    }

    [Fact]
    public void A_secret_shorter_than_16_bytes_is_refused()
        => Assert.Throws<ArgumentException>(() => new ClusterSecret("fifteen-bytes!!"));
}
