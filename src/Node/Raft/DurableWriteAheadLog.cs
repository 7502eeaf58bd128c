using System.Buffers;
using DotNext.IO;
using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using RaftKv.StateMachine;

namespace RaftKv.Node.Raft;

/// <summary>
/// DotNext 6.12's write-ahead log with its follower side brought in line with Raft's rules for AppendEntries: a
/// follower writes the entries it receives to disk before it acknowledges them, and it truncates its log only where a
/// received entry conflicts with one it holds.
/// </summary>
/// <remarks>
/// <para>
/// Persist before acknowledging. DotNext's follower appended AppendEntries to its memory-mapped pages and answered at
/// once; the background flusher made them durable a little later, and the log restarts from its checkpoint file
/// (commit index, last flushed index). So until that flush a crash forgot entries this node had acknowledged. When every
/// node crashed together (kill -9 of all three, power loss), a leader could have committed an entry that only it still
/// had on disk: the restarted followers elected one of themselves, wrote something else at that index, and the old
/// leader, which believed the index committed, kept its own entry: acknowledged writes lost and one replica different
/// for good. The leader side needs nothing: 6.12's <c>CommitAsync</c> already waits until the leader's own log is
/// flushed up to the commit index.
/// </para>
/// <para>
/// Truncate only on conflict ("if an existing entry conflicts with a new one — same index, different terms — delete
/// the existing entry and all that follow it; append any new entries not already in the log"). DotNext overwrote from
/// the request's first index and cut the log after its last entry whenever the request overlapped the log. A stale
/// request (one the leader gave up on after a timeout, handled after a later one — a paused or partitioned follower
/// produces them) then cut off entries this follower had already acknowledged, so an entry the leader counted as
/// committed on this node no longer was.
/// </para>
/// <para>
/// DotNext calls the multi-entry <c>AppendAsync</c> only from the follower's AppendEntries handler, under its
/// transition lock, so the flush below never has a concurrent waiter (<c>FlushAsync</c> waits on an event that allows
/// a single waiter in 6.12; a second concurrent caller crashes the process). Nothing else in RaftKv calls it. This
/// re-implements that one member of <see cref="IAuditTrail{TEntry}"/>.
/// </para>
/// <para>
/// Recovery (<see cref="NodeRecovery"/>): DotNext grants a vote only if <see cref="IPersistentState.IsVotedFor"/>
/// answers true (then checks the candidate's log), so a node in recovery answers false; pre-votes do not ask it and
/// change no state. <see cref="IAuditTrail.CommitAsync"/> is where a follower learns the leader's commit index. Every
/// other member maps to the base class.
/// </para>
/// <para>
/// Verify before writing. Each received entry is read into memory once (DotNext's TCP transport streams entries from
/// the socket; DotNext would copy them into its pages anyway) and its <see cref="LogEntryEnvelope"/> checked there. At
/// the first entry that fails, the entries before it are appended and the request is refused with an exception, not
/// acknowledged: the leader sends the entry again, and no damaged copy reaches this disk from the wire.
/// </para>
/// </remarks>
internal sealed class DurableWriteAheadLog(WriteAheadLog.Options configuration, IStateMachine stateMachine, NodeRecovery? recovery = null, Telemetry.NodeMetrics? metrics = null)
    : WriteAheadLog(configuration, stateMachine), IPersistentState, IAuditTrail<IRaftLogEntry>, IAuditTrail
{
    private delegate bool VotedFor(in ClusterMemberId id);

    // WriteAheadLog implements IsVotedFor explicitly, and C# cannot call a base class's explicit implementation:
    // bind a delegate to it (a private sealed method, so the call is not dispatched back to the re-implementation).
    private static readonly System.Reflection.MethodInfo BaseIsVotedFor = FindBaseIsVotedFor();

    private VotedFor? baseIsVotedFor;

    private long followerFlushes;
    private long entriesAlreadyHeld;
    private long receivedEntriesRefused;

    /// <summary>Received entries whose checksum failed before they were written: their AppendEntries was refused.</summary>
    public long ReceivedEntriesRefused => Interlocked.Read(ref receivedEntriesRefused);

    /// <summary>How many times this node flushed received entries before acknowledging them.</summary>
    public long FollowerFlushes => Interlocked.Read(ref followerFlushes);

    /// <summary>Received entries this node already held with the same term (kept, not rewritten).</summary>
    public long EntriesAlreadyHeld => Interlocked.Read(ref entriesAlreadyHeld);

    bool IPersistentState.IsVotedFor(in ClusterMemberId id)
    {
        baseIsVotedFor ??= BaseIsVotedFor.CreateDelegate<VotedFor>(this);
        return baseIsVotedFor(in id) && (recovery is null || recovery.AllowsVote());
    }

    async ValueTask<long> IAuditTrail.CommitAsync(long endIndex, CancellationToken token)
    {
        var count = await CommitAsync(endIndex, token).ConfigureAwait(false);
        if (recovery is { IsRecovering: true })
            await recovery.OnCommitAsync(this, endIndex, LastCommittedEntryIndex, token).ConfigureAwait(false);
        return count;
    }

    async ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntry>(ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted, CancellationToken token)
    {
        if (skipCommitted)
        {
            // Walk the entries this log already has at those indexes: the same term means the same entry (Raft's log
            // matching property). The first conflicting entry, or the first beyond the log's end, starts the append.
            var index = startIndex;
            var committed = LastCommittedEntryIndex;
            var conflict = false;
            while (index <= LastEntryIndex && await entries.MoveNextAsync().ConfigureAwait(false))
            {
                // Read every entry, as DotNext's own loop does: its producer notes whether one has the leader's term.
                var entry = entries.Current;
                if (index > committed && await TermAtAsync(index, token).ConfigureAwait(false) != entry.Term)
                {
                    await AppendVerifiedAsync(new Prepended<TEntry>(entry, entries), index, skipCommitted: true, token).ConfigureAwait(false);
                    conflict = true;
                    break;
                }

                Interlocked.Increment(ref entriesAlreadyHeld);
                index++;
            }

            if (!conflict && index == LastEntryIndex + 1)
                await AppendVerifiedAsync(entries, index, skipCommitted: true, token).ConfigureAwait(false);
        }
        else
        {
            await AppendVerifiedAsync(entries, startIndex, skipCommitted, token).ConfigureAwait(false);
        }

        var flushing = System.Diagnostics.Stopwatch.GetTimestamp();
        await FlushAsync(token).ConfigureAwait(false);
        metrics?.FollowerFlushed(System.Diagnostics.Stopwatch.GetElapsedTime(flushing));
        Interlocked.Increment(ref followerFlushes);
    }

    private async ValueTask AppendVerifiedAsync<TEntry>(ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        var verified = new Verified<TEntry>(entries, startIndex, token);
        await AppendAsync(verified, startIndex, skipCommitted, token).ConfigureAwait(false);
        if (verified.Refused is { } refused)
        {
            Interlocked.Increment(ref receivedEntriesRefused);
            throw new InvalidDataException($"Received log entry {refused.Index} fails its checksum ({refused.Problem}): the append stops before it and is not acknowledged, so the leader sends it again.");
        }
    }

    private static System.Reflection.MethodInfo FindBaseIsVotedFor()
    {
        var map = typeof(WriteAheadLog).GetInterfaceMap(typeof(IPersistentState));
        var index = Array.FindIndex(map.InterfaceMethods, static m => m.Name == nameof(IPersistentState.IsVotedFor));
        return index >= 0 ? map.TargetMethods[index] : throw new MissingMethodException(nameof(WriteAheadLog), nameof(IPersistentState.IsVotedFor));
    }

    private async ValueTask<long> TermAtAsync(long index, CancellationToken token)
    {
        using var reader = await ReadAsync(index, index, token).ConfigureAwait(false);
        return reader[0].Term;
    }

    /// <summary>One entry already taken from a producer, then the rest of it.</summary>
    private sealed class Prepended<TEntry>(TEntry first, ILogEntryProducer<TEntry> rest) : ILogEntryProducer<TEntry>
        where TEntry : IRaftLogEntry
    {
        private bool firstTaken;

        public TEntry Current { get; private set; } = default!;

        public long RemainingCount => firstTaken ? rest.RemainingCount : rest.RemainingCount + 1;

        public ValueTask<bool> MoveNextAsync()
        {
            if (firstTaken)
                return MoveRestAsync();

            firstTaken = true;
            Current = first;
            return ValueTask.FromResult(true);
        }

        private async ValueTask<bool> MoveRestAsync()
        {
            if (!await rest.MoveNextAsync().ConfigureAwait(false))
                return false;

            Current = rest.Current;
            return true;
        }

        // The caller of the outer AppendAsync owns the producer.
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>
    /// The entries of a producer, each read into memory and its checksum verified; ends before the first that fails
    /// (<see cref="Refused"/>).
    /// </summary>
    private sealed class Verified<TEntry>(ILogEntryProducer<TEntry> source, long startIndex, CancellationToken token) : ILogEntryProducer<ReceivedEntry>
        where TEntry : IRaftLogEntry
    {
        private long index = startIndex - 1;

        /// <summary>The entry that failed and why, once one did.</summary>
        public (long Index, string? Problem)? Refused { get; private set; }

        public ReceivedEntry Current { get; private set; } = default!;

        public long RemainingCount => Refused is null ? source.RemainingCount : 0;

        public async ValueTask<bool> MoveNextAsync()
        {
            if (Refused is not null || !await source.MoveNextAsync().ConfigureAwait(false))
                return false;

            var entry = source.Current;
            index++;
            var content = entry.TryGetMemory(out var memory) ? memory : await entry.ToByteArrayAsync(token: token).ConfigureAwait(false);
            if (!entry.IsConfiguration && !LogEntryEnvelope.TryOpen(new ReadOnlySequence<byte>(content), out _, out var problem))
            {
                Refused = (index, problem);
                return false;
            }

            Current = new ReceivedEntry(entry.Term, entry.IsConfiguration, entry.CommandId, content);
            return true;
        }

        // The caller of the outer AppendAsync owns the source.
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A received entry held in memory.</summary>
    private sealed class ReceivedEntry(long term, bool isConfiguration, int? commandId, ReadOnlyMemory<byte> content) : IRaftLogEntry
    {
        public long Term => term;

        public bool IsConfiguration => isConfiguration;

        public int? CommandId => commandId;

        public bool IsSnapshot => false;

        public long? Length => content.Length;

        public bool IsReusable => true;

        public bool TryGetMemory(out ReadOnlyMemory<byte> memory)
        {
            memory = content;
            return true;
        }

        public ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
            where TWriter : notnull, IAsyncBinaryWriter
            => writer.Invoke(content, token);
    }
}
