using System.Buffers;
using System.Buffers.Binary;

namespace RaftKv.Node.Peers;

/// <summary>
/// The wire format of the peer channel, version 1. A connection starts with a handshake that proves both ends hold the
/// cluster secret (<see cref="PeerHandshake"/>); after it, each side sends frames
/// <c>[u32 big-endian length of what follows][u8 type][payload]</c>. Requests and their answers travel in the same
/// order on one connection (no ids): a follower's writes reach the leader, and their answers come back, in the order
/// sent.
/// </summary>
/// <remarks>
/// The transport knows nothing of what the types mean: routing defines its messages (<c>Routing/PeerMessages</c>).
/// A frame that is empty, longer than the receiver's limit, or of a type the receiver does not know closes the
/// connection; nothing it carried is acted on.
/// </remarks>
public static class PeerProtocol
{
    /// <summary>The protocol version this node speaks; sent in both halves of the handshake.</summary>
    public const byte Version = 1;

    /// <summary>First bytes of both halves of the handshake: a RESP client or a stray scanner never matches them.</summary>
    public static ReadOnlySpan<byte> Magic => "RKVP"u8;

    /// <summary>Random bytes each side contributes to the handshake.</summary>
    public const int NonceLength = 32;

    /// <summary>Length of an HMAC-SHA256 proof.</summary>
    public const int ProofLength = 32;

    /// <summary>Server → client: magic, version, server nonce.</summary>
    public const int ChallengeLength = 4 + 1 + NonceLength;

    /// <summary>Client → server: magic, version, client nonce, client proof.</summary>
    public const int ResponseLength = 4 + 1 + NonceLength + ProofLength;

    /// <summary>Server → client: verdict, server proof (zeros unless accepted).</summary>
    public const int VerdictLength = 1 + ProofLength;

    /// <summary>Length prefix and type byte.</summary>
    public const int FrameHeaderLength = 5;

    /// <summary>Writes one frame.</summary>
    public static void WriteFrame(IBufferWriter<byte> destination, byte type, ReadOnlySpan<byte> payload)
    {
        var span = destination.GetSpan(FrameHeaderLength + payload.Length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)(payload.Length + 1));
        span[4] = type;
        payload.CopyTo(span[FrameHeaderLength..]);
        destination.Advance(FrameHeaderLength + payload.Length);
    }

    /// <summary>A whole frame as one array.</summary>
    public static byte[] Frame(byte type, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameHeaderLength + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(payload.Length + 1));
        frame[4] = type;
        payload.CopyTo(frame.AsSpan(FrameHeaderLength));
        return frame;
    }

    /// <summary>
    /// Takes one frame off the front of <paramref name="buffer"/>; false when it is not complete yet (read more).
    /// </summary>
    /// <exception cref="InvalidDataException">The length prefix is zero or above <paramref name="maxFrameBytes"/>.</exception>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, long maxFrameBytes, out byte type, out ReadOnlySequence<byte> payload)
    {
        type = 0;
        payload = default;
        if (buffer.Length < sizeof(uint))
            return false;

        // The length is judged as soon as it is there, so a bad one closes the connection without waiting for more.
        Span<byte> header = stackalloc byte[sizeof(uint)];
        buffer.Slice(0, sizeof(uint)).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length == 0)
            throw new InvalidDataException("Empty peer frame.");
        if (length > maxFrameBytes)
            throw new InvalidDataException($"Peer frame of {length} bytes exceeds the limit of {maxFrameBytes}.");
        if (buffer.Length < sizeof(uint) + (long)length)
            return false;

        buffer.Slice(sizeof(uint), 1).CopyTo(header[..1]);
        type = header[0];
        payload = buffer.Slice(FrameHeaderLength, length - 1);
        buffer = buffer.Slice(sizeof(uint) + (long)length);
        return true;
    }
}

/// <summary>The server's answer to a handshake response.</summary>
public enum HandshakeVerdict : byte
{
    /// <summary>The client proved the secret; frames may follow.</summary>
    Accepted = 0,

    /// <summary>The client's proof does not match this node's secret: the members' secrets differ.</summary>
    WrongSecret = 1,

    /// <summary>The client speaks a protocol version this node does not.</summary>
    UnsupportedVersion = 2,
}
