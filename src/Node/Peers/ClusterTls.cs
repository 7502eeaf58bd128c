using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RaftKv.Node.Tls;

namespace RaftKv.Node.Peers;

/// <summary>
/// Mutual TLS between members (<c>RaftKv:Tls:Cluster=true</c>): this node's certificate (<c>CertFile</c>/<c>KeyFile</c>)
/// is both its server and its client certificate, and a peer is accepted, in either direction, only if its certificate
/// chains to the cluster CA (<c>ClusterCaCertFile</c>, else <c>CaCertFile</c>) — that CA alone, not the system store.
/// </summary>
/// <remarks>
/// Host names are not checked: a member is whoever holds a certificate of the cluster CA (and, inside TLS, the
/// cluster secret). Certificates are read once, at start; replacing them needs a restart.
/// </remarks>
public sealed class ClusterTls
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2Collection authority;
    private readonly SslStreamCertificateContext certificate;

    private ClusterTls(X509Certificate2 certificate, X509Certificate2Collection authority)
    {
        this.authority = authority;
        this.certificate = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        Certificate = certificate;
    }

    /// <summary>This node's certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>
    /// The cluster TLS settings of <paramref name="options"/>, or null when <c>Cluster</c> is off.
    /// </summary>
    /// <exception cref="NodeStartupException">A file is missing or unreadable; the message names the setting.</exception>
    public static ClusterTls? FromOptions(TlsOptions options)
    {
        if (!options.Cluster)
            return null;
        const string Section = "RaftKv:Tls";
        var certFile = Require(options.CertFile, $"{Section}:CertFile");
        var keyFile = Require(options.KeyFile, $"{Section}:KeyFile");
        var caFile = Require(options.ClusterCaCertFile ?? options.CaCertFile, $"{Section}:ClusterCaCertFile (or CaCertFile)");
        try
        {
            var certificate = string.IsNullOrEmpty(options.KeyFilePassword)
                ? X509Certificate2.CreateFromPemFile(certFile, keyFile)
                : X509Certificate2.CreateFromEncryptedPemFile(certFile, options.KeyFilePassword, keyFile);
            var authority = new X509Certificate2Collection();
            authority.ImportFromPemFile(caFile);
            if (authority.Count == 0)
                throw new NodeStartupException($"{Section}:ClusterCaCertFile '{caFile}' holds no certificate.");
            return new ClusterTls(certificate, authority);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new NodeStartupException($"{Section}: the cluster certificate, key or CA cannot be loaded ({certFile}, {keyFile}, {caFile}): {e.Message}");
        }

        static string Require(string? value, string name) => string.IsNullOrEmpty(value)
            ? throw new NodeStartupException($"{name} is not set: RaftKv:Tls:Cluster=true needs this node's certificate, its key and the cluster CA.")
            : value;
    }

    /// <summary>Options for accepting a member: this node's certificate, a client certificate of the cluster CA required.</summary>
    public SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificateContext = certificate,
        ClientCertificateRequired = true,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, presented, chain, _) => ChainsToCluster(presented, chain, ClientAuth),
    };

    /// <summary>Options for connecting to a member: this node's certificate as client certificate, the server's checked the same way.</summary>
    public SslClientAuthenticationOptions ClientOptions(string targetHost) => new()
    {
        TargetHost = targetHost,
        ClientCertificateContext = certificate,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, presented, chain, _) => ChainsToCluster(presented, chain, ServerAuth),
    };

    // The system's verdict (its trust store, the host name) is ignored: only a chain to the cluster CA counts, and the
    // certificate must allow the use it is put to (no EKU extension allows every use).
    private bool ChainsToCluster(X509Certificate? presented, X509Chain? presentedChain, Oid usage)
    {
        if (presented is null)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(usage);
        if (presentedChain is not null)
        {
            foreach (var element in presentedChain.ChainElements.Skip(1))
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }

        using var leaf = new X509Certificate2(presented);
        return chain.Build(leaf);
    }
}
