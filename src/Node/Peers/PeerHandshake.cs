using System.Security.Cryptography;

namespace RaftKv.Node.Peers;

/// <summary>
/// The start of every peer connection. The accepting member sends a challenge (magic, version, nonce); the connecting
/// member answers with its own nonce and an HMAC over both made with the cluster secret; the accepting member checks it
/// in constant time and answers a verdict with its own proof, so each end knows the other holds the secret before any
/// frame is read. A refused connection is closed after the verdict.
/// </summary>
/// <remarks>
/// The same handshake opens the peer channel and the Raft port, each bound to its own <see cref="HandshakeChannel"/>
/// (magic and HMAC labels). It authenticates the connection, not each frame: without TLS (<c>RaftKv:Tls:Cluster</c>)
/// someone on the network path could still inject into an established connection; with TLS it runs inside the
/// mutually authenticated TLS session (see <see cref="PeerConnectionSecurity"/>). It keeps every client of the RESP
/// port, and anyone without the secret, out.
/// </remarks>
public static class PeerHandshake
{
    /// <summary>The accepting side. Returns the verdict it sent; only <see cref="HandshakeVerdict.Accepted"/> lets frames follow.</summary>
    /// <exception cref="PeerHandshakeException">The other end is not a RaftKv peer (wrong magic, or it closed early).</exception>
    public static Task<HandshakeVerdict> AcceptAsync(Stream stream, ClusterSecret secret, CancellationToken token)
        => AcceptAsync(stream, secret, HandshakeChannel.Peer, token);

    /// <summary>The accepting side of <paramref name="channel"/>'s handshake.</summary>
    /// <exception cref="PeerHandshakeException">The other end does not speak this channel's handshake.</exception>
    public static async Task<HandshakeVerdict> AcceptAsync(Stream stream, ClusterSecret secret, HandshakeChannel channel, CancellationToken token)
    {
        var magic = channel.Magic.Span.ToArray();
        var serverNonce = RandomNumberGenerator.GetBytes(PeerProtocol.NonceLength);
        var challenge = new byte[PeerProtocol.ChallengeLength];
        magic.CopyTo(challenge, 0);
        challenge[4] = PeerProtocol.Version;
        serverNonce.CopyTo(challenge, 5);
        await stream.WriteAsync(challenge, token).ConfigureAwait(false);

        var response = new byte[PeerProtocol.ResponseLength];
        await ReadExactlyAsync(stream, response, token).ConfigureAwait(false);
        if (!response.AsSpan(0, 4).SequenceEqual(magic))
            throw new PeerHandshakeException($"the connection did not answer the {channel} handshake (not a RaftKv member)");

        var clientNonce = response.AsSpan(5, PeerProtocol.NonceLength).ToArray();
        var verdict = response[4] != PeerProtocol.Version ? HandshakeVerdict.UnsupportedVersion
            : ClusterSecret.Matches(secret.ClientProof(channel, serverNonce, clientNonce), response.AsSpan(5 + PeerProtocol.NonceLength, PeerProtocol.ProofLength))
                ? HandshakeVerdict.Accepted
                : HandshakeVerdict.WrongSecret;

        var answer = new byte[PeerProtocol.VerdictLength];
        answer[0] = (byte)verdict;
        if (verdict == HandshakeVerdict.Accepted)
            secret.ServerProof(channel, clientNonce, serverNonce).CopyTo(answer, 1);
        await stream.WriteAsync(answer, token).ConfigureAwait(false);
        await stream.FlushAsync(token).ConfigureAwait(false);
        return verdict;
    }

    /// <summary>The connecting side; returns once the accepting member has accepted and proved the secret too.</summary>
    /// <exception cref="PeerHandshakeException">Refused, or the other end is not a member holding the secret.</exception>
    public static Task ConnectAsync(Stream stream, ClusterSecret secret, CancellationToken token)
        => ConnectAsync(stream, secret, HandshakeChannel.Peer, token);

    /// <summary>The connecting side of <paramref name="channel"/>'s handshake.</summary>
    /// <exception cref="PeerHandshakeException">Refused, or the other end is not a member holding the secret.</exception>
    public static async Task ConnectAsync(Stream stream, ClusterSecret secret, HandshakeChannel channel, CancellationToken token)
    {
        var magic = channel.Magic.Span.ToArray();
        var challenge = new byte[PeerProtocol.ChallengeLength];
        await ReadExactlyAsync(stream, challenge, token).ConfigureAwait(false);
        if (!challenge.AsSpan(0, 4).SequenceEqual(magic))
            throw new PeerHandshakeException($"the address does not answer as a RaftKv {channel} port (is it another of the node's ports?)");

        var serverNonce = challenge.AsSpan(5, PeerProtocol.NonceLength).ToArray();
        var clientNonce = RandomNumberGenerator.GetBytes(PeerProtocol.NonceLength);
        var response = new byte[PeerProtocol.ResponseLength];
        magic.CopyTo(response, 0);
        response[4] = PeerProtocol.Version;
        clientNonce.CopyTo(response, 5);
        secret.ClientProof(channel, serverNonce, clientNonce).CopyTo(response, 5 + PeerProtocol.NonceLength);
        await stream.WriteAsync(response, token).ConfigureAwait(false);
        await stream.FlushAsync(token).ConfigureAwait(false);

        var answer = new byte[PeerProtocol.VerdictLength];
        await ReadExactlyAsync(stream, answer, token).ConfigureAwait(false);
        switch ((HandshakeVerdict)answer[0])
        {
            case HandshakeVerdict.Accepted:
                if (!ClusterSecret.Matches(secret.ServerProof(channel, clientNonce, serverNonce), answer.AsSpan(1)))
                    throw new PeerHandshakeException("the peer accepted but could not prove the cluster secret", HandshakeVerdict.WrongSecret);
                return;
            case HandshakeVerdict.WrongSecret:
                throw new PeerHandshakeException(
                    "the peer refused this node's cluster secret: RaftKv:Peer:ClusterSecret differs between the members",
                    HandshakeVerdict.WrongSecret);
            case HandshakeVerdict.UnsupportedVersion:
                throw new PeerHandshakeException(
                    $"the peer does not speak peer protocol version {PeerProtocol.Version} (are all nodes the same version?)",
                    HandshakeVerdict.UnsupportedVersion);
            default:
                throw new PeerHandshakeException($"unknown handshake verdict {answer[0]}");
        }
    }

    private static async Task ReadExactlyAsync(Stream stream, byte[] buffer, CancellationToken token)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, token).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new PeerHandshakeException("the connection closed during the handshake", e);
        }
    }
}

/// <summary>A peer handshake that did not complete; <see cref="Verdict"/> says whether the secret was the reason.</summary>
public sealed class PeerHandshakeException : Exception
{
    /// <summary>A handshake failure with the verdict that caused it, if any.</summary>
    public PeerHandshakeException(string message, HandshakeVerdict? verdict = null)
        : base(message) => Verdict = verdict;

    /// <summary>A handshake failure caused by <paramref name="inner"/>.</summary>
    public PeerHandshakeException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>The verdict the handshake ended with: set when the other end refused (or failed to prove) the secret or version.</summary>
    public HandshakeVerdict? Verdict { get; }
}
