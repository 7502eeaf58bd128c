using System.Buffers.Binary;

namespace RaftKv.Node.Tests.Raft;

/// <summary>
/// Reads what a node's write-ahead log will keep across a crash: DotNext 6.12's checkpoint file, version 1 —
/// [u32 version = 1][i64 commit index][i64 last flushed index]; a restart keeps the entries up to the last flushed one.
/// </summary>
internal static class WalCheckpoint
{
    /// <summary>The last flushed index recorded in <paramref name="walDirectory"/>'s checkpoint.</summary>
    public static long LastFlushedIndex(string walDirectory)
    {
        var bytes = File.ReadAllBytes(Path.Combine(walDirectory, "checkpoint"));
        Assert.Equal(20, bytes.Length);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        return BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(12));
    }
}
