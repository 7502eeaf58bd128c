using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Options;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Snapshots;

namespace RaftKv.Node.Raft;

/// <summary>
/// Adapts the deterministic <see cref="KeyValueStore"/> to DotNext's write-ahead log as its <see cref="IStateMachine"/>:
/// applies each committed entry's batch, hands replies to the proposer that is waiting for them, writes snapshots in
/// the background and installs the ones the leader sends.
/// </summary>
/// <remarks>
/// <para>
/// DotNext applies entries one at a time. Readers and the applier share a reader-writer lock, held for in-memory work
/// only. A snapshot does not stop apply: its view of the state is taken in the apply of the entry that made it due
/// (<see cref="KeyValueStore.BeginSnapshot"/>, copy-on-write from then on), then a thread of its own reads the keys out
/// a few thousand at a time under the shared lock and writes them to disk outside it (format 5, checksummed blocks), to
/// a temporary file that is flushed, renamed to DotNext's <c>index-term</c> name and its directory flushed. Only then
/// does <see cref="ISnapshotManager.Snapshot"/> return it, so the log is compacted up to a snapshot that is on disk.
/// (DotNext's <c>SimpleStateMachine</c>, used before, made the next apply wait until the whole snapshot was written.)
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
public sealed partial class RaftStateMachine(IOptions<NodeOptions> options, TimeProvider time, ILogger<RaftStateMachine> logger, Telemetry.NodeMetrics? metrics = null)
    : IStateMachine, IAsyncDisposable
{
    private readonly DirectoryInfo location = Directory.CreateDirectory(Path.GetFullPath(Path.Combine(options.Value.DataPath, "snapshots")));
    private readonly CancellationTokenSource lifetime = new();

    // -1 until RestoreAsync has run (DotNext's WAL must not read Snapshot before); then the last applied index.
    private long appliedIndex = -1;
    private volatile FileSnapshot? snapshot;
    private Task snapshotting = Task.CompletedTask;
    private CancellationTokenSource? snapshotCancel;
    private int disposed;

    // Script limits are part of the state machine's definition: equal on every node (see NodeOptions.Scripting). The
    // key hash seed is not: a secret drawn per process, so no client can craft keys that collide in the keyspace's
    // hash tables (nothing observes their order; see ByteArrayComparer).
    private readonly KeyValueStore store = new(
        options.Value.Scripting, BinaryPrimitives.ReadUInt128LittleEndian(RandomNumberGenerator.GetBytes(16)));
    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.NoRecursion);
    private readonly int snapshotEvery = Math.Max(1, options.Value.SnapshotEveryEntries);
    private readonly long snapshotLogBytes = Math.Max(1, options.Value.SnapshotLogBytes);
    private readonly string walDirectory = options.Value.WalDirectory;
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

    /// <summary>
    /// Raised on the applier's thread, outside the lock, after an entry whose apply granted waiters, ended their waits
    /// or released them (in apply order): what completes the blocked acquires of this node's clients.
    /// </summary>
    public event Action<StateMachine.Locks.LockNotice[], long>? LockNotices;

    /// <summary>Raised after a snapshot replaced the state (from the leader, or at start): waiters must look again.</summary>
    public event Action? Installed;

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

    /// <summary>Test hook: runs on the snapshot writer's thread after each chunk of keys is written.</summary>
    internal Action? SnapshotChunkWrittenForTesting { get; set; }

    /// <summary>The snapshot the log is compacted to (null before the first); DotNext sends it to lagging followers.</summary>
    ISnapshot? ISnapshotManager.Snapshot => Volatile.Read(ref appliedIndex) < 0
        ? throw new InvalidOperationException("State machine is not restored. Call RestoreAsync first.")
        : snapshot;

    /// <summary>Snapshots the leader sent that failed their checks here (each refused, nothing changed).</summary>
    public long SnapshotsRefused => Interlocked.Read(ref snapshotsRefused);

    private long snapshotsRefused;

    /// <summary>The log index of the last applied entry (or restored snapshot).</summary>
    public long AppliedIndex => Math.Max(0, Volatile.Read(ref appliedIndex));

    /// <inheritdoc/>
    async ValueTask<long> IStateMachine.ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (entry.Index <= appliedIndex)
            return appliedIndex;
        if (entry.IsSnapshot)
            return await InstallAsync(entry, token).ConfigureAwait(false);

        if (ApplyEntry(entry))
            TryStartSnapshot();
        Volatile.Write(ref appliedIndex, entry.Index);
        return entry.Index;
    }

    private bool ApplyEntry(LogEntry entry)
    {
        try
        {
            return Apply(entry);
        }
        catch (Exception e)
        {
            var stop = new ApplierStop(entry.Index, e.GetType().Name, e.Message, e is CorruptLogEntryException);
            Stopped = stop;
            if (stop.DamagedEntry)
                LogCorruptEntry(logger, e.Message);
            else
                LogApplierStopped(logger, entry.Index, e);
            (entry.Context as ProposedBatch)?.Fail(Routing.WriteOutcomeKind.Unknown);
            ApplierStopped?.Invoke(stop);
            throw;
        }
    }

    private bool Apply(LogEntry entry)
    {
        if (entry.IsConfiguration || !entry.TryGetPayload(out var payload) || payload.IsEmpty)
        {
            // The no-op a new leader appends, or a membership entry: nothing for the keyspace.
            return false;
        }

        var status = KeyValueStore.ReadLogPayload(payload, out var batch, out var problem);

        // This replica's copy is damaged and the others hold good ones: skipping it would diverge, applying it is
        // impossible. The applier stops (see the remarks); a restart on this data refuses to start (RaftKvNode).
        if (status == LogPayloadStatus.ChecksumMismatch)
            throw new CorruptLogEntryException(entry.Index, walDirectory, problem);

        // Every replica holds the same bytes, so an entry that does not decode (a leader with a bug, or corruption
        // before the checksum was computed) is skipped by all of them alike; throwing would stop the applier for good.
        if (batch is null)
        {
            LogUndecodableEntry(logger, entry.Index, problem);
            (entry.Context as ProposedBatch)?.Fail(Routing.WriteOutcomeKind.Unknown);
            return SnapshotDue(payload.Length);
        }

        BeforeApplyForTesting?.Invoke(entry.Index);
        Reply[] replies;
        StateMachine.Locks.LockNotice[] notices;
        gate.EnterWriteLock();
        try
        {
            replies = store.Apply(batch, entry.Index);
            notices = store.TakeLockNotices();
            lastBatchTerm = entry.Term;
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
        metrics?.EntryApplied(replies.Length);
        Volatile.Write(ref commandsSinceSnapshot, commandsSinceSnapshot + replies.Length);

        // Only the node that proposed the entry holds its context; every other replica computed the same replies
        // and drops them. Apply follows commit, and commit follows a majority having the entry on disk.
        (entry.Context as ProposedBatch)?.Complete(replies, time.GetTimestamp());
        if (notices.Length > 0)
            LockNotices?.Invoke(notices, batch.Timestamp);
        AfterApplyForTesting?.Invoke(entry.Index);

        return SnapshotDue(payload.Length);
    }

    // A snapshot every SnapshotEveryEntries entries, or sooner once the entries since the last one carry more bytes than
    // max(SnapshotLogBytes, the last snapshot's size): the log keeps every entry since the last snapshot in memory, so
    // without the byte bound a client overwriting one key with big values grew the node by the log alone, under any
    // maxmemory (the rule of Redis's AOF rewrite: the log may grow to the size of the state, then it is compacted).
    // While one is being written the counts go on, and the next starts at the first entry after it finished.
    private bool SnapshotDue(long payloadBytes)
    {
        Volatile.Write(ref entriesSinceSnapshot, entriesSinceSnapshot + 1);
        Volatile.Write(ref logBytesSinceSnapshot, logBytesSinceSnapshot + payloadBytes);
        return (snapshotScheduled || entriesSinceSnapshot >= snapshotEvery || logBytesSinceSnapshot >= Math.Max(snapshotLogBytes, Volatile.Read(ref lastSnapshotBytes)))
               && snapshotting.IsCompleted;
    }

    /// <summary>
    /// Starts a snapshot of the applied state now, written in the background (<c>BGSAVE</c>, and the applier when the
    /// policy says so); false when one is being written already.
    /// </summary>
    /// <remarks>
    /// The view's position is the last applied entry that carried a batch, read under the lock that applies them: the
    /// entries after it (a new leader's no-op, membership entries) change no state, so a restore that applies them
    /// again changes nothing either.
    /// </remarks>
    public bool TryStartSnapshot()
    {
        lock (snapshotStart)
        {
            if (!snapshotting.IsCompleted || Volatile.Read(ref appliedIndex) < 0 || lifetime.IsCancellationRequested)
                return false;
            StartSnapshot();
            return true;
        }
    }

    private readonly Lock snapshotStart = new();

    // BGSAVE SCHEDULE while a snapshot was being written: the next applied batch starts one.
    private volatile bool snapshotScheduled;

    /// <summary>Makes the next applied batch start a snapshot, whatever the policy (<c>BGSAVE SCHEDULE</c>).</summary>
    public void ScheduleSnapshot() => snapshotScheduled = true;

    /// <summary>When this node's state machine was created (Redis's <c>LASTSAVE</c> before the first snapshot).</summary>
    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();

    // The term of the last applied batch: with store.AppliedIndex, the position a snapshot view is taken at.
    private long lastBatchTerm;

    private void StartSnapshot()
    {
        var view = OpenView();

        snapshotScheduled = false;
        Volatile.Write(ref entriesSinceSnapshot, 0);
        Volatile.Write(ref logBytesSinceSnapshot, 0);
        var commands = CommandsSinceSnapshot;
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
        snapshotCancel = cancel;
        Volatile.Write(ref snapshots, Snapshots with { InProgressSince = time.GetUtcNow() });
        snapshotting = Task.Factory.StartNew(
            () => WriteSnapshot(view, commands, cancel.Token), cancel.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void WriteSnapshot(SnapshotView view, long commands, CancellationToken token)
    {
        var begun = time.GetTimestamp();
        var position = view.Position;
        var temporary = Path.Combine(location.FullName, string.Create(CultureInfo.InvariantCulture, $"writing.{position.Index}.{position.Term}.tmp"));
        try
        {
            long keys;
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                (keys, _) = view.WriteTo(file, SharedLock, token, SnapshotChunkWrittenForTesting);
                file.Flush(flushToDisk: true);
            }

            var published = Publish(temporary, position.Index, position.Term);
            Interlocked.Add(ref commandsSinceSnapshot, -commands);
            Volatile.Write(ref lastSnapshotBytes, published.Length);
            var previous = Snapshots;
            Volatile.Write(ref snapshots, previous with
            {
                Taken = previous.Taken + 1, LastAt = time.GetUtcNow(), LastDuration = time.GetElapsedTime(begun),
                LastBytes = published.Length, LastFailed = false, InProgressSince = null,
            });
            LogSnapshotWritten(logger, position.Index, keys, published.Length, (long)time.GetElapsedTime(begun).TotalMilliseconds);
        }
        catch (Exception e)
        {
            File.Delete(temporary);
            Volatile.Write(ref snapshots, Snapshots with { LastFailed = true, InProgressSince = null });
            if (e is OperationCanceledException && token.IsCancellationRequested)
                LogSnapshotAbandoned(logger, position.Index);
            else
                LogSnapshotFailed(logger, position.Index, e);
        }
        finally
        {
            CloseView(view);
        }
    }

    /// <summary>
    /// Writes the applied state, as of now, to <paramref name="destination"/> in the snapshot format (an online backup):
    /// a copy-on-write view like a snapshot's, so applies go on while it is written.
    /// </summary>
    /// <returns>Where the state was taken (applied index, term, cluster time) and what was written.</returns>
    public async Task<SnapshotWritten> WriteBackupAsync(Stream destination, CancellationToken token)
    {
        var view = OpenView();

        try
        {
            var start = destination.CanSeek ? destination.Position : 0;
            var (keys, payload) = await Task.Factory.StartNew(
                () => view.WriteTo(destination, SharedLock, token), token, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            var position = view.Position;
            return new SnapshotWritten(position.Index, position.Term, position.ClusterTime, destination.CanSeek ? destination.Position - start : payload, keys);
        }
        finally
        {
            CloseView(view);
        }
    }

    // A copy-on-write view of the applied state at the last applied batch, taken and released under the write lock
    // (the view's captures are shared with apply).
    private SnapshotView OpenView()
    {
        gate.EnterWriteLock();
        try
        {
            return store.BeginSnapshot(store.AppliedIndex, lastBatchTerm);
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    private void CloseView(SnapshotView view)
    {
        gate.EnterWriteLock();
        try
        {
            view.Dispose();
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    private IDisposable SharedLock()
    {
        gate.EnterReadLock();
        return new SharedLockRelease(gate);
    }

    private sealed class SharedLockRelease(ReaderWriterLockSlim gate) : IDisposable
    {
        public void Dispose() => gate.ExitReadLock();
    }

    // A written and flushed file becomes the snapshot: renamed to DotNext's index-term name, its directory flushed so the
    // rename survives a crash, then handed to the log (which compacts up to it and deletes older snapshots).
    private FileInfo Publish(string temporary, long index, long term)
    {
        var final = new FileInfo(Path.Combine(location.FullName, FileSnapshot.Name(index, term)));
        File.Move(temporary, final.FullName, overwrite: true);
        DirectorySync.Flush(location.FullName);
        final.Refresh();
        snapshot = new FileSnapshot(final, index, term);
        return final;
    }

    // Stops a snapshot being written (its temporary file is deleted) and waits for its thread.
    private async Task AbandonSnapshotAsync()
    {
        if (snapshotting.IsCompleted)
            return;
        if (snapshotCancel is { } cancel)
            await cancel.CancelAsync().ConfigureAwait(false);
        await snapshotting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    // A snapshot from the leader (InstallSnapshot): written to a temporary file, read and checked in full beside the
    // current state, swapped in, then made this node's snapshot. One that fails its checks changes nothing: the
    // exception fails the InstallSnapshot request, and the leader sends it again.
    private async ValueTask<long> InstallAsync(LogEntry entry, CancellationToken token)
    {
        await AbandonSnapshotAsync().ConfigureAwait(false);
        var temporary = Path.Combine(location.FullName, string.Create(CultureInfo.InvariantCulture, $"installing.{entry.Index}.{entry.Term}.tmp"));
        Volatile.Write(ref snapshots, Snapshots with { Restoring = true });
        try
        {
            var file = new FileStream(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None, bufferSize: 1 << 16, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                await entry.WriteToAsync(file, 1 << 16, token).ConfigureAwait(false);
                await file.FlushAsync(token).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            var length = new FileInfo(temporary).Length;
            var restored = await Task.Run(() => Read(temporary, length, entry.Index), token).ConfigureAwait(false);
            Install(restored, entry.Index, entry.Term);
            var published = Publish(temporary, entry.Index, entry.Term);
            Volatile.Write(ref lastSnapshotBytes, published.Length);
            Volatile.Write(ref entriesSinceSnapshot, 0);
            Volatile.Write(ref logBytesSinceSnapshot, 0);
            Volatile.Write(ref appliedIndex, entry.Index);
            LogSnapshotInstalled(logger, entry.Index, entry.Term, restored.Keys, published.Length);
            return entry.Index;
        }
        catch (UnreadableSnapshotException e)
        {
            File.Delete(temporary);
            Interlocked.Increment(ref snapshotsRefused);
            LogInstalledSnapshotRefused(logger, entry.Index, e.InnerException?.Message ?? e.Message);
            throw;
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        finally
        {
            Volatile.Write(ref snapshots, Snapshots with { Restoring = false, LastBytes = Volatile.Read(ref lastSnapshotBytes) });
        }
    }

    /// <summary>
    /// Restores the newest snapshot on disk, if any; call once, before the log is built (DotNext's log reads
    /// <see cref="ISnapshotManager.Snapshot"/> in its constructor). Leftovers of writes a crash interrupted are deleted.
    /// </summary>
    /// <exception cref="UnreadableSnapshotException">The newest snapshot is damaged: the node must not start on it.</exception>
    public async ValueTask RestoreAsync(CancellationToken token = default)
    {
        foreach (var leftover in location.EnumerateFiles("*.tmp"))
            leftover.Delete();

        var newest = location.EnumerateFiles()
            .Select(static f => FileSnapshot.TryParse(f, out var index, out var term) ? new FileSnapshot(f, index, term) : null)
            .Where(static s => s is not null)
            .MaxBy(static s => s!.Index);
        if (newest is null)
        {
            Volatile.Write(ref appliedIndex, 0);
            return;
        }

        Volatile.Write(ref snapshots, Snapshots with { Restoring = true });
        try
        {
            var restored = await Task.Run(() => Read(newest.File.FullName, newest.File.Length, newest.Index), token).ConfigureAwait(false);
            Install(restored, newest.Index, newest.Term);
            snapshot = newest;
            Volatile.Write(ref lastSnapshotBytes, newest.File.Length);
            Volatile.Write(ref appliedIndex, newest.Index);
            LogSnapshotRestored(logger, newest.File.Name, restored.Keys, newest.File.Length);
        }
        finally
        {
            Volatile.Write(ref snapshots, Snapshots with { Restoring = false, LastBytes = Volatile.Read(ref lastSnapshotBytes) });
        }
    }

    // Reads and checks a snapshot file without the lock (the state is untouched until Install).
    private KeyValueStore.PreparedSnapshot Read(string path, long length, long index)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
            var prepared = store.ReadSnapshot(file);
            // Format 5 says where it was taken; a file named for another position is not the snapshot it claims to be.
            if (prepared.Position.Index != 0 && prepared.Position.Index != index)
                throw new InvalidDataException($"It holds the state at index {prepared.Position.Index}, not {index} as its name says.");
            return prepared;
        }
        catch (InvalidDataException e)
        {
            throw new UnreadableSnapshotException(path, length, e);
        }
    }

    private void Install(KeyValueStore.PreparedSnapshot restored, long index, long term)
    {
        gate.EnterWriteLock();
        try
        {
            store.Install(restored, index);
            lastBatchTerm = term;
            Volatile.Write(ref maxMemory, store.MaxMemory);
            PublishAcl();
        }
        finally
        {
            gate.ExitWriteLock();
        }

        // Grants inside the entries the snapshot stands for raised no notice here: the waits must look again.
        Installed?.Invoke();
    }

    /// <inheritdoc/>
    ValueTask ISnapshotManager.ReclaimGarbageAsync(long watermark, CancellationToken token)
    {
        // Older snapshots than the one the log now starts from: nobody reads them any more (DotNext's guarantee).
        foreach (var file in location.EnumerateFiles())
        {
            if (FileSnapshot.TryParse(file, out var index, out _) && index < watermark)
                file.Delete();
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    /// <remarks>Idempotent: the container disposes of it under each of the services it is registered as.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        await lifetime.CancelAsync().ConfigureAwait(false);
        await snapshotting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lifetime.Dispose();
        store.Scripting.Dispose();
        gate.Dispose();
    }

    [LoggerMessage(EventId = NodeLogEvents.ApplierStopped, EventName = nameof(NodeLogEvents.ApplierStopped), Level = LogLevel.Critical, Message = "Applying log entry {Index} failed: this node's applier has stopped for good. It steps down, will not lead, and refuses reads and writes until restarted (a restart applies the entry again); the other members go on without it unless they failed at the same entry")]
    private static partial void LogApplierStopped(ILogger logger, long index, Exception exception);

    [LoggerMessage(EventId = NodeLogEvents.ApplierStoppedOnDamagedEntry, EventName = nameof(NodeLogEvents.ApplierStoppedOnDamagedEntry), Level = LogLevel.Critical, Message = "{Problem} This node's applier has stopped: it steps down and refuses reads and writes, and it will not start on this data (docs/storage.md)")]
    private static partial void LogCorruptEntry(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Error, Message = "Log entry {Index} does not decode and was skipped, as on every replica: {Problem}")]
    private static partial void LogUndecodableEntry(ILogger logger, long index, string? problem);

    [LoggerMessage(EventId = NodeLogEvents.SnapshotWritten, EventName = nameof(NodeLogEvents.SnapshotWritten), Level = LogLevel.Information, Message = "Snapshot at index {Index} written: {Keys} keys, {Bytes} bytes, {Milliseconds} ms while apply went on")]
    private static partial void LogSnapshotWritten(ILogger logger, long index, long keys, long bytes, long milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot at index {Index} abandoned (a snapshot from the leader replaces it, or the node stops)")]
    private static partial void LogSnapshotAbandoned(ILogger logger, long index);

    [LoggerMessage(EventId = NodeLogEvents.SnapshotFailed, EventName = nameof(NodeLogEvents.SnapshotFailed), Level = LogLevel.Error, Message = "Writing the snapshot at index {Index} failed; the log keeps its entries and the next snapshot tries again")]
    private static partial void LogSnapshotFailed(ILogger logger, long index, Exception exception);

    [LoggerMessage(EventId = NodeLogEvents.SnapshotRestored, EventName = nameof(NodeLogEvents.SnapshotRestored), Level = LogLevel.Information, Message = "State restored from snapshot {File}: {Keys} keys, {Bytes} bytes")]
    private static partial void LogSnapshotRestored(ILogger logger, string file, long keys, long bytes);

    [LoggerMessage(EventId = NodeLogEvents.SnapshotInstalled, EventName = nameof(NodeLogEvents.SnapshotInstalled), Level = LogLevel.Information, Message = "Snapshot from the leader installed at index {Index} (term {Term}): {Keys} keys, {Bytes} bytes")]
    private static partial void LogSnapshotInstalled(ILogger logger, long index, long term, long keys, long bytes);

    [LoggerMessage(EventId = NodeLogEvents.SnapshotRefused, EventName = nameof(NodeLogEvents.SnapshotRefused), Level = LogLevel.Error, Message = "The snapshot the leader sent for index {Index} fails its checks and was refused, nothing changed; the leader sends it again: {Problem}")]
    private static partial void LogInstalledSnapshotRefused(ILogger logger, long index, string problem);
}

/// <summary>Where and why a node's applier stopped (see <see cref="RaftStateMachine.Stopped"/>).</summary>
/// <param name="Index">The log entry whose apply threw; it is applied again after a restart.</param>
/// <param name="Exception">The exception's type name (<c>OutOfMemoryException</c>...).</param>
/// <param name="Message">The exception's message.</param>
/// <param name="DamagedEntry">
/// True when the entry's copy on this node fails its checksum (<see cref="CorruptLogEntryException"/>): a restart on
/// this data meets it again, so the node does not start on it.
/// </param>
public sealed record ApplierStop(long Index, string Exception, string Message, bool DamagedEntry);

/// <summary>A snapshot file that does not decode (truncated, or changed on disk): the node says which and does not go on with it.</summary>
public sealed class UnreadableSnapshotException(string path, long length, Exception inner)
    : IOException($"The snapshot '{path}' ({length} bytes) cannot be restored: {inner.Message}", inner)
{
    /// <summary>The snapshot file.</summary>
    public string Path { get; } = path;
}

/// <summary>What <see cref="RaftStateMachine.WriteBackupAsync"/> wrote: the state as of <paramref name="Index"/>.</summary>
/// <param name="Index">The last applied entry the state includes.</param>
/// <param name="Term">That entry's term.</param>
/// <param name="ClusterTime">The cluster time of that state (TTLs are absolute cluster times).</param>
/// <param name="Bytes">The bytes written.</param>
/// <param name="Keys">The keys written.</param>
public sealed record SnapshotWritten(long Index, long Term, long ClusterTime, long Bytes, long Keys);

/// <summary>
/// A committed log entry whose copy on this node fails its checksum (<see cref="LogEntryEnvelope"/>): the other
/// replicas hold good copies, so this node can neither skip the entry nor apply it.
/// </summary>
public sealed class CorruptLogEntryException(long index, string walDirectory, string? problem)
    : IOException($"WAL entry {index} in {walDirectory} fails its checksum ({problem}).")
{
    /// <summary>The entry's log index.</summary>
    public long Index { get; } = index;

    /// <summary>The write-ahead log directory holding the damaged copy.</summary>
    public string WalDirectory { get; } = walDirectory;
}
