using RaftKv.Client.Tests.Fakes;
using RaftKv.Testing;
using static RaftKv.Client.Tests.Cluster.ClusterClients;

namespace RaftKv.Client.Tests.Cluster;

/// <summary>
/// The client over TLS against a three-node cluster serving RESP on TLS only (client certificates required), with
/// credentials: discovery, writes and a leader kill.
/// </summary>
[Collection(ClientClusterCollection.Name)]
public sealed class TlsClusterTests : IDisposable
{
    private readonly TestCertificates certificates = TestCertificates.Create();

    public void Dispose() => certificates.Dispose();

    private Task<TestCluster> StartTlsClusterAsync(string? requirePass = null)
    {
        var settings = certificates.NodeSettings("{RespPort}");
        settings["RaftKv:Resp:Port"] = "0";
        if (requirePass is not null)
            settings["RaftKv:Security:RequirePass"] = requirePass;
        return TestCluster.StartAsync(settings: settings);
    }

    private RaftKvClientOptions TlsOptions(TestCluster cluster)
    {
        var options = Options(Endpoints(cluster));
        options.Tls.Enabled = true;
        options.Tls.CaCertificateFile = certificates.Ca.CertFile;
        options.Tls.ClientCertificateFile = certificates.Client.CertFile;
        options.Tls.ClientKeyFile = certificates.Client.KeyFile;
        (options.User, options.Password) = ("default", "any password");
        return options;
    }

    [Fact]
    public async Task Over_TLS_the_client_finds_the_leader_and_survives_its_loss()
    {
        await using var cluster = await StartTlsClusterAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var options = TlsOptions(cluster);
        options.Endpoints.Clear();
        options.Endpoints.Add(Endpoint(cluster, (leader + 1) % cluster.Size));
        await using var client = await RaftKvConnection.ConnectAsync(options);

        Assert.Equal(Endpoint(cluster, leader), client.Leader);
        Assert.True(await client.StringSetAsync("tls:greeting", "hello"));
        Assert.Equal("hello", await client.StringGetAsync("tls:greeting"));

        using var stop = new CancellationTokenSource();
        var written = 0L;
        var afterKill = 0L;
        var killed = 0;
        var worker = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await client.StringIncrementAsync("tls:counter");
                Interlocked.Increment(ref written);
                if (Volatile.Read(ref killed) == 1)
                    Interlocked.Increment(ref afterKill);
            }
        });
        await Eventually.TrueAsync(() => Interlocked.Read(ref written) >= 20 || worker.IsCompleted, "the workload gets going");
        await cluster.StopNodeAsync(leader);
        Volatile.Write(ref killed, 1);
        await Eventually.TrueAsync(() => Interlocked.Read(ref afterKill) >= 20 || worker.IsCompleted, "writes go on under the new leader");
        await stop.CancelAsync();
        await worker;

        Assert.NotEqual(Endpoint(cluster, leader), client.Leader);
        Assert.Equal(Interlocked.Read(ref written).ToString(System.Globalization.CultureInfo.InvariantCulture), await client.StringGetAsync("tls:counter"));
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_nodes_or_has_no_certificate_does_not_connect()
    {
        await using var cluster = await StartTlsClusterAsync();
        await cluster.WaitForLeaderAsync();

        var distrusting = TlsOptions(cluster);
        distrusting.Tls.CaCertificateFile = certificates.OtherCa.CertFile;
        distrusting.OperationTimeout = TimeSpan.FromSeconds(2);
        var e = await Assert.ThrowsAsync<RaftKvTimeoutException>(() => RaftKvConnection.ConnectAsync(distrusting));
        Assert.Contains("certificate", e.Message, StringComparison.OrdinalIgnoreCase);

        var anonymous = TlsOptions(cluster);
        (anonymous.Tls.ClientCertificateFile, anonymous.Tls.ClientKeyFile) = (null, null);
        anonymous.OperationTimeout = TimeSpan.FromSeconds(2);
        await Assert.ThrowsAsync<RaftKvTimeoutException>(() => RaftKvConnection.ConnectAsync(anonymous));

        // The escape hatch decides alone: here it accepts the node's certificate whatever the CA says.
        var hatch = TlsOptions(cluster);
        hatch.Tls.CaCertificateFile = certificates.OtherCa.CertFile;
        hatch.Tls.RemoteCertificateValidation = (_, certificate, _, _) => certificate?.GetCertHashString() == certificates.Node.Certificate.GetCertHashString();
        await using var client = await RaftKvConnection.ConnectAsync(hatch);
        Assert.True(await client.StringSetAsync("tls:hatch", "1"));
    }

    [Fact]
    public async Task Against_nodes_requiring_a_password_the_credentials_are_sent_on_every_connection_and_a_wrong_one_is_final()
    {
        await using var cluster = await StartTlsClusterAsync(requirePass: "cluster-pass");
        var leader = await cluster.WaitForLeaderAsync();

        var wrong = TlsOptions(cluster);
        (wrong.User, wrong.Password) = (null, "not-it");
        var refused = await Assert.ThrowsAsync<RaftKvAuthenticationException>(() => RaftKvConnection.ConnectAsync(wrong));
        Assert.StartsWith("WRONGPASS", refused.Error, StringComparison.Ordinal);

        var admin = TlsOptions(cluster);
        (admin.User, admin.Password) = (null, "cluster-pass");
        await using var client = await RaftKvConnection.ConnectAsync(admin);
        Assert.True(await client.StringSetAsync("app:key", "1"));
        Assert.Equal("OK", (await client.ExecuteAsync("ACL", "SETUSER", "app", "on", ">app-pass", "~app:*", "+@all")).AsString());

        // A user defined through one connection logs in on any node, and again after the leader is gone.
        var app = TlsOptions(cluster);
        (app.User, app.Password) = ("app", "app-pass");
        await using var appClient = await RaftKvConnection.ConnectAsync(app);
        Assert.Equal("1", await appClient.StringGetAsync("app:key"));
        await cluster.StopNodeAsync(leader);
        Assert.True(await appClient.StringSetAsync("app:after", "2"));
        Assert.Equal("2", await client.StringGetAsync("app:after"));
        var denied = await Assert.ThrowsAsync<RaftKvServerException>(() => appClient.StringSetAsync("other:key", "x"));
        Assert.Equal("NOPERM", denied.Prefix);
    }
}
