using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RaftKv.Client.Transport;

/// <summary>
/// The client side of TLS, made once from <see cref="RaftKvTlsOptions"/>: certificates loaded, then a handshake per
/// connection.
/// </summary>
internal sealed class TlsConnector
{
    private const string ServerAuthUsage = "1.3.6.1.5.5.7.3.1";

    private readonly RaftKvTlsOptions options;
    private readonly X509Certificate2Collection trust = [];
    private readonly SslStreamCertificateContext? clientCertificate;

    private TlsConnector(RaftKvTlsOptions options)
    {
        this.options = options;
        if (options.CaCertificateFile is { } file)
            trust.ImportFromPemFile(file);
        if (options.CaCertificate is { } ca)
            trust.Add(ca);
        if (options.CaCertificateFile is not null && trust.Count == 0)
            throw new ArgumentException($"The CA certificate file '{options.CaCertificateFile}' holds no PEM certificate.", nameof(RaftKvClientOptions.Tls));

        var certificate = options.ClientCertificate;
        if (certificate is null && options.ClientCertificateFile is { } certFile && options.ClientKeyFile is { } keyFile)
        {
            certificate = options.ClientKeyPassword is { } password
                ? X509Certificate2.CreateFromEncryptedPemFile(certFile, password, keyFile)
                : X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }

        // A context is always sent when the server asks, whatever CA names the server lists.
        clientCertificate = certificate is null ? null : SslStreamCertificateContext.Create(certificate, null);
    }

    /// <summary>Loads the certificates; null when TLS is off.</summary>
    /// <exception cref="ArgumentException">A file does not hold what it should.</exception>
    public static TlsConnector? Create(RaftKvTlsOptions options)
    {
        if (!options.Enabled)
            return null;
        try
        {
            return new TlsConnector(options);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"The TLS certificate files cannot be used: {e.Message}", nameof(RaftKvClientOptions.Tls), e);
        }
    }

    /// <summary>Runs the handshake over <paramref name="transport"/> to <paramref name="host"/>; the stream owns the transport.</summary>
    public async Task<SslStream> AuthenticateAsync(Stream transport, string host, CancellationToken cancellationToken)
    {
        var stream = new SslStream(transport, leaveInnerStreamOpen: false);
        var authentication = new SslClientAuthenticationOptions
        {
            TargetHost = options.TargetHost ?? host,
            EnabledSslProtocols = options.Protocols,
            ClientCertificateContext = clientCertificate,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = options.RemoteCertificateValidation,
        };
        if (trust.Count > 0)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
            };
            policy.CustomTrustStore.AddRange(trust);
            policy.ApplicationPolicy.Add(new Oid(ServerAuthUsage));
            authentication.CertificateChainPolicy = policy;
        }

        try
        {
            await stream.AuthenticateAsClientAsync(authentication, cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
