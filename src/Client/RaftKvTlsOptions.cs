using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace RaftKv.Client;

/// <summary>
/// TLS to the nodes (<see cref="RaftKvClientOptions.Tls"/>): off unless <see cref="Enabled"/>. Every connection the
/// client opens, to any node, uses it; the nodes' addresses must then be their TLS ports (<c>RaftKv:Tls:Port</c>).
/// </summary>
public sealed class RaftKvTlsOptions
{
    /// <summary>Connect with TLS.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// A PEM file of the CA certificates the nodes' certificates must chain to. With it (or
    /// <see cref="CaCertificate"/>) only those are trusted; with neither, the system's trust store is.
    /// </summary>
    public string? CaCertificateFile { get; set; }

    /// <summary>A CA certificate the nodes' certificates must chain to, besides those in <see cref="CaCertificateFile"/>.</summary>
    public X509Certificate2? CaCertificate { get; set; }

    /// <summary>A client certificate with its private key, for nodes that require one (<c>tls-auth-clients yes</c>).</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>A PEM file holding the client certificate; used with <see cref="ClientKeyFile"/> when <see cref="ClientCertificate"/> is unset.</summary>
    public string? ClientCertificateFile { get; set; }

    /// <summary>The PEM file of <see cref="ClientCertificateFile"/>'s private key.</summary>
    public string? ClientKeyFile { get; set; }

    /// <summary>The password of an encrypted <see cref="ClientKeyFile"/>.</summary>
    public string? ClientKeyPassword { get; set; }

    /// <summary>
    /// The host name sent for SNI and checked against the node's certificate. Null (the default) uses the host of the
    /// address being connected to, an IP address or a DNS name, as the cluster advertises it.
    /// </summary>
    public string? TargetHost { get; set; }

    /// <summary>
    /// Decides instead of the built-in check whether a node's certificate is accepted. It is given the errors found
    /// against <see cref="CaCertificateFile"/>/<see cref="CaCertificate"/> (or the system store) and the host name.
    /// </summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidation { get; set; }

    /// <summary>The TLS versions offered: TLS 1.2 and 1.3 by default; nothing older is allowed.</summary>
    public SslProtocols Protocols { get; set; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    internal RaftKvTlsOptions Copy() => (RaftKvTlsOptions)MemberwiseClone();

    internal void Validate()
    {
        var set = CaCertificateFile is not null || CaCertificate is not null || ClientCertificate is not null
            || ClientCertificateFile is not null || ClientKeyFile is not null || TargetHost is not null || RemoteCertificateValidation is not null;
        if (!Enabled)
        {
            if (set)
                throw new ArgumentException($"TLS settings are given but {nameof(RaftKvClientOptions.Tls)}.{nameof(Enabled)} is false.", nameof(RaftKvClientOptions.Tls));
            return;
        }

        const SslProtocols allowed = SslProtocols.Tls12 | SslProtocols.Tls13;
        if (Protocols == SslProtocols.None || (Protocols & ~allowed) != 0)
            throw new ArgumentException($"{nameof(Protocols)} may hold only Tls12 and Tls13.", nameof(RaftKvClientOptions.Tls));
        if (CaCertificateFile is not null && !File.Exists(CaCertificateFile))
            throw new ArgumentException($"The CA certificate file '{CaCertificateFile}' does not exist.", nameof(RaftKvClientOptions.Tls));
        if (ClientCertificate is null && (ClientCertificateFile is null) != (ClientKeyFile is null))
            throw new ArgumentException($"{nameof(ClientCertificateFile)} and {nameof(ClientKeyFile)} go together.", nameof(RaftKvClientOptions.Tls));
        foreach (var file in new[] { ClientCertificateFile, ClientKeyFile })
        {
            if (ClientCertificate is null && file is not null && !File.Exists(file))
                throw new ArgumentException($"The client certificate file '{file}' does not exist.", nameof(RaftKvClientOptions.Tls));
        }

        if (ClientCertificate is { HasPrivateKey: false })
            throw new ArgumentException($"{nameof(ClientCertificate)} has no private key.", nameof(RaftKvClientOptions.Tls));
    }
}
