using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;
using RaftKv.Testing;
using StackExchange.Redis;

namespace RaftKv.Node.Tests.Tls;

/// <summary>A one-node cluster serving RESP over TLS only (<c>RaftKv:Resp:Port=0</c>), client certificates required.</summary>
public sealed class TlsNodeFixture : IAsyncLifetime
{
    public TestCertificates Certificates { get; } = TestCertificates.Create();

    public TestCluster Cluster { get; private set; } = null!;

    public int Port => Cluster.RespPort(0);

    public async Task InitializeAsync()
    {
        var settings = Certificates.NodeSettings("{RespPort}");
        settings["RaftKv:Resp:Port"] = "0";
        settings["RaftKv:Tls:HandshakeTimeout"] = "00:00:02";
        Cluster = await TestCluster.StartAsync(size: 1, settings: settings);
        await Cluster.WaitForLeaderAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Certificates.Dispose();
    }
}

public sealed class RespTlsTests(TlsNodeFixture fixture) : IClassFixture<TlsNodeFixture>
{
    private TestCertificates Certificates => fixture.Certificates;

    [Fact]
    public async Task A_client_trusting_the_CA_runs_SET_and_GET_over_TLS()
    {
        await using var client = await TlsTestClients.ConnectAsync(fixture.Port, Certificates, Certificates.Client);

        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "tls:key", "value"));
        Assert.Equal(Reply.FromBulk("value"), await client.CallAsync("GET", "tls:key"));
        Assert.Equal(Certificates.Node.Certificate.Thumbprint, new X509Certificate2(client.RemoteCertificate!).Thumbprint);
    }

    [Fact]
    public async Task QUIT_over_TLS_answers_OK_then_closes_in_order()
    {
        await using var client = await TlsTestClients.ConnectAsync(fixture.Port, Certificates, Certificates.Client);

        Assert.Equal(Reply.Ok, await client.CallAsync("QUIT"));
        await Assert.ThrowsAsync<EndOfStreamException>(() => client.ReadReplyAsync());
        await TlsTestClients.AssertServesAsync(fixture.Port, Certificates, Certificates.Client);
    }

    [Fact]
    public async Task CLIENT_LIST_shows_a_TLS_client_s_address()
    {
        await using var client = await TlsTestClients.ConnectAsync(fixture.Port, Certificates, Certificates.Client);

        var list = Encoding.UTF8.GetString((await client.CallAsync("CLIENT", "LIST")).Bulk!);

        Assert.Contains($"laddr=127.0.0.1:{fixture.Port}", list, StringComparison.Ordinal);
        Assert.Contains("addr=127.0.0.1:", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_node_reports_its_TLS_port_and_no_plaintext_port()
    {
        Assert.Equal(0, fixture.Cluster.Service<RespServer>(0).Port);
        Assert.Equal(fixture.Port, fixture.Cluster.Service<RespServer>(0).TlsPort);
        await using var client = await TlsTestClients.ConnectAsync(fixture.Port, Certificates, Certificates.Client);
        var info = Encoding.UTF8.GetString((await client.CallAsync("INFO", "server")).Bulk!);
        Assert.Contains("tcp_port:0\r\n", info, StringComparison.Ordinal);
        Assert.Contains($"tls_port:{fixture.Port}\r\n", info, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plaintext_client_on_the_TLS_port_fails_and_the_server_keeps_serving()
    {
        await using (var plain = await RespTestClient.ConnectAsync(fixture.Port))
        {
            plain.ReplyTimeout = TimeSpan.FromSeconds(10);
            await plain.SendAsync("PING");
            var failure = await Record.ExceptionAsync(() => plain.ReadReplyAsync());
            Assert.True(failure is EndOfStreamException or IOException or InvalidDataException, $"Expected the connection dropped, got {failure?.ToString() ?? "a reply"}");
        }

        await TlsTestClients.AssertServesAsync(fixture.Port, Certificates, Certificates.Client);
    }

    [Fact]
    public async Task A_client_that_never_finishes_its_handshake_is_dropped()
    {
        using var silent = new TcpClient();
        await silent.ConnectAsync("127.0.0.1", fixture.Port);
        var stream = silent.GetStream();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var started = Stopwatch.StartNew();

        // HandshakeTimeout is 2 s in this fixture: the server closes the socket, the read sees the end of the stream.
        var read = await stream.ReadAsync(new byte[16], wait.Token);

        Assert.Equal(0, read);
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
        await TlsTestClients.AssertServesAsync(fixture.Port, Certificates, Certificates.Client);
    }

    [Fact]
    public async Task With_AuthClients_Yes_a_client_without_a_certificate_is_refused()
    {
        await TlsTestClients.AssertRefusedAsync(fixture.Port, TlsTestClients.Options(Certificates, client: null));
        await TlsTestClients.AssertServesAsync(fixture.Port, Certificates, Certificates.Client);
    }

    [Fact]
    public async Task With_AuthClients_Yes_a_certificate_from_another_CA_is_refused_and_the_right_one_accepted()
    {
        await TlsTestClients.AssertRefusedAsync(fixture.Port, TlsTestClients.Options(Certificates, Certificates.OtherClient));
        await TlsTestClients.AssertRefusedAsync(fixture.Port, TlsTestClients.Options(Certificates, Certificates.OtherNode));
        await TlsTestClients.AssertServesAsync(fixture.Port, Certificates, Certificates.Client);
        await TlsTestClients.AssertServesAsync(fixture.Port, Certificates, Certificates.Node);
    }

    [Fact]
    public async Task TLS_older_than_1_2_is_refused()
    {
        // SslProtocols.Tls11 (obsolete in .NET, hence the number). The local OpenSSL may refuse to even offer it; the
        // connection fails either way, and the server offers only 1.2 and 1.3.
        const SslProtocols tls11 = (SslProtocols)0x300;
        await TlsTestClients.AssertRefusedAsync(fixture.Port, TlsTestClients.Options(Certificates, Certificates.Client, tls11));

        await using var tls12 = await RespTestClient.ConnectTlsAsync(fixture.Port, TlsTestClients.Options(Certificates, Certificates.Client, SslProtocols.Tls12));
        Assert.Equal(Reply.Status("PONG"), await tls12.CallAsync("PING"));
    }

    [Fact]
    public async Task The_client_must_trust_the_node_certificate()
    {
        var distrusting = TlsTestClients.Options(Certificates, Certificates.Client);
        distrusting.CertificateChainPolicy!.CustomTrustStore.Clear();
        distrusting.CertificateChainPolicy.CustomTrustStore.Add(Certificates.OtherCa.Certificate);

        await Assert.ThrowsAsync<AuthenticationException>(() => RespTestClient.ConnectTlsAsync(fixture.Port, distrusting));
    }

    [Fact]
    public async Task StackExchange_Redis_with_ssl_works_against_a_TLS_node()
    {
        var options = new ConfigurationOptions
        {
            Ssl = true,
            SslHost = "localhost",
            AbortOnConnectFail = false,
            ConnectTimeout = 10_000,
            SyncTimeout = 10_000,
            AsyncTimeout = 10_000,
        };
        options.EndPoints.Add($"127.0.0.1:{fixture.Port}");
        options.CertificateValidation += (_, certificate, _, errors) => ChainsToTestCa(certificate, errors);
        options.CertificateSelection += (_, _, _, _, _) => Certificates.Client.Certificate;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!redis.GetServers().Any(static s => s.IsConnected && !s.IsReplica) && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        var db = redis.GetDatabase();

        Assert.True(await db.StringSetAsync("tls:se", "value"));
        Assert.Equal("value", (string?)await db.StringGetAsync("tls:se"));
        Assert.True(await db.LockTakeAsync("tls:se:lock", "me", TimeSpan.FromSeconds(30)));
        Assert.True(await db.LockReleaseAsync("tls:se:lock", "me"));
    }

    [Fact]
    public async Task Redis_cli_with_tls_answers_PONG()
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
        {
            "--tls", "--cacert", Certificates.Ca.CertFile, "--cert", Certificates.Client.CertFile, "--key", Certificates.Client.KeyFile,
            "-h", "127.0.0.1", "-p", fixture.Port.ToString(CultureInfo.InvariantCulture), "PING",
        })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = await process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, $"redis-cli exited {process.ExitCode}: {error}");
        Assert.Equal("PONG", output.Trim());
    }

    private bool ChainsToTestCa(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(Certificates.Ca.Certificate);
        return chain.Build(new X509Certificate2(certificate));
    }
}
