using System.Globalization;
using System.Net;
using System.Net.Sockets;
using DotNext.Net.Cluster.Consensus.Raft;
using RaftKv.Node.Hosting;
using RaftKv.Node.Peers;
using RaftKv.Node.Raft;
using RaftKv.Node.Tests.Peers;
using RaftKv.Node.Tls;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>A cluster with mutual TLS between its nodes (<c>RaftKv:Tls:Cluster</c>), and certificates of another CA.</summary>
public sealed class TlsClusterFixture : IAsyncLifetime
{
    public ClusterCertificateFiles Certificates { get; } = new("RaftKv test cluster CA");

    public ClusterCertificateFiles Intruder { get; } = new("Intruder CA");

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var settings = Certificates.ClusterTlsSettings();
        settings["RaftKv:Peer:HandshakeTimeout"] = "00:00:01";
        Cluster = await TestCluster.StartAsync(settings: RaftPortTests.QuietElections(settings));
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Certificates.Dispose();
        Intruder.Dispose();
    }
}

/// <summary>
/// Mutual TLS on the Raft port and the peer channel: the cluster elects and replicates over it; plaintext, even with the
/// cluster secret, is refused on both ports, and so is a certificate of another CA in either direction; a node holding
/// one, configured as a member, never joins and never causes an election.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTlsTests(TlsClusterFixture fixture) : IClassFixture<TlsClusterFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task The_cluster_elects_and_replicates_over_mutual_TLS_and_followers_forward_over_it()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        Assert.True(Cluster.Service<PeerConnectionSecurity>(leader).UsesTls);
        var follower = (leader + 1) % Cluster.Size;
        await using (var client = await Cluster.ConnectAsync(follower))
        {
            // Forwarded to the leader over the peer channel, replicated over the Raft port.
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "tls:k", "v"));
        }

        await Cluster.WaitForConvergenceAsync();
        for (var node = 0; node < Cluster.Size; node++)
        {
            await using var client = await Cluster.ConnectAsync(node);
            Assert.Equal(Reply.FromBulk("v"), await client.CallAsync("GET", "tls:k"));
        }

        Assert.True(Cluster.Service<AuthenticatedRaftTransport>(follower).ConnectionsAccepted > 0);
    }

    [Fact]
    public async Task Plaintext_with_the_cluster_secret_is_refused_on_the_Raft_and_peer_ports_while_TLS_with_the_cluster_CA_is_accepted()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var secret = new ClusterSecret(Cluster.Secret);
        var plaintext = new PeerConnectionSecurity(secret, tls: null);
        var member = new PeerConnectionSecurity(secret, ClusterTls.FromOptions(Options(fixture.Certificates, fixture.Certificates)));
        foreach (var (port, channel) in Ports(leader))
        {
            var refused = Refused(leader, channel);
            await Assert.ThrowsAnyAsync<Exception>(() => OpenAsync(plaintext, port, channel));
            await WaitUntilAsync(() => Refused(leader, channel) > refused, $"{channel}: the plaintext connection was not counted as refused");

            // Control: the same secret inside TLS with a certificate of the cluster CA gets in.
            await OpenAsync(member, port, channel);
        }
    }

    [Fact]
    public async Task A_certificate_of_another_CA_is_refused_in_both_directions()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var secret = new ClusterSecret(Cluster.Secret);

        // Presenting an intruder's certificate (while trusting the cluster CA): the member refuses it.
        var presenting = new PeerConnectionSecurity(secret, ClusterTls.FromOptions(Options(fixture.Intruder, fixture.Certificates)));

        // Presenting the cluster's certificate but trusting only the intruder CA: this side refuses the member.
        var trusting = new PeerConnectionSecurity(secret, ClusterTls.FromOptions(Options(fixture.Certificates, fixture.Intruder)));
        foreach (var (port, channel) in Ports(leader))
        {
            var refused = Refused(leader, channel);
            await Assert.ThrowsAsync<PeerHandshakeException>(() => OpenAsync(presenting, port, channel));
            await WaitUntilAsync(() => Refused(leader, channel) > refused, $"{channel}: the intruder's certificate was not refused by the member");
            await Assert.ThrowsAsync<PeerHandshakeException>(() => OpenAsync(trusting, port, channel));
        }
    }

    [Fact]
    public async Task A_cluster_certificate_without_the_clientAuth_usage_is_refused_as_a_client_and_one_without_any_usage_is_accepted()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var secret = new ClusterSecret(Cluster.Secret);
        var (serverOnlyCert, serverOnlyKey) = fixture.Certificates.Issue("server-only", [ClusterCertificateFiles.ServerAuth]);
        var (anyUseCert, anyUseKey) = fixture.Certificates.Issue("any-use", []);
        var serverOnly = new PeerConnectionSecurity(secret, ClusterTls.FromOptions(new TlsOptions
        {
            Cluster = true, CertFile = serverOnlyCert, KeyFile = serverOnlyKey, ClusterCaCertFile = fixture.Certificates.CaFile,
        }));
        var anyUse = new PeerConnectionSecurity(secret, ClusterTls.FromOptions(new TlsOptions
        {
            Cluster = true, CertFile = anyUseCert, KeyFile = anyUseKey, ClusterCaCertFile = fixture.Certificates.CaFile,
        }));
        foreach (var (port, channel) in Ports(leader))
        {
            await Assert.ThrowsAsync<PeerHandshakeException>(() => OpenAsync(serverOnly, port, channel));
            await OpenAsync(anyUse, port, channel);
        }
    }

    [Fact]
    public async Task A_node_with_a_certificate_of_another_CA_configured_as_a_member_never_joins_and_causes_no_election()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var before = await RaftPortTests.SteadyAsync(Cluster, leader);
        var refused = Enumerable.Range(0, Cluster.Size).Sum(n => Cluster.Service<AuthenticatedRaftTransport>(n).ConnectionsRefused);

        // A fourth member in its own eyes, with the cluster's secret but a certificate of another CA.
        var ports = LoopbackPorts.Free(3);
        var data = Path.Combine(Path.GetTempPath(), "raftkv-tests", Guid.NewGuid().ToString("N"));
        var settings = fixture.Intruder.ClusterTlsSettings();
        settings["raft:publicEndPoint"] = $"tcp://127.0.0.1:{ports[1]}/";
        settings["raft:coldStart"] = "false";
        settings["raft:lowerElectionTimeout"] = "300";
        settings["raft:upperElectionTimeout"] = "600";
        settings["RaftKv:DataPath"] = data;
        settings["RaftKv:Resp:Port"] = ports[0].ToString(CultureInfo.InvariantCulture);
        settings["RaftKv:Peer:ClusterSecret"] = Cluster.Secret;
        settings["RaftKv:Peer:StartupCheckTimeout"] = "00:00:01";
        settings["Logging:LogLevel:Default"] = "Warning";
        for (var node = 0; node <= Cluster.Size; node++)
        {
            var (resp, raft, peer) = node < Cluster.Size
                ? (Cluster.RespPort(node), Cluster.RaftPort(node), Cluster.PeerPort(node))
                : (ports[0], ports[1], ports[2]);
            settings[$"RaftKv:Members:{node}:Raft"] = $"tcp://127.0.0.1:{raft}/";
            settings[$"RaftKv:Members:{node}:Resp"] = $"127.0.0.1:{resp}";
            settings[$"RaftKv:Members:{node}:Peer"] = $"127.0.0.1:{peer}";
        }

        var intruder = RaftKvNode.Build([], config => config.AddInMemoryCollection(settings));
        try
        {
            await RaftKvNode.StartAsync(intruder);

            // While it campaigns (election timeouts of 300-600 ms), the members' terms and leader stay put.
            await RaftPortTests.AssertUndisturbedAsync(Cluster, leader, before);
            await RaftPortTests.AssertUndisturbedAsync(Cluster, leader, before);
            Assert.Null(intruder.Services.GetRequiredService<IRaftCluster>().Leader);
            var refusedNow = Enumerable.Range(0, Cluster.Size).Sum(n => Cluster.Service<AuthenticatedRaftTransport>(n).ConnectionsRefused);
            Assert.True(refusedNow > refused, "the intruder never tried the members' Raft ports: the test proves nothing");
        }
        finally
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await intruder.StopAsync(timeout.Token);
            await intruder.DisposeAsync();
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    private (int Port, HandshakeChannel Channel)[] Ports(int node)
        => [(Cluster.RaftPort(node), HandshakeChannel.Raft), (Cluster.PeerPort(node), HandshakeChannel.Peer)];

    private long Refused(int node, HandshakeChannel channel) => channel == HandshakeChannel.Raft
        ? Cluster.Service<AuthenticatedRaftTransport>(node).ConnectionsRefused
        : Cluster.Service<PeerListener>(node).ConnectionsRefused;

    private static TlsOptions Options(ClusterCertificateFiles presented, ClusterCertificateFiles trusted) => new()
    {
        Cluster = true,
        CertFile = presented.CertFile,
        KeyFile = presented.KeyFile,
        ClusterCaCertFile = trusted.CaFile,
    };

    // Connects as a member would (TLS if configured, then the handshake) and reads nothing more.
    private static async Task OpenAsync(PeerConnectionSecurity security, int port, HandshakeChannel channel)
    {
        using var tcp = new TcpClient { NoDelay = true };
        using var timeout = new CancellationTokenSource(Patience);
        await tcp.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        await using var stream = await security.ConnectAsync(tcp.GetStream(), "127.0.0.1", channel, timeout.Token);
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
}
