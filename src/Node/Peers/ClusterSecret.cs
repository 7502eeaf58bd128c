using System.Security.Cryptography;
using System.Text;

namespace RaftKv.Node.Peers;

/// <summary>
/// The secret every member shares, used only as an HMAC-SHA256 key: a handshake proves possession with a MAC over
/// fresh nonces from both ends, so the secret never crosses the wire and a recorded handshake cannot be replayed.
/// </summary>
public sealed class ClusterSecret
{
    private readonly byte[] key;

    /// <summary>A secret from its text.</summary>
    /// <exception cref="ArgumentException">Shorter than <see cref="PeerOptions.MinimumSecretLength"/> bytes.</exception>
    public ClusterSecret(string secret)
    {
        key = Encoding.UTF8.GetBytes(secret);
        if (key.Length < PeerOptions.MinimumSecretLength)
            throw new ArgumentException(
                $"The cluster secret must be at least {PeerOptions.MinimumSecretLength} bytes long (it has {key.Length}).", nameof(secret));
    }

    /// <summary>
    /// The secret configured in <paramref name="options"/>: <c>ClusterSecret</c>, or else the contents of
    /// <c>ClusterSecretFile</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither is set, the file cannot be read, or the secret is too short; the message says which.</exception>
    public static ClusterSecret FromOptions(PeerOptions options)
    {
        string text;
        if (!string.IsNullOrEmpty(options.ClusterSecret))
        {
            text = options.ClusterSecret;
        }
        else if (!string.IsNullOrEmpty(options.ClusterSecretFile))
        {
            try
            {
                text = File.ReadAllText(options.ClusterSecretFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException(
                    $"RaftKv:Peer:ClusterSecretFile '{options.ClusterSecretFile}' cannot be read: {e.Message}", e);
            }
        }
        else
        {
            throw new InvalidOperationException(
                "RaftKv:Peer:ClusterSecret (or RaftKv:Peer:ClusterSecretFile) is not set: the members of a cluster prove "
                + "themselves to each other with a secret they share; give every member the same one.");
        }

        try
        {
            return new ClusterSecret(text);
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException("RaftKv:Peer: " + e.Message, e);
        }
    }

    /// <summary>The proof a connecting member sends on the peer channel (<see cref="HandshakeChannel.Peer"/>).</summary>
    public byte[] ClientProof(ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce) => ClientProof(HandshakeChannel.Peer, serverNonce, clientNonce);

    /// <summary>The proof the accepting member answers with on the peer channel (<see cref="HandshakeChannel.Peer"/>).</summary>
    public byte[] ServerProof(ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> serverNonce) => ServerProof(HandshakeChannel.Peer, clientNonce, serverNonce);

    /// <summary>The proof a connecting member sends: MAC(channel's client label, server nonce, client nonce).</summary>
    public byte[] ClientProof(HandshakeChannel channel, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce)
        => Mac(channel.ClientLabel.Span, serverNonce, clientNonce);

    /// <summary>The proof the accepting member answers with: MAC(channel's server label, client nonce, server nonce).</summary>
    public byte[] ServerProof(HandshakeChannel channel, ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> serverNonce)
        => Mac(channel.ServerLabel.Span, clientNonce, serverNonce);

    /// <summary>Compares proofs in constant time.</summary>
    public static bool Matches(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
        => CryptographicOperations.FixedTimeEquals(expected, actual);

    private byte[] Mac(ReadOnlySpan<byte> label, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var message = new byte[label.Length + first.Length + second.Length];
        label.CopyTo(message);
        first.CopyTo(message.AsSpan(label.Length));
        second.CopyTo(message.AsSpan(label.Length + first.Length));
        return HMACSHA256.HashData(key, message);
    }
}
