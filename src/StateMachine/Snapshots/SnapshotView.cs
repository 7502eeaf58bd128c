namespace RaftKv.StateMachine.Snapshots;

/// <summary>
/// The whole replicated state as it was at one log position, read out while apply goes on: what a snapshot or a backup
/// writes. Taken by <see cref="KeyValueStore.BeginSnapshot"/> in O(databases) plus the bounded part of the state
/// (scripts, sessions, users, settings, serialized at once); the keys are read out later, piece by piece, by
/// copy-on-write (<see cref="KeyspaceCapture"/>).
/// </summary>
/// <remarks>
/// The owner's lock governs it as it governs the store: take the view and dispose of it holding the lock exclusively,
/// and call <see cref="CollectNext"/> holding it at least shared. <see cref="WriteTo"/> does the reading out for a
/// caller that hands it the shared lock. A snapshot restored into the store meanwhile does not disturb a view: the
/// databases it reads are then no longer the store's, and nothing changes them.
/// </remarks>
public sealed class SnapshotView : IDisposable
{
    private readonly byte[] meta;
    private readonly List<(Keyspace Keyspace, KeyspaceCapture Capture)> captures;
    private int current;
    private bool disposed;

    internal SnapshotView(SnapshotPosition position, byte[] meta, List<(Keyspace, KeyspaceCapture)> captures)
    {
        Position = position;
        this.meta = meta;
        this.captures = captures;
    }

    /// <summary>The bounded part of the state (scripts, sessions, settings, users), as the file's meta record holds it.</summary>
    internal ReadOnlySpan<byte> Meta => meta;

    /// <summary>The log position and cluster time of the state this view holds.</summary>
    public SnapshotPosition Position { get; }

    /// <summary>
    /// Holding the owner's lock (shared is enough): adds the next keys to <paramref name="into"/>, up to
    /// <paramref name="maxRecords"/> or about <paramref name="maxBytes"/> of keys and values. False once every key
    /// has been read out.
    /// </summary>
    public bool CollectNext(List<SnapshotRecord> into, int maxRecords, long maxBytes)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        while (current < captures.Count)
        {
            var capture = captures[current].Capture;
            capture.Collect(into, maxRecords - into.Count, maxBytes);
            if (!capture.Done)
                return true;
            current++;
            if (into.Count >= maxRecords)
                break;
        }

        return current < captures.Count;
    }

    /// <summary>
    /// Writes the view as a snapshot file of format 5 (<see cref="SnapshotFormat"/>) to <paramref name="destination"/>:
    /// the keys are collected under <paramref name="sharedLock"/> a few thousand at a time and written outside it, so
    /// apply waits at most for one collection, never for the disk.
    /// </summary>
    /// <param name="destination">Where the file goes (written synchronously: run this on a thread of its own).</param>
    /// <param name="sharedLock">Takes the owner's lock shared; disposing of the result releases it.</param>
    /// <param name="token">Stops the writing between two collections.</param>
    /// <param name="afterChunk">Called after each chunk is written, outside the lock (tests hold the writer there).</param>
    /// <param name="chunkRecords">Keys per collection.</param>
    /// <returns>The keys written and the payload bytes.</returns>
    public (long Keys, long PayloadBytes) WriteTo(
        Stream destination, Func<IDisposable> sharedLock, CancellationToken token, Action? afterChunk = null, int chunkRecords = DefaultChunkRecords)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRecords, 1);
        SnapshotFormat.WriteHeader(destination, Position);
        using var writer = new SnapshotBlockWriter(destination);
        writer.WriteInt32(meta.Length);
        writer.Write(meta);

        var records = new List<SnapshotRecord>(chunkRecords);
        long keys = 0;
        bool more;
        do
        {
            token.ThrowIfCancellationRequested();
            records.Clear();
            using (sharedLock())
                more = CollectNext(records, chunkRecords, ChunkBytes);

            foreach (var record in records)
            {
                writer.WriteByte((byte)record.Database);
                writer.WriteInt32(record.Key.Length);
                writer.Write(record.Key);
                writer.WriteInt64(record.ExpireAt);
                writer.WriteInt32(record.Value.Length);
                writer.Write(record.Value);
            }

            keys += records.Count;
            afterChunk?.Invoke();
        }
        while (more);

        writer.WriteByte(SnapshotFormat.EndOfRecords);
        var payload = writer.PayloadBytes;
        writer.Complete();
        return (keys, payload);
    }

    // Per collection under the lock: a few thousand keys cost apply well under a millisecond of waiting.
    private const int DefaultChunkRecords = 4096;
    private const long ChunkBytes = 4L << 20;

    /// <summary>Holding the owner's lock exclusively: stops the copy-on-write. Idempotent.</summary>
    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        foreach (var (keyspace, capture) in captures)
            keyspace.Release(capture);
    }
}
