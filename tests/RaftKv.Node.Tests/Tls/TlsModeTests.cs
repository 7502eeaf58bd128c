using System.Security.Cryptography.X509Certificates;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Tls;

/// <summary><c>AuthClients</c> Optional and No, TLS beside plaintext, and certificates reloaded without a restart.</summary>
public sealed class TlsModeTests : IDisposable
{
    private readonly TestCertificates certificates = TestCertificates.Create();

    public void Dispose() => certificates.Dispose();

    [Fact]
    public async Task With_AuthClients_Optional_a_client_without_a_certificate_is_accepted_and_a_wrong_one_refused()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: certificates.NodeSettings("{TlsPort}", "Optional"));
        var port = cluster.TlsPort(0);

        await TlsTestClients.AssertServesAsync(port, certificates, client: null);
        await TlsTestClients.AssertServesAsync(port, certificates, certificates.Client);
        await TlsTestClients.AssertRefusedAsync(port, TlsTestClients.Options(certificates, certificates.OtherClient));
    }

    [Fact]
    public async Task With_AuthClients_No_no_certificate_is_asked_for_and_plaintext_still_works_beside_TLS()
    {
        var settings = certificates.NodeSettings("{TlsPort}", "No");
        settings.Remove("RaftKv:Tls:CaCertFile");
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: settings);
        await cluster.WaitForLeaderAsync();

        await using var tls = await TlsTestClients.ConnectAsync(cluster.TlsPort(0), certificates, client: null);
        Assert.Equal(Reply.Ok, await tls.CallAsync("SET", "both", "tls"));
        await using var plain = await cluster.ConnectAsync(0);
        Assert.Equal(Reply.FromBulk("tls"), await plain.CallAsync("GET", "both"));
        Assert.Equal(cluster.RespPort(0), cluster.Service<RespServer>(0).Port);
        Assert.Equal(cluster.TlsPort(0), cluster.Service<RespServer>(0).TlsPort);
    }

    [Fact]
    public async Task Handshakes_under_way_are_bounded_by_maxclients()
    {
        var settings = certificates.NodeSettings("{TlsPort}");
        settings["RaftKv:Limits:MaxClients"] = "2";
        settings["RaftKv:Tls:HandshakeTimeout"] = "00:00:03";
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: settings);
        var port = cluster.TlsPort(0);

        // Two connections that never start their handshake hold both places; a third is closed at once.
        using var first = new System.Net.Sockets.TcpClient();
        using var second = new System.Net.Sockets.TcpClient();
        await first.ConnectAsync("127.0.0.1", port);
        await second.ConnectAsync("127.0.0.1", port);
        await Task.Delay(200);
        using var third = new System.Net.Sockets.TcpClient();
        await third.ConnectAsync("127.0.0.1", port);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        Assert.Equal(0, await third.GetStream().ReadAsync(new byte[1], wait.Token));

        // Once the silent ones are dropped by the handshake timeout, clients get in again.
        Assert.Equal(0, await first.GetStream().ReadAsync(new byte[1], CancellationToken.None));
        Assert.Equal(0, await second.GetStream().ReadAsync(new byte[1], CancellationToken.None));
        await TlsTestClients.AssertServesAsync(port, certificates, certificates.Client);
    }

    [Fact]
    public async Task Replaced_certificate_files_are_served_to_new_connections_and_a_broken_replacement_keeps_the_old_one()
    {
        // The node reads its own copies, which the test then replaces as a certificate renewal would.
        var certFile = Path.Combine(certificates.Directory, "served.crt");
        var keyFile = Path.Combine(certificates.Directory, "served.key");
        certificates.Node.CopyTo(certFile, keyFile);
        var settings = certificates.NodeSettings("{TlsPort}");
        settings["RaftKv:Tls:CertFile"] = certFile;
        settings["RaftKv:Tls:KeyFile"] = keyFile;
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: settings);
        var port = cluster.TlsPort(0);
        Assert.Equal(certificates.Node.Certificate.Thumbprint, await ServedThumbprintAsync(port));

        var renewed = certificates.Ca.IssueNode("renewed");
        renewed.CopyTo(certFile, keyFile);
        await WaitUntilServedAsync(port, renewed.Certificate.Thumbprint);

        // A certificate whose key does not fit, then a file that is not PEM: each is refused, the renewed one stays.
        var third = certificates.Ca.IssueNode("third");
        File.Copy(third.CertFile, certFile, overwrite: true);
        await Task.Delay(TlsCredentialCheckWait);
        Assert.Equal(renewed.Certificate.Thumbprint, await ServedThumbprintAsync(port));
        await File.WriteAllTextAsync(certFile, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
        await Task.Delay(TlsCredentialCheckWait);
        Assert.Equal(renewed.Certificate.Thumbprint, await ServedThumbprintAsync(port));

        // Fixed files are picked up again.
        third.CopyTo(certFile, keyFile);
        await WaitUntilServedAsync(port, third.Certificate.Thumbprint);
    }

    [Fact]
    public async Task A_replaced_CA_file_decides_which_client_certificates_new_connections_accept()
    {
        var caFile = Path.Combine(certificates.Directory, "trusted-ca.crt");
        File.Copy(certificates.Ca.CertFile, caFile);
        var settings = certificates.NodeSettings("{TlsPort}");
        settings["RaftKv:Tls:CaCertFile"] = caFile;
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: settings);
        var port = cluster.TlsPort(0);
        await TlsTestClients.AssertRefusedAsync(port, TlsTestClients.Options(certificates, certificates.OtherClient));

        // Both CAs in the file: the other CA's clients get in too.
        await File.WriteAllTextAsync(caFile, certificates.Ca.Certificate.ExportCertificatePem() + "\n" + certificates.OtherCa.Certificate.ExportCertificatePem() + "\n");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                await TlsTestClients.AssertServesAsync(port, certificates, certificates.OtherClient);
                break;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }

        await TlsTestClients.AssertServesAsync(port, certificates, certificates.Client);
    }

    // Longer than the files' check interval (1 s), so a reload would have happened.
    private static readonly TimeSpan TlsCredentialCheckWait = TimeSpan.FromSeconds(2.5);

    private async Task<string> ServedThumbprintAsync(int port)
    {
        await using var client = await TlsTestClients.ConnectAsync(port, certificates, certificates.Client, resume: false);
        Assert.Equal(Reply.Status("PONG"), await client.CallAsync("PING"));
        return new X509Certificate2(client.RemoteCertificate!).Thumbprint;
    }

    private async Task WaitUntilServedAsync(int port, string thumbprint)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        string served;
        while ((served = await ServedThumbprintAsync(port)) != thumbprint && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        Assert.Equal(thumbprint, served);
    }
}
