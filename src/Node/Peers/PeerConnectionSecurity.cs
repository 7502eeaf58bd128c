using System.Net.Security;
using System.Security.Authentication;

namespace RaftKv.Node.Peers;

/// <summary>
/// How a connection between members is opened, on the peer channel and on the Raft port alike: with
/// <c>RaftKv:Tls:Cluster</c>, mutual TLS first (<see cref="ClusterTls"/>); then, always, the HMAC handshake of
/// <see cref="PeerHandshake"/> for the port's <see cref="HandshakeChannel"/>. Only after both does the port's own
/// protocol see a byte.
/// </summary>
public sealed class PeerConnectionSecurity(ClusterSecret secret, ClusterTls? tls)
{
    /// <summary>The cluster secret the handshake proves.</summary>
    public ClusterSecret Secret => secret;

    /// <summary>True when connections between members run over mutual TLS.</summary>
    public bool UsesTls => tls is not null;

    /// <summary>
    /// The accepting side. Returns the stream to use from now on (TLS or <paramref name="transport"/>) and the verdict
    /// sent; only <see cref="HandshakeVerdict.Accepted"/> lets the port's protocol follow. The returned stream owns
    /// <paramref name="transport"/>.
    /// </summary>
    /// <exception cref="PeerHandshakeException">TLS failed (plaintext, or a certificate not of the cluster CA) or the other end is not a member.</exception>
    public async Task<(Stream Stream, HandshakeVerdict Verdict)> AcceptAsync(Stream transport, HandshakeChannel channel, CancellationToken token)
    {
        var stream = tls is null ? transport : await ServerTlsAsync(transport, channel, token).ConfigureAwait(false);
        try
        {
            return (stream, await PeerHandshake.AcceptAsync(stream, secret, channel, token).ConfigureAwait(false));
        }
        catch (AuthenticationException e)
        {
            throw new PeerHandshakeException($"TLS on the {channel} port failed: {e.Message}", e);
        }
    }

    /// <summary>
    /// The connecting side; returns the stream to use from now on once the other member accepted and proved the secret.
    /// The returned stream owns <paramref name="transport"/>.
    /// </summary>
    /// <exception cref="PeerHandshakeException">TLS failed, or the other end refused or is not a member holding the secret.</exception>
    public async Task<Stream> ConnectAsync(Stream transport, string targetHost, HandshakeChannel channel, CancellationToken token)
    {
        var stream = tls is null ? transport : await ClientTlsAsync(transport, targetHost, channel, token).ConfigureAwait(false);
        try
        {
            // Under TLS 1.3 a server that refuses this node's certificate says so only now, at the first read.
            await PeerHandshake.ConnectAsync(stream, secret, channel, token).ConfigureAwait(false);
            return stream;
        }
        catch (AuthenticationException e)
        {
            throw new PeerHandshakeException($"TLS to the {channel} port failed: {e.Message}", e);
        }
    }

    private async Task<Stream> ServerTlsAsync(Stream transport, HandshakeChannel channel, CancellationToken token)
    {
        var ssl = new SslStream(transport, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(tls!.ServerOptions(), token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new PeerHandshakeException($"TLS on the {channel} port failed (plaintext, or a certificate not of the cluster CA): {e.Message}", e);
        }
    }

    private async Task<Stream> ClientTlsAsync(Stream transport, string targetHost, HandshakeChannel channel, CancellationToken token)
    {
        var ssl = new SslStream(transport, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(tls!.ClientOptions(targetHost), token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new PeerHandshakeException($"TLS to the {channel} port failed (not TLS, or a certificate not of the cluster CA): {e.Message}", e);
        }
    }
}
