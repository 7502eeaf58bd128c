using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Tls;

/// <summary>TLS clients for the tests: trusting the test CA only, with or without a client certificate.</summary>
internal static class TlsTestClients
{
    public static SslClientAuthenticationOptions Options(TestCertificates certificates, TestCertificate? client, SslProtocols protocols = SslProtocols.None, bool resume = true)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(certificates.Ca.Certificate);
        return new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            CertificateChainPolicy = policy,
            EnabledSslProtocols = protocols,
            AllowTlsResume = resume,
            ClientCertificateContext = client is null ? null : SslStreamCertificateContext.Create(client.Certificate, null),
        };
    }

    public static async Task<RespTestClient> ConnectAsync(int port, TestCertificates certificates, TestCertificate? client, bool resume = true)
    {
        var connection = await RespTestClient.ConnectTlsAsync(port, Options(certificates, client, resume: resume));
        connection.ReplyTimeout = TimeSpan.FromSeconds(10);
        return connection;
    }

    /// <summary>
    /// Asserts that the server refuses the client: the handshake fails, or (TLS 1.3, where the server judges the
    /// client's certificate after the client has finished) the first request gets no reply but a closed connection.
    /// </summary>
    public static async Task AssertRefusedAsync(int port, SslClientAuthenticationOptions options)
    {
        var failure = await Record.ExceptionAsync(async () =>
        {
            await using var connection = await RespTestClient.ConnectTlsAsync(port, options);
            connection.ReplyTimeout = TimeSpan.FromSeconds(10);
            var reply = await connection.CallAsync("PING");
            Assert.Fail($"The server answered {reply} to a client it should have refused.");
        });
        Assert.NotNull(failure);
        Assert.True(failure is AuthenticationException or IOException, $"Expected a TLS refusal, got {failure}");
    }

    public static async Task AssertServesAsync(int port, TestCertificates certificates, TestCertificate? client)
    {
        await using var connection = await ConnectAsync(port, certificates, client);
        Assert.Equal(Reply.Status("PONG"), await connection.CallAsync("PING"));
    }
}
