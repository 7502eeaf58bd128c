using System.Net;
using System.Net.Sockets;
using DotNext.Net.Cluster.Consensus.Raft;
using RaftKv.Node.Hosting;
using RaftKv.Node.Peers;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// The Raft port without TLS: a connection must prove the cluster secret (handshake <c>RKVR</c>, labels
/// <c>raftkv-raft/1</c>) before DotNext reads a byte. Real Resign and AppendEntries frames sent without it, with a wrong
/// secret or with a peer-channel proof change nothing; the same bytes after a valid handshake make the leader step down
/// or rewrite a follower's log — which is what shows the frames are real and the protection is what stops them.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RaftPortTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    // Long enough for several election timeouts (300-600 ms) and heartbeats: a disturbance would show as a new term.
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);

    private static readonly Dictionary<string, string?> Settings = QuietElections(new()
    {
        ["RaftKv:Peer:HandshakeTimeout"] = "00:00:01",
    });

    /// <summary>
    /// Election timeouts of 1.5-3 s for tests that assert "no new term" over <see cref="Window"/>: at 300-600 ms a
    /// scheduling stall on a loaded 2-core machine starts an election of its own (CI saw term 1 → 2 with nothing sent),
    /// which such a test cannot tell from one the refused frames caused. A frame that does reach DotNext (the controls)
    /// still shows at once: a Resign steps the leader down, a forged AppendEntries moves the term.
    /// </summary>
    internal static Dictionary<string, string?> QuietElections(Dictionary<string, string?> settings)
    {
        settings["raft:lowerElectionTimeout"] = "1500";
        settings["raft:upperElectionTimeout"] = "3000";
        return settings;
    }

    [Fact]
    public async Task A_Resign_frame_without_the_handshake_is_dropped_and_the_same_bytes_after_it_make_the_leader_step_down()
    {
        await using var cluster = await TestCluster.StartAsync(settings: Settings);
        var leader = await cluster.WaitForLeaderAsync();
        var before = await SteadyAsync(cluster, leader);
        var transport = cluster.Service<AuthenticatedRaftTransport>(leader);
        var refused = transport.ConnectionsRefused;

        // The type byte alone is short of a handshake response: dropped at the 1 s handshake timeout, never read.
        await using (var raw = await RawRaft.ConnectAsync(cluster.RaftPort(leader)))
        {
            await raw.WriteAsync(RaftFrames.ResignRequest());
            await AssertUndisturbedAsync(cluster, leader, before);
            Assert.True(await raw.IsClosedAsync(), "the Raft port kept an unauthenticated connection open");
        }

        Assert.Equal(refused + 1, transport.ConnectionsRefused);

        // Control: the same byte after a valid handshake reaches DotNext, and the leader resigns (an election follows).
        await using var proven = await RawRaft.AuthenticatedAsync(cluster.RaftPort(leader), cluster.Secret);
        await proven.WriteAsync(RaftFrames.ResignRequest());
        await WaitUntilAsync(() => Terms(cluster).Max() > before.Max(), "the resign frame after the handshake caused no election");
    }

    [Fact]
    public async Task An_AppendEntries_frame_without_the_handshake_leaves_the_follower_log_and_term_unchanged_and_the_same_bytes_after_it_rewrite_them()
    {
        await using var cluster = await TestCluster.StartAsync(settings: Settings);
        var leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));
        await cluster.WaitForConvergenceAsync();
        var before = await SteadyAsync(cluster, leader);
        var follower = (leader + 1) % cluster.Size;
        var log = cluster.Service<IPersistentState>(follower);
        var (term, last) = (before[follower], log.LastEntryIndex);

        // One entry of a far higher term after the follower's last one (the SET's, of the current term).
        var frame = RaftFrames.AppendEntriesRequest(term + 50, last, term, log.LastCommittedEntryIndex, "forged"u8.ToArray());
        var transport = cluster.Service<AuthenticatedRaftTransport>(follower);
        var refused = transport.ConnectionsRefused;
        await using (var raw = await RawRaft.ConnectAsync(cluster.RaftPort(follower)))
        {
            await raw.WriteAsync(frame);
            await AssertUndisturbedAsync(cluster, leader, before);
            Assert.Equal(last, log.LastEntryIndex);
            Assert.True(await raw.IsClosedAsync(), "the Raft port kept an unauthenticated connection open");
        }

        Assert.Equal(refused + 1, transport.ConnectionsRefused);

        // Control: after a valid handshake the same bytes make the follower take the forged term and entry.
        await using var proven = await RawRaft.AuthenticatedAsync(cluster.RaftPort(follower), cluster.Secret);
        await proven.WriteAsync(frame);
        await WaitUntilAsync(
            () => cluster.Service<IRaftCluster>(follower).Term >= term + 50 && log.LastEntryIndex > last,
            "the AppendEntries frame after the handshake did not reach the follower's log");
    }

    [Fact]
    public async Task A_wrong_secret_or_a_peer_channel_proof_is_refused_and_the_frames_behind_it_are_never_read()
    {
        await using var cluster = await TestCluster.StartAsync(settings: Settings);
        var leader = await cluster.WaitForLeaderAsync();
        var before = await SteadyAsync(cluster, leader);
        var transport = cluster.Service<AuthenticatedRaftTransport>(leader);
        var right = new ClusterSecret(cluster.Secret);
        var attempts = new (string What, ClusterSecret Secret, HandshakeChannel Channel)[]
        {
            ("another cluster's secret", new ClusterSecret("not-the-cluster-secret-at-all"), HandshakeChannel.Raft),
            ("a proof made for the peer channel", right, HandshakeChannel.Peer),
        };

        foreach (var (what, secret, channel) in attempts)
        {
            var refused = transport.ConnectionsRefused;
            await using var raw = await RawRaft.ConnectAsync(cluster.RaftPort(leader));
            var challenge = await raw.ReadAsync(PeerProtocol.ChallengeLength);
            Assert.Equal("RKVR"u8.ToArray(), challenge[..4]);

            // The response, and right behind it a Resign that DotNext would act on if it were read.
            var response = Response(challenge, secret, channel).Concat(RaftFrames.ResignRequest()).ToArray();
            await raw.WriteAsync(response);
            var verdict = await raw.ReadAsync(PeerProtocol.VerdictLength);
            Assert.True((byte)HandshakeVerdict.WrongSecret == verdict[0], what);
            Assert.True(await raw.IsClosedAsync(), what);
            Assert.Equal(refused + 1, transport.ConnectionsRefused);
        }

        await AssertUndisturbedAsync(cluster, leader, before);

        // Control: the right secret on the Raft channel is accepted with the same bytes.
        await using var accepted = await RawRaft.ConnectAsync(cluster.RaftPort(leader));
        var fresh = await accepted.ReadAsync(PeerProtocol.ChallengeLength);
        await accepted.WriteAsync(Response(fresh, right, HandshakeChannel.Raft));
        Assert.Equal((byte)HandshakeVerdict.Accepted, (await accepted.ReadAsync(PeerProtocol.VerdictLength))[0]);
    }

    private static byte[] Response(byte[] challenge, ClusterSecret secret, HandshakeChannel channel)
    {
        var clientNonce = new byte[PeerProtocol.NonceLength];
        return [.. "RKVR"u8, PeerProtocol.Version, .. clientNonce, .. secret.ClientProof(channel, challenge.AsSpan(5), clientNonce)];
    }

    internal static long[] Terms(TestCluster cluster)
        => [.. Enumerable.Range(0, cluster.Size).Select(n => cluster.Service<IRaftCluster>(n).Term)];

    /// <summary>Waits until every node has been on one term under <paramref name="leader"/> for a while; returns the terms.</summary>
    internal static async Task<long[]> SteadyAsync(TestCluster cluster, int leader)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var terms = Terms(cluster);
            await Task.Delay(1000);
            if (terms.Distinct().Count() == 1 && terms.SequenceEqual(Terms(cluster)) && await cluster.WaitForLeaderAsync() == leader)
                return terms;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("The cluster did not settle on one term.");
        }
    }

    /// <summary>Over <see cref="Window"/>: the same leader, and no node on another term (no election, no forged term).</summary>
    internal static async Task AssertUndisturbedAsync(TestCluster cluster, int leader, long[] before)
    {
        var end = DateTime.UtcNow + Window;
        while (DateTime.UtcNow < end)
        {
            Assert.Equal(before, Terms(cluster));
            Assert.True(cluster.Service<ClusterView>(leader).IsLeader, $"node{leader + 1} lost leadership");
            await Task.Delay(100);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(20);
        }
    }

    /// <summary>A TCP connection to a Raft port driven byte by byte; reads give up after <see cref="Patience"/>.</summary>
    internal sealed class RawRaft(TcpClient tcp) : IAsyncDisposable
    {
        private readonly NetworkStream stream = tcp.GetStream();

        public static async Task<RawRaft> ConnectAsync(int port)
        {
            var tcp = new TcpClient { NoDelay = true };
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            return new RawRaft(tcp);
        }

        public static async Task<RawRaft> AuthenticatedAsync(int port, string secret)
        {
            var raw = await ConnectAsync(port);
            using var timeout = new CancellationTokenSource(Patience);
            await PeerHandshake.ConnectAsync(raw.stream, new ClusterSecret(secret), HandshakeChannel.Raft, timeout.Token);
            return raw;
        }

        public async Task WriteAsync(byte[] bytes) => await stream.WriteAsync(bytes);

        public async Task<byte[]> ReadAsync(int count)
        {
            var buffer = new byte[count];
            using var timeout = new CancellationTokenSource(Patience);
            await stream.ReadExactlyAsync(buffer, timeout.Token);
            return buffer;
        }

        /// <summary>True when the other end closed (or reset) the connection in time; bytes before that are skipped.</summary>
        public async Task<bool> IsClosedAsync()
        {
            using var timeout = new CancellationTokenSource(Patience);
            var buffer = new byte[256];
            try
            {
                while (await stream.ReadAsync(buffer, timeout.Token) > 0)
                {
                }

                return true;
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

        public ValueTask DisposeAsync()
        {
            tcp.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
