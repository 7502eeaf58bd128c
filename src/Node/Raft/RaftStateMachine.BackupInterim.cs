using System.Buffers;

namespace RaftKv.Node.Raft;

// Interim stand-in for the lead's "Snapshots v5" API; removed when it lands.
public sealed record SnapshotWritten(long Index, long Term, long ClusterTime, long Bytes, long Keys);

public sealed partial class RaftStateMachine
{
    public async Task<SnapshotWritten> WriteBackupAsync(Stream destination, CancellationToken token)
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        long clusterTime;
        Inspect(s => { s.WriteSnapshot(buffer); return 0; });
        clusterTime = ClusterTime;
        await destination.WriteAsync(buffer.WrittenMemory, token).ConfigureAwait(false);
        return new SnapshotWritten(0, 0, clusterTime, buffer.WrittenCount, 0);
    }
}
