using System.Buffers.Binary;
using Microsoft.Extensions.Options;
using RaftKv.Node.Hosting;

namespace RaftKv.Node.Raft;

/// <summary>
/// What the write-ahead log will keep across a crash: DotNext 6.12's log restarts from its checkpoint file
/// (<c>wal/checkpoint</c>: format version, commit index, last index), which its background flusher rewrites after it has
/// flushed newly committed entries. An entry at or below the checkpoint's commit index survives a crash; one above it
/// may not, even if this node acknowledged it to the leader.
/// </summary>
/// <remarks>
/// Read from the file rather than through <c>WriteAheadLog.FlushAsync</c>: in 6.12 that method waits on an event that
/// allows a single waiter, and concurrent callers crash the process.
/// </remarks>
public sealed class LogCheckpoint(IOptions<NodeOptions> options)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(1);

    private readonly string path = Path.Combine(Path.GetFullPath(options.Value.DataPath), "wal", "checkpoint");

    /// <summary>The commit index the checkpoint records now; 0 when there is none yet.</summary>
    public long CommitIndex
    {
        get
        {
            Span<byte> bytes = stackalloc byte[32];
            int length;
            try
            {
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                length = RandomAccess.Read(handle, bytes, 0);
            }
            catch (FileNotFoundException)
            {
                return 0;
            }

            return length switch
            {
                // Version 0 without a header: the commit index alone.
                8 => BinaryPrimitives.ReadInt64LittleEndian(bytes),

                // A 4-byte version, then the commit index (versions 0 and 1; version 1 adds the last index).
                >= 12 when BinaryPrimitives.ReadUInt32LittleEndian(bytes) <= 1 => BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]),
                _ => 0,
            };
        }
    }

    /// <summary>Waits until the checkpoint covers <paramref name="index"/>.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was canceled first.</exception>
    public async Task WaitUntilCoversAsync(long index, CancellationToken token)
    {
        while (CommitIndex < index)
            await Task.Delay(PollInterval, token).ConfigureAwait(false);
    }
}
