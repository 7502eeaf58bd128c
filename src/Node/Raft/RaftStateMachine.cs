using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Options;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Raft;

/// <summary>
/// Adapts the deterministic <see cref="KeyValueStore"/> to DotNext's <see cref="SimpleStateMachine"/>: applies each
/// committed entry's batch, hands replies to the proposer that is waiting for them, and persists snapshots.
/// </summary>
/// <remarks>
/// <para>
/// DotNext applies entries one at a time and never while a snapshot is being written, so the only concurrency here is
/// readers against the applier: a reader-writer lock, held for in-memory work only.
/// </para>
/// <para>
/// Apply is total for every entry that decodes (a failing command answers an error on every replica alike), so an
/// exception here is not the entry's fault: a real <see cref="OutOfMemoryException"/>, or a bug outside the commands.
/// Skipping the entry would make this replica differ from the others, so the exception still stops DotNext's applier
/// for good — but loudly: <see cref="Stopped"/> records the entry and the reason, an error is logged, and
/// <see cref="ApplierStopped"/> fires so the node steps down (<see cref="StoppedApplierStepDown"/>), while routing
/// refuses this node's reads and writes (<see cref="Routing.CommandRouter"/>) rather than serve a frozen state.
/// </para>
/// </remarks>
public sealed partial class RaftStateMachine(IOptions<NodeOptions> options, TimeProvider time, ILogger<RaftStateMachine> logger)
    : SimpleStateMachine(new DirectoryInfo(Path.GetFullPath(Path.Combine(options.Value.DataPath, "snapshots"))))
{
    // Script limits are part of the state machine's definition: equal on every node (see NodeOptions.Scripting). The
    // key hash seed is not: a secret drawn per process, so no client can craft keys that collide in the keyspace's
    // hash tables (nothing observes their order; see ByteArrayComparer).
    private readonly KeyValueStore store = new(
        options.Value.Scripting, BinaryPrimitives.ReadUInt128LittleEndian(RandomNumberGenerator.GetBytes(16)));
    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.NoRecursion);
    private readonly int snapshotEvery = Math.Max(1, options.Value.SnapshotEveryEntries);
    private readonly long snapshotLogBytes = Math.Max(1, options.Value.SnapshotLogBytes);
    private long entriesSinceSnapshot;
    private long logBytesSinceSnapshot;
    private long lastSnapshotBytes;
    private long commandsSinceSnapshot;
    private SnapshotActivity snapshots = SnapshotActivity.None;

    /// <summary>What this node's snapshots have done since it started (<c>INFO persistence</c>).</summary>
    /// <param name="Taken">Snapshots written since start.</param>
    /// <param name="LastAt">When the last one was written, or null.</param>
    /// <param name="LastDuration">How long writing it took.</param>
    /// <param name="LastBytes">Its size (or the restored one's, after a restore).</param>
    /// <param name="LastFailed">Whether the last attempt failed.</param>
    /// <param name="InProgressSince">When the one being written now began, or null.</param>
    /// <param name="Restoring">True while a snapshot is being restored (Redis's <c>loading</c>).</param>
    public sealed record SnapshotActivity(
        long Taken, DateTimeOffset? LastAt, TimeSpan LastDuration, long LastBytes, bool LastFailed, DateTimeOffset? InProgressSince, bool Restoring)
    {
        /// <summary>Nothing yet.</summary>
        public static SnapshotActivity None { get; } = new(0, null, TimeSpan.Zero, 0, false, null, false);
    }

    /// <summary>The snapshots' activity; read from any thread.</summary>
    public SnapshotActivity Snapshots => Volatile.Read(ref snapshots);

    /// <summary>Log entries applied since the last snapshot (what the snapshot policy counts).</summary>
    public long EntriesSinceSnapshot => Volatile.Read(ref entriesSinceSnapshot);

    /// <summary>Bytes of log payload applied since the last snapshot.</summary>
    public long LogBytesSinceSnapshot => Volatile.Read(ref logBytesSinceSnapshot);

    /// <summary>Commands applied since the last snapshot (Redis's <c>rdb_changes_since_last_save</c>).</summary>
    public long CommandsSinceSnapshot => Volatile.Read(ref commandsSinceSnapshot);

    /// <summary>Cluster time of the last applied batch (Unix ms).</summary>
    public long ClusterTime
    {
        get
        {
            gate.EnterReadLock();
            try
            {
                return store.ClusterTime;
            }
            finally
            {
                gate.ExitReadLock();
            }
        }
    }

    /// <summary>
    /// This node's clock minus the cluster time of the last batch it applied, in ms: the leader's own clock skew plus,
    /// on a follower, replication delay. What the lock API's <c>maxClockSkew</c> must cover.
    /// </summary>
    public long ClockOffsetMs { get; private set; }

    /// <summary>Batches applied since start (entries with a payload).</summary>
    public long BatchesApplied { get; private set; }

    /// <summary>Commands applied since start.</summary>
    public long CommandsApplied { get; private set; }

    /// <summary>Why and where this node's applier stopped; null while it applies. Only a restart clears it.</summary>
    public ApplierStop? Stopped { get; private set; }

    /// <summary>Raised once, on the applier's thread, when apply throws and the applier stops.</summary>
    public event Action<ApplierStop>? ApplierStopped;

    /// <summary>Test hook: runs before each entry with a payload is applied, with its index; an exception it throws stops the applier.</summary>
    internal Action<long>? BeforeApplyForTesting { get; set; }

    /// <summary>Test hook: runs after each entry with a payload is applied (outside the lock), with its index.</summary>
    internal Action<long>? AfterApplyForTesting { get; set; }

    /// <summary>The applied <c>maxmemory</c> (0: none), readable without the lock: a proposer's quick test.</summary>
    public long MaxMemory => Volatile.Read(ref maxMemory);

    private long maxMemory;

    /// <summary>
    /// A copy of the applied users (<see cref="KeyValueStore.Acl"/>), replaced after each apply or restore that changed
    /// them: connections check permissions against it without taking the state's lock. Never changed in place.
    /// </summary>
    public AclTable Acl => Volatile.Read(ref acl);

    private AclTable acl = new();
    private (AclTable Source, long Version) aclPublished;

    // Under the write lock: a copy only when the users changed (an ACL command or a restore), so a data write costs a
    // comparison.
    private void PublishAcl()
    {
        var source = store.Acl;
        if (ReferenceEquals(aclPublished.Source, source) && aclPublished.Version == source.Version)
            return;
        Volatile.Write(ref acl, source.Clone());
        aclPublished = (source, source.Version);
    }

    /// <summary>
    /// <c>-OOM</c> when the applied state already refuses <paramref name="command"/> for memory (see
    /// <see cref="KeyValueStore.RefusalForMemory"/>); null otherwise, and always without a <c>maxmemory</c>.
    /// </summary>
    public Reply? RefusalForMemory(WriteCommand command, int database, long localClockMs)
        => MaxMemory <= 0 ? null : Inspect(store => store.RefusalForMemory(command, database, localClockMs));

    /// <summary>
    /// Runs a read against the applied state of database <paramref name="database"/>, as ACL user
    /// <paramref name="user"/> (what a read-only script's calls are checked against).
    /// </summary>
    public Reply Read(ReadCommand command, int database, long localClockMs, string user = AclTable.DefaultUserName)
    {
        gate.EnterReadLock();
        try
        {
            // A user deleted since its connection was checked reads nothing (never as default, which a null would mean).
            var resolved = user == AclTable.DefaultUserName ? store.Acl.Default : store.Acl.Find(user);
            return resolved is null ? Security.AccessControl.UserGone : store.Read(command, database, localClockMs, resolved);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    /// <summary>Reads something of the store under the read lock (INFO, digests, tests).</summary>
    public T Inspect<T>(Func<KeyValueStore, T> inspect)
    {
        gate.EnterReadLock();
        try
        {
            return inspect(store);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    /// <inheritdoc/>
    protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        try
        {
            return Apply(entry);
        }
        catch (Exception e)
        {
            var stop = new ApplierStop(entry.Index, e.GetType().Name, e.Message);
            Stopped = stop;
            LogApplierStopped(logger, entry.Index, e);
            (entry.Context as ProposedBatch)?.Fail(Routing.WriteOutcomeKind.Unknown);
            ApplierStopped?.Invoke(stop);
            throw;
        }
    }

    private ValueTask<bool> Apply(LogEntry entry)
    {
        if (entry.IsConfiguration || !entry.TryGetPayload(out var payload) || payload.IsEmpty)
        {
            // The no-op a new leader appends, or a membership entry: nothing for the keyspace.
            return ValueTask.FromResult(false);
        }

        // Every replica holds the same bytes, so an entry that does not decode (corruption that passed the log, or a
        // leader with a bug) is skipped by all of them alike; throwing here would stop the applier for good.
        if (!KeyValueStore.TryReadBatch(payload, out var batch, out var problem))
        {
            LogUndecodableEntry(logger, entry.Index, problem);
            (entry.Context as ProposedBatch)?.Fail(Routing.WriteOutcomeKind.Unknown);
            return ValueTask.FromResult(SnapshotDue(payload.Length));
        }

        BeforeApplyForTesting?.Invoke(entry.Index);
        Reply[] replies;
        gate.EnterWriteLock();
        try
        {
            replies = store.Apply(batch, entry.Index);
            Volatile.Write(ref maxMemory, store.MaxMemory);
            PublishAcl();
        }
        finally
        {
            gate.ExitWriteLock();
        }

        ClockOffsetMs = time.GetUtcNow().ToUnixTimeMilliseconds() - batch.Timestamp;
        BatchesApplied++;
        CommandsApplied += replies.Length;
        Volatile.Write(ref commandsSinceSnapshot, commandsSinceSnapshot + replies.Length);

        // Only the node that proposed the entry holds its context; every other replica computed the same replies
        // and drops them. Apply follows commit, and commit follows a majority having the entry on disk.
        (entry.Context as ProposedBatch)?.Complete(replies);
        AfterApplyForTesting?.Invoke(entry.Index);

        return ValueTask.FromResult(SnapshotDue(payload.Length));
    }

    // A snapshot every SnapshotEveryEntries entries, or sooner once the entries since the last one carry more bytes than
    // max(SnapshotLogBytes, the last snapshot's size): the log keeps every entry since the last snapshot in memory, so
    // without the byte bound a client overwriting one key with big values grew the node by the log alone, under any
    // maxmemory (the rule of Redis's AOF rewrite: the log may grow to the size of the state, then it is compacted).
    private bool SnapshotDue(long payloadBytes)
    {
        Volatile.Write(ref entriesSinceSnapshot, entriesSinceSnapshot + 1);
        Volatile.Write(ref logBytesSinceSnapshot, logBytesSinceSnapshot + payloadBytes);
        if (entriesSinceSnapshot < snapshotEvery && logBytesSinceSnapshot < Math.Max(snapshotLogBytes, lastSnapshotBytes))
            return false;
        Volatile.Write(ref entriesSinceSnapshot, 0);
        Volatile.Write(ref logBytesSinceSnapshot, 0);
        return true;
    }

    /// <inheritdoc/>
    protected override async ValueTask PersistAsync(IAsyncBinaryWriter writer, CancellationToken token)
    {
        var started = time.GetUtcNow();
        var begun = time.GetTimestamp();
        Volatile.Write(ref snapshots, Snapshots with { InProgressSince = started });
        var commands = CommandsSinceSnapshot;
        try
        {
            var buffer = new ArrayBufferWriter<byte>(1 << 16);
            gate.EnterReadLock();
            try
            {
                store.WriteSnapshot(buffer);
            }
            finally
            {
                gate.ExitReadLock();
            }

            await writer.Invoke(buffer.WrittenMemory, token).ConfigureAwait(false);
            lastSnapshotBytes = buffer.WrittenCount;
            Interlocked.Add(ref commandsSinceSnapshot, -commands);
            var previous = Snapshots;
            Volatile.Write(ref snapshots, previous with
            {
                Taken = previous.Taken + 1, LastAt = time.GetUtcNow(), LastDuration = time.GetElapsedTime(begun),
                LastBytes = buffer.WrittenCount, LastFailed = false, InProgressSince = null,
            });
            LogSnapshotWritten(logger, store.ClusterTime, buffer.WrittenCount);
        }
        catch
        {
            Volatile.Write(ref snapshots, Snapshots with { LastFailed = true, InProgressSince = null });
            throw;
        }
    }

    /// <inheritdoc/>
    protected override async ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token)
    {
        Volatile.Write(ref snapshots, Snapshots with { Restoring = true });
        try
        {
            await RestoreFromAsync(snapshotFile, token).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref snapshots, Snapshots with { Restoring = false, LastBytes = lastSnapshotBytes });
        }
    }

    private async ValueTask RestoreFromAsync(FileInfo snapshotFile, CancellationToken token)
    {
        var bytes = await File.ReadAllBytesAsync(snapshotFile.FullName, token).ConfigureAwait(false);
        gate.EnterWriteLock();
        try
        {
            try
            {
                store.RestoreSnapshot(new ReadOnlySequence<byte>(bytes));
            }
            catch (Exception e) when (e is InvalidDataException or MessagePack.MessagePackSerializationException or EndOfStreamException or FormatException or OverflowException)
            {
                // The state is left as it was; the caller (a start, or an InstallSnapshot from the leader) fails with this.
                throw new UnreadableSnapshotException(snapshotFile.FullName, bytes.Length, e);
            }

            lastSnapshotBytes = bytes.Length;
            Volatile.Write(ref maxMemory, store.MaxMemory);
            PublishAcl();
        }
        finally
        {
            gate.ExitWriteLock();
        }

        LogSnapshotRestored(logger, snapshotFile.Name, bytes.Length);
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        store.Scripting.Dispose();
        gate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Applying log entry {Index} failed: this node's applier has stopped for good. It steps down, will not lead, and refuses reads and writes until restarted (a restart applies the entry again); the other members go on without it unless they failed at the same entry")]
    private static partial void LogApplierStopped(ILogger logger, long index, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Log entry {Index} does not decode and was skipped, as on every replica: {Problem}")]
    private static partial void LogUndecodableEntry(ILogger logger, long index, string? problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot written at cluster time {ClusterTime} ({Bytes} bytes)")]
    private static partial void LogSnapshotWritten(ILogger logger, long clusterTime, int bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "State restored from snapshot {File} ({Bytes} bytes)")]
    private static partial void LogSnapshotRestored(ILogger logger, string file, int bytes);
}

/// <summary>Where and why a node's applier stopped (see <see cref="RaftStateMachine.Stopped"/>).</summary>
/// <param name="Index">The log entry whose apply threw; it is applied again after a restart.</param>
/// <param name="Exception">The exception's type name (<c>OutOfMemoryException</c>...).</param>
/// <param name="Message">The exception's message.</param>
public sealed record ApplierStop(long Index, string Exception, string Message);

/// <summary>A snapshot file that does not decode (truncated, or changed on disk): the node says which and does not go on with it.</summary>
public sealed class UnreadableSnapshotException(string path, long length, Exception inner)
    : IOException($"The snapshot '{path}' ({length} bytes) cannot be restored: {inner.Message}", inner)
{
    /// <summary>The snapshot file.</summary>
    public string Path { get; } = path;
}
