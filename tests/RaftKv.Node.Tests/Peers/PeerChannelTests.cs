using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MessagePack;
using RaftKv.Node.Peers;
using RaftKv.Node.Routing;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;
using RaftKv.Node.Tests.Cluster;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Peers;

/// <summary>A cluster whose peer channels drop a silent connection after 1 s and take frames of at most 1 MB.</summary>
public sealed class PeerClusterFixture : IAsyncLifetime
{
    public const long MaxFrameBytes = 1024 * 1024;

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(settings: new Dictionary<string, string?>
    {
        ["RaftKv:Peer:HandshakeTimeout"] = "00:00:01",
        ["RaftKv:Peer:MaxFrameBytes"] = MaxFrameBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// The peer channel: internal messages are not on the RESP port; the peer port admits only members proving the
/// cluster secret, and a malformed, oversized, truncated or deeply nested frame closes its connection and changes nothing.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PeerChannelTests(PeerClusterFixture fixture) : IClassFixture<PeerClusterFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Internal_names_on_the_RESP_port_are_unknown_commands_and_change_nothing()
    {
        await Cluster.WaitForLeaderAsync();
        var before = await Cluster.WaitForConvergenceAsync();
        var propose = MessagePackSerializer.Serialize<WriteCommand>(
            new SetCommand { Key = "internal:k"u8.ToArray(), Value = "v"u8.ToArray() }, KeyValueStore.SerializerOptions);

        for (var node = 0; node < Cluster.Size; node++)
        {
            await using var client = await Cluster.ConnectAsync(node);
            foreach (var argv in new[]
            {
                new[] { "RAFTKV.PROPOSE"u8.ToArray(), "0"u8.ToArray(), propose },
                ["raftkv.readindex"u8.ToArray()],
                ["RAFTKV.DURABLE"u8.ToArray()],
            })
            {
                var reply = (await client.CallRespAsync(argv)).ToReply();
                Assert.True(reply.IsError, $"node{node + 1}: {reply}");
                Assert.StartsWith("ERR unknown command '" + Encoding.ASCII.GetString(argv[0]) + "'", reply.Text);
            }

            Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "internal:k"));
        }

        Assert.Equal(before, await Cluster.WaitForConvergenceAsync());
    }

    [Fact]
    public async Task A_connection_with_a_wrong_secret_is_refused_and_its_frames_are_never_read()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var listener = Cluster.Service<PeerListener>(leader);
        var refusedBefore = listener.ConnectionsRefused;

        await using var raw = await RawPeer.ConnectAsync(Cluster.PeerPort(leader));
        var challenge = await raw.ReadAsync(PeerProtocol.ChallengeLength);
        Assert.Equal("RKVP"u8.ToArray(), challenge[..4]);
        Assert.Equal(PeerProtocol.Version, challenge[4]);

        // A response made with another secret, and right behind it a write that would be proposed if it were read.
        var wrong = new ClusterSecret("not-the-cluster-secret-at-all");
        var clientNonce = new byte[PeerProtocol.NonceLength];
        var response = new List<byte>("RKVP"u8.ToArray()) { PeerProtocol.Version };
        response.AddRange(clientNonce);
        response.AddRange(wrong.ClientProof(challenge.AsSpan(5), clientNonce));
        response.AddRange(PeerMessages.ProposeFrame(new SetCommand { Key = "refused:k"u8.ToArray(), Value = "v"u8.ToArray() }, 0));
        await raw.WriteAsync([.. response]);

        var verdict = await raw.ReadAsync(PeerProtocol.VerdictLength);
        Assert.Equal((byte)HandshakeVerdict.WrongSecret, verdict[0]);
        Assert.True(verdict.AsSpan(1).IndexOfAnyExcept((byte)0) < 0, "a refusal carries no proof");
        Assert.True(await raw.IsClosedAsync(), "the connection stays open after a refusal");
        Assert.Equal(refusedBefore + 1, listener.ConnectionsRefused);

