using System.Security.Authentication;

namespace RaftKv.Node;

/// <summary>
/// TLS for clients and between members (configuration section <c>RaftKv:Tls</c>), named after Redis's <c>tls-*</c>
/// settings. Certificates and keys are PEM files; the server certificate and the CA are read again when their files
/// change, without a restart.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "RaftKv:Tls";

    /// <summary>The protocols used unless <see cref="Protocols"/> says otherwise: TLS 1.2 and 1.3.</summary>
    public const SslProtocols DefaultProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>
    /// The port of the TLS listener for RESP clients (Redis's <c>tls-port</c>); 0, the default, opens none. The
    /// plaintext listener stays on <c>RaftKv:Resp:Port</c>; set that to 0 to serve TLS only.
    /// </summary>
    public int Port { get; set; }

    /// <summary>This node's certificate, PEM (Redis's <c>tls-cert-file</c>); the certificates after the first are its chain.</summary>
    public string? CertFile { get; set; }

    /// <summary>The certificate's private key, PEM (Redis's <c>tls-key-file</c>).</summary>
    public string? KeyFile { get; set; }

    /// <summary>The password of an encrypted <see cref="KeyFile"/> (Redis's <c>tls-key-file-pass</c>); null for a plain key.</summary>
    public string? KeyFilePassword { get; set; }

    /// <summary>
    /// The certificates, PEM, that clients' certificates must chain to (Redis's <c>tls-ca-cert-file</c>). Only these
    /// are trusted, never the system's store. Required unless <see cref="AuthClients"/> is <see cref="TlsAuthClients.No"/>.
    /// </summary>
    public string? CaCertFile { get; set; }

    /// <summary>Whether a client must present a certificate (Redis's <c>tls-auth-clients</c>); <see cref="TlsAuthClients.Yes"/> by default, as in Redis.</summary>
    public TlsAuthClients AuthClients { get; set; } = TlsAuthClients.Yes;

    /// <summary>
    /// The TLS versions offered (Redis's <c>tls-protocols</c>), e.g. <c>Tls12, Tls13</c> or <c>Tls13</c>; TLS 1.2 and
    /// 1.3 by default. Nothing older than TLS 1.2 is accepted.
    /// </summary>
    public SslProtocols Protocols { get; set; } = DefaultProtocols;

    /// <summary>How long a new client connection may take to finish its TLS handshake before it is dropped.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Mutual TLS between members (Redis's <c>tls-cluster</c>): the Raft transport and the peer channel present
    /// <see cref="CertFile"/> and require the peers' certificates to chain to <see cref="EffectiveClusterCaCertFile"/>.
    /// </summary>
    public bool Cluster { get; set; }

    /// <summary>The CA members' certificates must chain to when <see cref="Cluster"/> is on; defaults to <see cref="CaCertFile"/>.</summary>
    public string? ClusterCaCertFile { get; set; }

    /// <summary><see cref="ClusterCaCertFile"/>, or <see cref="CaCertFile"/> when that is unset.</summary>
    public string? EffectiveClusterCaCertFile => string.IsNullOrEmpty(ClusterCaCertFile) ? CaCertFile : ClusterCaCertFile;
}

/// <summary>Whether a TLS client must present a certificate (Redis's <c>tls-auth-clients yes|no|optional</c>).</summary>
public enum TlsAuthClients
{
    /// <summary>A certificate chaining to the CA is required; a client without one is refused.</summary>
    Yes,

    /// <summary>No certificate is asked for.</summary>
    No,

    /// <summary>A certificate is asked for, and verified when the client presents one; a client without one is accepted.</summary>
    Optional,
}
