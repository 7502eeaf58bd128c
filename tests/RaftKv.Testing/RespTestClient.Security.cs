using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using RaftKv.StateMachine;

namespace RaftKv.Testing;

/// <summary>
/// How a test client proves itself to a node with TLS or a password: PEM files (the CA that signed the node's
/// certificate, and the client's own certificate and key for <c>tls-auth-clients yes</c>), and the credentials sent
/// with <c>AUTH</c> right after connecting.
/// </summary>
public sealed record RespClientSecurity
{
    /// <summary>The CA certificate (PEM) the node's certificate must chain to; null for a plaintext connection.</summary>
    public string? CaCertFile { get; init; }

    /// <summary>The client's certificate (PEM), presented when the node asks for one.</summary>
    public string? CertFile { get; init; }

    /// <summary>The client certificate's private key (PEM).</summary>
    public string? KeyFile { get; init; }

    /// <summary>The user to authenticate as; null sends <c>AUTH password</c> (the default user).</summary>
    public string? User { get; init; }

    /// <summary>The password sent with <c>AUTH</c>; null sends no <c>AUTH</c>.</summary>
    public string? Password { get; init; }

    /// <summary>TLS with the CA, client certificate and key of a directory laid out as <c>local-cluster.sh</c> makes it.</summary>
    public static RespClientSecurity FromTlsDirectory(string directory, string? password = null) => new()
    {
        CaCertFile = Path.Combine(directory, "ca.crt"),
        CertFile = Path.Combine(directory, "client.crt"),
        KeyFile = Path.Combine(directory, "client.key"),
        Password = password,
    };
}

public sealed partial class RespTestClient
{
    /// <summary>
    /// Connects with TLS when <paramref name="security"/> names a CA (the node's certificate must chain to it and name
    /// <paramref name="host"/>), then sends <c>AUTH</c> when it has a password.
    /// </summary>
    /// <exception cref="IOException">The node refused the credentials.</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The TLS handshake failed.</exception>
    public static async Task<RespTestClient> ConnectAsync(string host, int port, RespClientSecurity? security, CancellationToken token = default)
    {
        if (security is null)
            return await ConnectAsync(host, port, token);

        var tcp = new TcpClient { NoDelay = true };
        RespTestClient? client = null;
        try
        {
            await tcp.ConnectAsync(host, port, token);
            Stream stream = tcp.GetStream();
            if (security.CaCertFile is { } caFile)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(TlsOptions(host, caFile, security), token);
            }

            client = new RespTestClient(tcp, stream);
            if (security.Password is { } password)
            {
                string[] auth = security.User is { } user ? ["AUTH", user, password] : ["AUTH", password];
                await client.SendAsync([[.. auth.Select(System.Text.Encoding.UTF8.GetBytes)]], token);
                var reply = await client.ReadReplyAsync(token);
                if (reply != Reply.Ok)
                    throw new IOException($"AUTH refused by {host}:{port}: {reply}");
            }

            return client;
        }
        catch
        {
            if (client is not null)
                await client.DisposeAsync();
            tcp.Dispose();
            throw;
        }
    }

    private static SslClientAuthenticationOptions TlsOptions(string host, string caFile, RespClientSecurity security)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(X509Certificate2.CreateFromPem(File.ReadAllText(caFile)));
        var options = new SslClientAuthenticationOptions { TargetHost = host, CertificateChainPolicy = policy };
        if (security.CertFile is { } certFile)
            options.ClientCertificates = [X509Certificate2.CreateFromPemFile(certFile, security.KeyFile)];
        return options;
    }
}
