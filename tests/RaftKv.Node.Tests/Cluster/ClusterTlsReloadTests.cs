using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using RaftKv.Node.Tests.Peers;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Member certificates renewed without a restart: after the node's certificate files are replaced, the next connection
/// to its Raft and peer ports presents the new certificate, the cluster keeps replicating, and a broken replacement
/// leaves the last good certificate in use.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTlsReloadTests
{
    [Fact]
    public async Task Replaced_member_certificate_files_are_used_by_the_next_connection_and_a_broken_replacement_changes_nothing()
    {
        using var certificates = new ClusterCertificateFiles("RaftKv reload test CA");
        await using var cluster = await TestCluster.StartAsync(settings: certificates.ClusterTlsSettings());
        var leader = await cluster.WaitForLeaderAsync();
        var before = await PresentedAsync(cluster.PeerPort(leader));
        Assert.Equal(before, await PresentedAsync(cluster.RaftPort(leader)));

        // A renewed certificate from the same CA, written over the files every node was started with.
        var (renewedCert, renewedKey) = certificates.Issue("renewed", [ClusterCertificateFiles.ServerAuth, ClusterCertificateFiles.ClientAuth]);
        File.Copy(renewedKey, certificates.KeyFile, overwrite: true);
        File.Copy(renewedCert, certificates.CertFile, overwrite: true);
        var renewed = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(renewedCert)).Thumbprint;
        Assert.NotEqual(before, renewed);

        await WaitForAsync(async () => await PresentedAsync(cluster.PeerPort(leader)) == renewed, "the peer port never presented the renewed certificate");
        await WaitForAsync(async () => await PresentedAsync(cluster.RaftPort(leader)) == renewed, "the Raft port never presented the renewed certificate");

        // Members reconnect with the renewed certificates: a restarted follower catches up and forwards writes.
        var follower = (leader + 1) % cluster.Size;
        await cluster.StopNodeAsync(follower);
        await cluster.StartNodeAsync(follower);
        await using (var client = await cluster.ConnectAsync(follower))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "reload:k", "v"));
        await cluster.WaitForConvergenceAsync();

        // A half-written replacement: the last good certificate stays in use.
        await File.WriteAllTextAsync(certificates.CertFile, "-----BEGIN CERTIFICATE-----\nnot a certificate\n");
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(renewed, await PresentedAsync(cluster.PeerPort(leader)));
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.FromBulk("v"), await client.CallAsync("GET", "reload:k"));
    }

    // The certificate a member's port presents in its TLS handshake (the handshake itself fails without a client
    // certificate of the cluster CA, after the server showed its own).
    private static async Task<string?> PresentedAsync(int port)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        string? presented = null;
        await using var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) =>
        {
            presented = certificate is null ? null : new X509Certificate2(certificate).Thumbprint;
            return true;
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1" }, timeout.Token);
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            // Refused for want of a client certificate: expected, the server's certificate was seen first.
        }

        return presented;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string failure)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(200);
        }
    }
}