        await using var client = await Cluster.ConnectAsync(leader);
        Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "refused:k"));
    }

    [Fact]
    public async Task The_handshake_with_a_wrong_secret_fails_on_the_connecting_side_with_a_clear_reason()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Cluster.PeerPort(leader));
        var error = await Assert.ThrowsAsync<PeerHandshakeException>(
            () => PeerHandshake.ConnectAsync(tcp.GetStream(), new ClusterSecret("another-cluster-secret-0123"), CancellationToken.None));
        Assert.Equal(HandshakeVerdict.WrongSecret, error.Verdict);
        Assert.Contains("ClusterSecret differs", error.Message);
    }

    [Theory]
    [InlineData("RESP")]
    [InlineData("silence")]
    public async Task A_connection_that_does_not_answer_the_handshake_is_dropped_without_a_verdict(string behaviour)
    {
        var leader = await Cluster.WaitForLeaderAsync();
        await using var raw = await RawPeer.ConnectAsync(Cluster.PeerPort(leader));
        await raw.ReadAsync(PeerProtocol.ChallengeLength);
        if (behaviour == "RESP")
        {
            // A Redis client pointed at the wrong port: enough bytes for a handshake response, but not one.
            var ping = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n$4\r\nPING\r\n", 8)));
            await raw.WriteAsync(ping);
        }

        // Closed without a verdict: after the bad magic at once, after silence at the 1 s handshake timeout.
        Assert.True(await raw.IsClosedAsync(), behaviour);
    }

    public static TheoryData<string, byte[]> MalformedFrames() => new()
    {
        { "an empty frame", [0, 0, 0, 0] },
        { "a frame above the limit", [0x7f, 0xff, 0xff, 0xff, PeerMessages.Propose] },
        { "a frame just above the limit", Header((int)PeerClusterFixture.MaxFrameBytes + 1, PeerMessages.Propose) },
        { "an unknown type", PeerProtocol.Frame(0x7e, "x"u8) },
        { "an answer type sent as a request", PeerProtocol.Frame(PeerMessages.Answered, "x"u8) },
        { "a read index with a payload", PeerProtocol.Frame(PeerMessages.ReadIndex, "x"u8) },
        { "a propose without payload", PeerProtocol.Frame(PeerMessages.Propose, []) },
        { "a propose for database 200", PeerProtocol.Frame(PeerMessages.Propose, [200, 0xc0]) },
    };

    [Theory]
    [MemberData(nameof(MalformedFrames))]
    public async Task A_malformed_frame_closes_the_connection_and_changes_nothing(string what, byte[] frame)
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var before = await Cluster.WaitForConvergenceAsync();
        await using var peer = await RawPeer.AuthenticatedAsync(Cluster.PeerPort(leader), Cluster.Secret);

        await peer.WriteAsync(frame);
        Assert.True(await peer.IsClosedAsync(), what);

        Assert.Equal(before, await Cluster.WaitForConvergenceAsync());
        await AssertServingAsync(leader);
    }

    [Fact]
    public async Task A_truncated_frame_changes_nothing()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var before = await Cluster.WaitForConvergenceAsync();
        var frame = PeerMessages.ProposeFrame(new SetCommand { Key = "truncated:k"u8.ToArray(), Value = "v"u8.ToArray() }, 0);
        await using (var peer = await RawPeer.AuthenticatedAsync(Cluster.PeerPort(leader), Cluster.Secret))
            await peer.WriteAsync(frame[..^3]);

        await AssertServingAsync(leader);
        Assert.Equal(before, await Cluster.WaitForConvergenceAsync());
        await using var client = await Cluster.ConnectAsync(leader);
        Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "truncated:k"));
    }

    [Fact]
    public async Task A_deeply_nested_forwarded_write_is_refused_and_the_node_keeps_serving()
    {
        // SessionExec inside SessionExec, 100,000 deep: with MessagePack's trusted-data options this overflowed the
        // stack and killed the node.
        var leader = await Cluster.WaitForLeaderAsync();
        var before = await Cluster.WaitForConvergenceAsync();
        var nested = new List<byte> { 0 };
        for (var i = 0; i < 100_000; i++)
            nested.AddRange([0x92, 81, 0x94, 1, 1, 0]);
        nested.Add(0xc0);

        await using var peer = await RawPeer.AuthenticatedAsync(Cluster.PeerPort(leader), Cluster.Secret);
        var outcome = await peer.CallAsync(PeerProtocol.Frame(PeerMessages.Propose, [.. nested]));
        Assert.Equal(WriteOutcomeKind.Answered, outcome.Kind);
        Assert.True(outcome.Reply!.IsError, outcome.Reply.ToString());

        await AssertServingAsync(leader);
        Assert.Equal(before, await Cluster.WaitForConvergenceAsync());
    }

    public static TheoryData<string, WriteCommand> InvalidCommands() => new()
    {
        { "a lock with a negative TTL", new LockAcquireCommand { Key = "invalid:lock"u8.ToArray(), Token = "t"u8.ToArray(), Ttl = -1000 } },
        { "a session that never expires", new SessionOpenCommand { Ttl = -1 } },
        { "a null value", new SetCommand { Key = "invalid:null"u8.ToArray(), Value = null! } },
        { "SETRANGE near 2^31 with any limit", new SetRangeCommand { Key = "invalid:range"u8.ToArray(), Offset = int.MaxValue - 1, Value = "x"u8.ToArray(), MaxLength = long.MaxValue } },
        { "a MULTI over the limit", new TransactionCommand { Commands = [.. Enumerable.Repeat(new[] { "INCR"u8.ToArray(), "invalid:n"u8.ToArray() }, 10_001)] } },
    };

    [Theory]
    [MemberData(nameof(InvalidCommands))]
    public async Task A_forwarded_write_our_parser_would_not_make_is_refused_with_an_error_and_changes_nothing(string what, WriteCommand command)
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var before = await Cluster.WaitForConvergenceAsync();
        await using var peer = await RawPeer.AuthenticatedAsync(Cluster.PeerPort(leader), Cluster.Secret);

        var outcome = await peer.CallAsync(PeerMessages.ProposeFrame(command, 0));
        Assert.Equal(WriteOutcomeKind.Answered, outcome.Kind);
        Assert.True(outcome.Reply!.IsError, $"{what}: {outcome.Reply}");
        Assert.Equal(before, await Cluster.WaitForConvergenceAsync());
    }

    [Fact]
    public async Task A_member_proposes_on_the_leader_and_a_follower_refuses_without_taking_anything()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % Cluster.Size;
        var write = PeerMessages.ProposeFrame(new SetCommand { Key = "peer:k"u8.ToArray(), Value = "from a member"u8.ToArray() }, 3);

        await using (var peer = await RawPeer.AuthenticatedAsync(Cluster.PeerPort(follower), Cluster.Secret))
        {
            Assert.Equal(WriteOutcomeKind.NotApplied, (await peer.CallAsync(write)).Kind);
            var index = await peer.CallRawAsync(PeerMessages.ReadIndexRequest);
            Assert.Equal(PeerMessages.NotApplied, index.Type);
        }

        await using (var peer = await RawPeer.AuthenticatedAsync(Cluster.PeerPort(leader), Cluster.Secret))
        {
            Assert.Equal(WriteOutcome.Answered(Reply.Ok), await peer.CallAsync(write));
            var index = await peer.CallRawAsync(PeerMessages.ReadIndexRequest);
            Assert.Equal(PeerMessages.ReadIndexAt, index.Type);
            Assert.True(BinaryPrimitives.ReadInt64BigEndian(index.Payload) > 0);
        }

        await using var client = await Cluster.ConnectAsync(follower);
        Assert.Equal(Reply.Ok, await client.CallAsync("SELECT", "3"));
        Assert.Equal(Reply.FromBulk("from a member"u8.ToArray()), await client.CallAsync("GET", "peer:k"));
    }

    [Fact]
    public async Task A_listener_that_cannot_prove_the_secret_is_not_trusted_by_the_connecting_member()
    {
        // Someone answering on a member's peer address who does not hold the secret: it accepts anything, with a
        // made-up proof. A follower must not send it writes (it could answer them falsely).
        using var impostor = new TcpListener(IPAddress.Loopback, 0);
        impostor.Start();
        var serving = Task.Run(async () =>
        {
            using var socket = await impostor.AcceptSocketAsync();
            await using var stream = new NetworkStream(socket);
            var challenge = new List<byte>("RKVP"u8.ToArray()) { PeerProtocol.Version };
            challenge.AddRange(new byte[PeerProtocol.NonceLength]);
            await stream.WriteAsync(challenge.ToArray());
            await stream.ReadExactlyAsync(new byte[PeerProtocol.ResponseLength]);
            var verdict = new byte[PeerProtocol.VerdictLength];
            verdict[1] = 42;
            await stream.WriteAsync(verdict);
            await Task.Delay(500);
        });

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)impostor.LocalEndpoint).Port);
        var error = await Assert.ThrowsAsync<PeerHandshakeException>(
            () => PeerHandshake.ConnectAsync(tcp.GetStream(), new ClusterSecret(Cluster.Secret), CancellationToken.None));
        Assert.Contains("could not prove", error.Message);
        await serving;
    }

    private async Task AssertServingAsync(int node)
    {
        await using var client = await Cluster.ConnectAsync(node);
        Assert.Equal(Reply.Status("PONG"), await client.CallAsync("PING"));
    }

    private static byte[] Header(int length, byte type)
    {
        var header = new byte[PeerProtocol.FrameHeaderLength];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)length);
        header[4] = type;
        return header;
    }

    /// <summary>A peer connection driven byte by byte; every read gives up after <see cref="Patience"/>.</summary>
    private sealed class RawPeer(TcpClient tcp) : IAsyncDisposable
    {
        private readonly NetworkStream stream = tcp.GetStream();

        public static async Task<RawPeer> ConnectAsync(int port)
        {
            var tcp = new TcpClient { NoDelay = true };
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            return new RawPeer(tcp);
        }

        public static async Task<RawPeer> AuthenticatedAsync(int port, string secret)
        {
            var peer = await ConnectAsync(port);
            using var timeout = new CancellationTokenSource(Patience);
            await PeerHandshake.ConnectAsync(peer.stream, new ClusterSecret(secret), timeout.Token);
            return peer;
        }

        public async Task WriteAsync(byte[] bytes)
        {
            try
            {
                await stream.WriteAsync(bytes);
            }
            catch (IOException)
            {
                // The server may close while a large write is still going out; the test looks at what happened next.
            }
        }

        public async Task<byte[]> ReadAsync(int count)
        {
            var buffer = new byte[count];
            using var timeout = new CancellationTokenSource(Patience);
            await stream.ReadExactlyAsync(buffer, timeout.Token);
            return buffer;
        }

        /// <summary>True when the other end closed (or reset) the connection before <see cref="Patience"/> ran out.</summary>
        public async Task<bool> IsClosedAsync()
        {
            using var timeout = new CancellationTokenSource(Patience);
            try
            {
                return await stream.ReadAsync(new byte[1], timeout.Token) == 0;
            }
            catch (IOException)
            {
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public async Task<(byte Type, byte[] Payload)> CallRawAsync(byte[] frame)
        {
            await stream.WriteAsync(frame);
            var header = await ReadAsync(PeerProtocol.FrameHeaderLength);
            var length = BinaryPrimitives.ReadUInt32BigEndian(header);
            return (header[4], await ReadAsync((int)length - 1));
        }

        public async Task<WriteOutcome> CallAsync(byte[] frame)
        {
            var (type, payload) = await CallRawAsync(frame);
            return PeerMessages.DecodeWrite(new PeerCallResult(PeerCallStatus.Answered, type, payload));
        }

        public ValueTask DisposeAsync()
        {
            tcp.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
