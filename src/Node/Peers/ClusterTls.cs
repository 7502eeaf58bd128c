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
/// cluster secret). Once <see cref="Reloading"/>, the files are read again when they change (as for RESP clients,
/// <see cref="TlsCredentialSource"/>): a renewed certificate or CA is used by the next connection between members,
/// open ones keep theirs, and a broken replacement leaves the previous credentials in use.
/// </remarks>
public sealed class ClusterTls
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly TlsFiles files;
    private readonly TlsCredentials initial;
    private readonly TlsCredentialSource? source;

    private ClusterTls(TlsFiles files, TlsCredentials initial, TlsCredentialSource? source)
    {
        this.files = files;
        this.initial = initial;
        this.source = source;
    }

    /// <summary>This node's certificate now.</summary>
    public X509Certificate2 Certificate => Current.Certificate;

    private TlsCredentials Current => source?.Current ?? initial;

    /// <summary>
    /// The cluster TLS settings of <paramref name="options"/>, or null when <c>Cluster</c> is off.
    /// </summary>
    /// <exception cref="NodeStartupException">A file is missing or unreadable; the message names the setting.</exception>
    public static ClusterTls? FromOptions(TlsOptions options)
    {
        if (!options.Cluster)
            return null;
        const string Section = "RaftKv:Tls";
        var files = new TlsFiles(
            Require(options.CertFile, $"{Section}:CertFile"),
            Require(options.KeyFile, $"{Section}:KeyFile"),
            string.IsNullOrEmpty(options.KeyFilePassword) ? null : options.KeyFilePassword,
            Require(options.EffectiveClusterCaCertFile, $"{Section}:ClusterCaCertFile (or CaCertFile)"));
        try
        {
            return new ClusterTls(files, TlsCredentials.Load(files), source: null);
        }
        catch (TlsFileException e)
        {
            throw new NodeStartupException($"{Section}: the cluster certificate, key or CA cannot be loaded: {e.Message}");
        }

        static string Require(string? value, string name) => string.IsNullOrEmpty(value)
            ? throw new NodeStartupException($"{name} is not set: RaftKv:Tls:Cluster=true needs this node's certificate, its key and the cluster CA.")
            : value;
    }

    /// <summary>The same settings, read again from their files whenever those change (checked at most once a second, on a new connection).</summary>
    public ClusterTls Reloading(TimeProvider time, ILogger logger) => new(files, initial, new TlsCredentialSource(files, initial, time, logger));

    /// <summary>Options for accepting a member: this node's certificate, a client certificate of the cluster CA required.</summary>
    public SslServerAuthenticationOptions ServerOptions()
    {
        var current = Current;
        return new()
        {
            ServerCertificateContext = current.Context,
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, presented, chain, _) => ChainsToCluster(current.Trust, presented, chain, ClientAuth),
        };
    }

    /// <summary>Options for connecting to a member: this node's certificate as client certificate, the server's checked the same way.</summary>
    public SslClientAuthenticationOptions ClientOptions(string targetHost)
    {
        var current = Current;
        return new()
        {
            TargetHost = targetHost,
            ClientCertificateContext = current.Context,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, presented, chain, _) => ChainsToCluster(current.Trust, presented, chain, ServerAuth),
        };
    }

    // The system's verdict (its trust store, the host name) is ignored: only a chain to the cluster CA counts, and the
    // certificate must allow the use it is put to (no EKU extension allows every use).
    private static bool ChainsToCluster(X509Certificate2Collection authority, X509Certificate? presented, X509Chain? presentedChain, Oid usage)
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
