using System.Buffers.Binary;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Requests in DotNext 6.12's Raft wire format (its TCP and custom transports share it: <c>ProtocolStream</c>), made
/// as its client makes them: a type byte, a fixed header in little-endian, then per log entry 21 bytes of metadata
/// and the payload as one final frame (<c>[i32 length | 0x80000000][bytes]</c>).
/// </summary>
internal static class RaftFrames
{
    private const byte Resign = 2;
    private const byte AppendEntries = 4;

    /// <summary>Asks the receiving leader to step down (no payload: the type byte alone).</summary>
    public static byte[] ResignRequest() => [Resign];

    /// <summary>
    /// AppendEntries from a sender nobody knows, at <paramref name="term"/>, carrying one entry of that term after
    /// <paramref name="prevLogIndex"/>/<paramref name="prevLogTerm"/>, committing nothing new.
    /// </summary>
    public static byte[] AppendEntriesRequest(long term, long prevLogIndex, long prevLogTerm, long commitIndex, byte[] payload)
    {
        var frame = new List<byte> { AppendEntries };
        frame.AddRange(new byte[16 + 8 + 4]); // ClusterMemberId of the sender: address hash, length and port, family
        frame.AddRange(Int64(term));
        frame.AddRange(Int64(prevLogIndex));
        frame.AddRange(Int64(prevLogTerm));
        frame.AddRange(Int64(commitIndex));
        frame.AddRange(Int32(1)); // entries
        frame.AddRange(Int32(0)); // configuration state version
        frame.AddRange(Int64(term)); // entry metadata: term, flags, command id, length
        frame.Add(0);
        frame.AddRange(Int32(0));
        frame.AddRange(Int64(payload.Length));
        frame.AddRange(Int32(payload.Length | int.MinValue)); // the payload's only (final) frame
        frame.AddRange(payload);
        return [.. frame];
    }

    private static byte[] Int64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] Int32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }
}
