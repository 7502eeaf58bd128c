namespace RaftKv.Node.Tls;

/// <summary>Whether a TLS client must present a certificate (Redis's <c>tls-auth-clients</c>).</summary>
public enum AuthClients
{
    /// <summary>A client certificate signed by the CA is required.</summary>
    Yes,

    /// <summary>No client certificate is asked for.</summary>
    No,

    /// <summary>A certificate is checked if the client presents one.</summary>
    Optional,
}

/// <summary>TLS settings (configuration section <c>RaftKv:Tls</c>).</summary>
public sealed class TlsOptions
{
    /// <summary>The RESP TLS port (0: none).</summary>
    public int Port { get; set; }

    /// <summary>This node's certificate (PEM). Between nodes it is both the server and the client certificate, so it needs the serverAuth and clientAuth extended key usages, or none.</summary>
    public string? CertFile { get; set; }

    /// <summary>The private key of <see cref="CertFile"/> (PEM).</summary>
    public string? KeyFile { get; set; }

    /// <summary>The password of an encrypted <see cref="KeyFile"/>.</summary>
    public string? KeyFilePassword { get; set; }

    /// <summary>The CA (PEM) client certificates must chain to.</summary>
    public string? CaCertFile { get; set; }

    /// <summary>Whether RESP clients must present a certificate.</summary>
    public AuthClients AuthClients { get; set; } = AuthClients.Yes;

    /// <summary>The TLS versions allowed (Redis's <c>tls-protocols</c>).</summary>
    public string? Protocols { get; set; }

    /// <summary>
    /// Mutual TLS between nodes: the Raft port and the peer channel accept and open only TLS connections whose
    /// certificate chains to <see cref="ClusterCaCertFile"/>.
    /// </summary>
    public bool Cluster { get; set; }

    /// <summary>The CA (PEM) every member's certificate must chain to; defaults to <see cref="CaCertFile"/>.</summary>
    public string? ClusterCaCertFile { get; set; }
}
