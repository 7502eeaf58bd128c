using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Hashing;
using MessagePack;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Memory;
using RaftKv.StateMachine.Scripting;
using RaftKv.StateMachine.Sessions;
using RaftKv.StateMachine.Snapshots;

namespace RaftKv.StateMachine;

/// <summary>
/// The replicated state: a keyspace and the cluster time of the last applied entry. <see cref="Apply"/> is a pure
/// function of the state and the batch — no clock, randomness or I/O — so every replica that applies the same log
/// computes the same replies and ends in the same state.
/// </summary>
/// <remarks>
/// Not thread-safe. The node applies from one thread and lets readers in only while nothing applies. Stored values are
/// never mutated in place (a write stores a new array), so a reply may share them after the lock is released.
/// </remarks>
public sealed partial class KeyValueStore
{
    // 1: data, scripts. 2: data, scripts, sessions. 3: data, scripts, sessions, replicated settings. 4: the same, sessions
    // with their owner, and the ACL users: one MessagePack array, written whole. 5: streamed, checksummed blocks
    // (SnapshotFormat), its bounded part in the encoding of 4. All are read; 5 is written (4 only for the tests of the
    // upgrade path).
    private const int Format4 = 4;

    // The name each replicated setting has in a snapshot (and in the digest).
    private const string MaxMemoryName = "maxmemory";

    // Expired keys reclaimed per log entry: a floor, plus a share per command so the sweep keeps pace with any rate
    // of short-lived writes while one entry never pays for a million keys that expired at once.
    private const int SweepFloorPerEntry = 32;
    private const int SweepPerCommand = 2;

    // The deepest legitimate payload is 7 levels: batch → command array → union → SESSION.EXEC → union → DEL or EVAL →
    // its key array (a transaction needs 6; a test pins both). A log entry or a peer may send anything, and each level
    // is a stack frame of the decoder, so input nested far deeper than that is refused.
    private const int MaxObjectGraphDepth = 64;

    /// <summary>The MessagePack options used for everything this store persists or replicates.</summary>
    /// <remarks>
    /// Standard resolvers (the encoding is the one the log has always had) with
    /// <see cref="MessagePackSecurity.UntrustedData"/> and an object graph at most 64 deep: a payload comes from a log
    /// or a peer that may hold anything, and decoding one must fail with <see cref="MessagePackSerializationException"/>
    /// rather than overflow the stack.
    /// </remarks>
    public static MessagePackSerializerOptions SerializerOptions { get; } = MessagePackSerializerOptions.Standard
        .WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(MaxObjectGraphDepth));

    /// <summary>Databases, as Redis's <c>databases 16</c>. Fixed: it is part of the replicated state's shape.</summary>
    public const int DatabaseCount = 16;

    private readonly Keyspace[] keyspaces;
    private readonly ByteArrayComparer keyComparer;

    /// <summary>The databases (<c>SELECT 0</c> to <c>SELECT 15</c>).</summary>
    public IReadOnlyList<Keyspace> Databases => keyspaces;

    /// <summary>Database 0, where clients start.</summary>
    public Keyspace Keyspace => Databases[0];

    /// <summary>Client sessions (exactly-once writes), replicated like the data.</summary>
    public SessionTable Sessions { get; } = new();

    /// <summary>
    /// The ACL users, replicated like the data. The node reads it (AUTH, permission checks) under the same lock as any
    /// other inspection of the store.
    /// </summary>
    public AclTable Acl { get; } = new();

    /// <summary>Scripts cached by SHA1, replicated like the data.</summary>
    public ScriptCache Scripts { get; } = new();

    /// <summary>Creates an empty store whose scripts run under <paramref name="scriptLimits"/> (Redis-like defaults when null).</summary>
    /// <param name="scriptLimits">Script limits; Redis-like defaults when null.</param>
    /// <param name="keyHashSeed">
    /// The seed of the keys' hash tables (see <see cref="ByteArrayComparer"/>). Not part of the replicated state: replicas
    /// may and should use different ones, secret and random (the node draws one per process). Tests may leave it 0.
    /// </param>
    /// <remarks>
    /// The limits are part of the state machine's definition: every replica must be constructed with the same ones,
    /// or a script could stop at different points on different replicas.
    /// </remarks>
    public KeyValueStore(ScriptLimits? scriptLimits = null, UInt128 keyHashSeed = default)
    {
        keyComparer = ByteArrayComparer.Create(keyHashSeed);
        keyspaces = [.. Enumerable.Range(0, DatabaseCount).Select(_ => new Keyspace(keyComparer))];
        Scripting = new ScriptRuntime(this, scriptLimits ?? ScriptLimits.Default);
    }

    /// <summary>The Lua runtime (not replicated state: it starts every script from the same image).</summary>
    public ScriptRuntime Scripting { get; }

    /// <summary>Cluster time of the last applied batch (Unix ms); 0 before the first.</summary>
    public long ClusterTime { get; private set; }

    /// <summary>The log index of the last applied batch (as given to <see cref="Apply"/>), or of the restored snapshot.</summary>
    public long AppliedIndex { get; private set; }

    /// <summary>Expired keys reclaimed so far by the deterministic sweep (not replicated state; for INFO).</summary>
    public long ExpiredKeysReclaimed { get; private set; }

    /// <summary>
    /// <c>maxmemory</c> as the log set it (<see cref="ConfigSetCommand"/>), in bytes, 0 for no limit; null while it has
    /// never been set (a leader then proposes its configured value once). Replicated: in snapshots and the digest.
    /// </summary>
    public long? MaxMemorySetting { get; internal set; }

    /// <summary>
    /// The last fencing token granted (replicated: in snapshots and the digest). Each grant takes
    /// <c>max(last + 1, its command's log position)</c>, so tokens are strictly increasing across every lock of the cluster
    /// — also when one release grants several waiters — and stay equal to the log position when one command grants one.
    /// </summary>
    public long LastFencingToken { get; private set; }

    /// <summary>The fencing token of a grant by the command at <paramref name="logPosition"/>.</summary>
    internal long NextFencingToken(long logPosition) => LastFencingToken = Math.Max(LastFencingToken + 1, logPosition);

    private readonly List<Locks.LockNotice> lockNotices = [];

    internal void Notify(Locks.LockNotice notice) => lockNotices.Add(notice);

    /// <summary>
    /// What apply did to waiters since the last call (grants, waits that ended, waiters released), in apply order, for
    /// the node to complete the blocked acquires of its clients; empty when nothing changed. Not replicated state.
    /// </summary>
    public Locks.LockNotice[] TakeLockNotices()
    {
        if (lockNotices.Count == 0)
            return [];
        var taken = lockNotices.ToArray();
        lockNotices.Clear();
        return taken;
    }

    /// <summary>The memory limit writes are judged against, in bytes; 0 for none.</summary>
    public long MaxMemory => MaxMemorySetting ?? 0;

    /// <summary>What the cached scripts cost in <c>used_memory</c> (kept by the script commands; the cache is theirs).</summary>
    public long ScriptMemory { get; internal set; }

    /// <summary>
    /// <c>used_memory</c>: what the replicated state costs by <see cref="MemoryCosts"/> — keys and values of every
    /// database, their expiry index, sessions and their remembered replies, cached scripts. Kept up to date by every
    /// change (a sum of 18 counters), so equal on every replica at the same log position, and after a snapshot restore.
    /// </summary>
    public long UsedMemory
    {
        get
        {
            var used = Sessions.UsedMemory + ScriptMemory + Acl.UsedMemory;
            foreach (var database in keyspaces)
                used += database.UsedMemory + database.Locks.UsedMemory;
            return used;
        }
    }

    /// <summary>
    /// True when a write that adds <paramref name="growth"/> bytes may proceed: no limit is set, or
    /// <c>used_memory + growth</c> stays within <c>maxmemory</c>. With a growth of 0 this is Redis's own test
    /// (<c>used_memory &lt;= maxmemory</c>).
    /// </summary>
    public bool Admits(long growth) => MaxMemory <= 0 || growth <= MaxMemory - UsedMemory;

    /// <summary>
    /// What <c>maxmemory</c> would answer <paramref name="command"/> if it were applied now in
    /// <paramref name="database"/> at <paramref name="now"/>: <c>-OOM</c>, or null when it would be let through (or is
    /// not valid: apply judges that). For a leader refusing a write before it enters the log, so a full store does not
    /// fill the log with writes every replica would refuse; apply still decides for whatever reaches the log.
    /// </summary>
    public Reply? RefusalForMemory(WriteCommand command, int database, long now)
    {
        if (MaxMemory <= 0 || (uint)database >= DatabaseCount || command.Validate() is not null)
            return null;
        try
        {
            return command.MemoryGrowth(new CommandContext(this, database, Math.Max(now, ClusterTime))) is { } growth && !Admits(growth)
                ? RedisErrors.OutOfMemory
                : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null; // a command that cannot be judged here gets its answer from apply
        }
    }

    /// <summary>
    /// <see cref="UsedMemory"/> computed again from the whole state (O(state)): what the kept counters must equal. For
    /// tests and consistency checks.
    /// </summary>
    public long ComputeUsedMemory()
    {
        var used = 0L;
        foreach (var database in keyspaces)
        {
            foreach (var (key, entry) in database.Entries)
                used += MemoryCosts.Entry(key.Length, entry.Value.Length, entry.HasExpiry);
            foreach (var entry in database.Locks.Entries)
                used += Locks.LockSpace.Cost(entry);
        }

        foreach (var (_, body) in Scripts.Entries)
            used += MemoryCosts.Script(body.Length);
        foreach (var user in Acl.Users)
            used += AclTable.Cost(user);
        foreach (var session in Sessions.All)
        {
            used += MemoryCosts.PerSession;
            foreach (var (_, reply) in session.Replies)
                used += MemoryCosts.PerSessionReply + MemoryCosts.Reply(reply);
        }

        return used;
    }

    /// <summary>Applies a batch at its cluster time and returns one reply per command, in order.</summary>
    /// <param name="batch">The entry's commands.</param>
    /// <param name="index">The entry's Raft log index (fencing tokens and session ids derive from it; tests may omit it).</param>
    /// <remarks>
    /// Total for any batch that decodes: a command that fails <see cref="WriteCommand.Validate"/> answers its error and
    /// changes nothing; a position holding no command answers <c>ERR invalid command: null command</c>; a null
    /// <see cref="CommandBatch.Commands"/> is a batch of none; a <see cref="CommandBatch.Databases"/> not parallel to the
    /// commands makes every command answer <c>ERR invalid command batch: ...</c> (which database each meant is unknown),
    /// and a database out of range makes its command answer <c>ERR DB index is out of range</c>. The cluster time
    /// still advances and expired keys are still swept, as for any entry.
    /// </remarks>
    public Reply[] Apply(CommandBatch batch, long index = 0)
    {
        var commands = batch.Commands ?? [];

        // Defensive max: a leader never stamps backwards, but if a bug did, time here still would not.
        var now = ClusterTime = Math.Max(ClusterTime, batch.Timestamp);
        AppliedIndex = Math.Max(AppliedIndex, index);

        // Counted up to the commands an entry may hold: the product stays small, whatever a malformed entry declares.
        var budget = SweepFloorPerEntry + (SweepPerCommand * Math.Min(commands.Length, CommandContext.MaxCommandsPerEntry));
        foreach (var database in Databases)
        {
            if (budget <= 0)
                break;
            var swept = database.SweepExpired(now, budget);
            budget -= swept;
            ExpiredKeysReclaimed += swept;
        }

        Sessions.SweepExpired(now, SweepFloorPerEntry);

        // Locks whose lease or wait ended: their next waiters are granted in this entry (at most as many locks as the
        // key sweep's budget), and the mutexes whose key the sweep removed.
        var lockBudget = SweepFloorPerEntry + (SweepPerCommand * Math.Min(commands.Length, CommandContext.MaxCommandsPerEntry));
        var first = CommandContext.ToLogPosition(index, 0);
        for (var database = 0; database < DatabaseCount; database++)
        {
            var locks = keyspaces[database].Locks;
            var context = new CommandContext(this, database, now, first);
            if (locks.HasGone)
                locks.PumpGone(context);
            if (lockBudget > 0 && locks.HasDueAt(now))
                lockBudget -= locks.ProcessDue(context, lockBudget);
        }

        var databases = batch.Databases;
        var databasesMatch = databases is null || databases.Length == commands.Length;
        var users = batch.Users;
        var usersMatch = users is null || users.Length == commands.Length;
        var replies = new Reply[commands.Length];
        for (var i = 0; i < replies.Length; i++)
        {
            var database = databases is null || !databasesMatch ? 0 : databases[i];
            // The proposer never puts more commands in an entry than positions fit in a log position; if an entry did,
            // the extra commands fail alike on every replica rather than share fencing tokens.
            replies[i] = i >= CommandContext.MaxCommandsPerEntry ? EntryTooLarge
                : !databasesMatch ? RedisErrors.DatabasesMismatch
                : !usersMatch ? UsersMismatch
                : database >= DatabaseCount ? InvalidDatabase
                : commands[i] is not { } command ? RedisErrors.NullCommand
                : ResolveUser(users?[i]) is not { } user ? UserGone
                : ApplyOne(command, new CommandContext(this, database, now, CommandContext.ToLogPosition(index, i), user));
            GrantFreedMutexes(now, CommandContext.ToLogPosition(index, i));
        }

        return replies;
    }

    // A command that removed mutex keys (a release, DEL, an EVAL of the compare-and-delete script, FLUSHDB...) hands
    // them to their next waiters before the next command runs, in any database it touched.
    private void GrantFreedMutexes(long now, long logPosition)
    {
        for (var database = 0; database < DatabaseCount; database++)
        {
            var locks = keyspaces[database].Locks;
            if (locks.HasGone)
                locks.PumpGone(new CommandContext(this, database, now, logPosition));
        }
    }

    // The user a command of the batch runs as: default for none; null when it was deleted since the node accepted the
    // command (every replica sees the same table at this point of the log).
    private AclUser? ResolveUser(string? name) => name is null ? Acl.Default : Acl.Find(name);

    private static Reply UsersMismatch { get; } = Reply.Error("ERR invalid command batch: Users does not match Commands");

    /// <summary>The answer to a command whose user was deleted after the node accepted it: nothing changes.</summary>
    public static Reply UserGone { get; } = Reply.Error("NOPERM the user this command was sent as no longer exists");

    /// <summary>
    /// Exchanges the contents of two databases (<c>SWAPDB</c>): a client that selected one of them sees the other's
    /// keys from now on, as in Redis.
    /// </summary>
    public void SwapDatabases(int first, int second)
        => (keyspaces[first], keyspaces[second]) = (keyspaces[second], keyspaces[first]);

    /// <summary>
    /// True when some database holds a key expired at <paramref name="now"/>, or a lock whose lease or wait ended: an
    /// entry applied at that time would reclaim it (and hand the lock to its next waiter). Cheap (one look at each database's soonest expiry), for a leader deciding whether an idle cluster
    /// needs an entry to sweep.
    /// </summary>
    public bool HasExpiredKeysAt(long now)
    {
        foreach (var database in keyspaces)
        {
            if (database.HasExpiredAt(now) || database.Locks.HasDueAt(now))
                return true;
        }

        return false;
    }

    // A command that throws is a bug, but it must not stop the applier (the node would stall) or make replicas
    // differ: every replica throws at the same point of the same command, so every replica answers the same error.
    // The command is checked first: nothing guarantees it came from our parser. An OutOfMemoryException is not the
    // command's fault and could strike one replica only: answering it would make that replica differ, so it propagates
    // and stops this replica's applier (the node reports it). Writes that could allocate without bound are refused
    // before they allocate instead: by maxmemory (WriteCommand.Apply) and by the length ceilings.
    private static Reply ApplyOne(WriteCommand command, in CommandContext context)
    {
        try
        {
            return command.Validate() ?? command.Apply(context);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Reply.Error("ERR internal error while applying the command: " + e.GetType().Name);
        }
    }

    /// <summary>
    /// Runs a read. Expiry is judged at the later of the serving node's clock and the last applied cluster time, so
    /// a key never reappears on a node whose clock lags and never outlives its TTL on an idle cluster.
    /// </summary>
    public Reply Read(ReadCommand command, int database, long localClockMs) => Read(command, database, localClockMs, null);

    /// <summary>
    /// Runs a read as <paramref name="user"/> (a script's calls are checked against it: <c>EVAL_RO</c>); null for
    /// <c>default</c>.
    /// </summary>
    public Reply Read(ReadCommand command, int database, long localClockMs, AclUser? user)
        => (uint)database < DatabaseCount
            ? command.Execute(new CommandContext(this, database, Math.Max(localClockMs, ClusterTime), user: user))
            : InvalidDatabase;

    /// <summary>Runs a read in database 0.</summary>
    public Reply Read(ReadCommand command, long localClockMs) => Read(command, 0, localClockMs);

    private static Reply EntryTooLarge { get; } = Reply.Error("ERR too many commands in one log entry");

    /// <summary><c>ERR DB index is out of range</c>.</summary>
    public static Reply InvalidDatabase { get; } = Reply.Error("ERR DB index is out of range");

    /// <summary>Serialises a batch into a log entry payload, inside a <see cref="LogEntryEnvelope"/> unless <paramref name="checksum"/> is false.</summary>
    /// <param name="destination">Where the payload is appended.</param>
    /// <param name="batch">The batch.</param>
    /// <param name="checksum">
    /// False writes the bare MessagePack of the log before envelopes (what <c>RaftKv:LogChecksums=false</c> proposes, to
    /// measure the checksum's cost); both forms are always read.
    /// </param>
    public static void WriteBatch(ArrayBufferWriter<byte> destination, CommandBatch batch, bool checksum = true)
    {
        if (!checksum)
        {
            MessagePackSerializer.Serialize(destination, batch, SerializerOptions);
            return;
        }

        var start = LogEntryEnvelope.Begin(destination);
        MessagePackSerializer.Serialize(destination, batch, SerializerOptions);
        LogEntryEnvelope.Seal(destination, start);
    }

    /// <summary>Reads a batch from a log entry payload, with or without an envelope.</summary>
    /// <exception cref="MessagePackSerializationException">The payload is not exactly one batch.</exception>
    /// <exception cref="InvalidDataException">The payload's envelope fails its checksum.</exception>
    /// <remarks>The decoded commands are not checked here: <see cref="Apply"/> validates each one.</remarks>
    public static CommandBatch ReadBatch(in ReadOnlySequence<byte> payload)
        => LogEntryEnvelope.TryOpen(payload, out var body, out var problem)
            ? ReadBareBatch(body)
            : throw new InvalidDataException("The log entry is damaged: " + problem);

    private static CommandBatch ReadBareBatch(in ReadOnlySequence<byte> body)
    {
        var reader = new MessagePackReader(body);
        var batch = MessagePackSerializer.Deserialize<CommandBatch>(ref reader, SerializerOptions)
                    ?? throw new MessagePackSerializationException("The payload is nil, not a command batch.");
        return reader.End ? batch : throw new MessagePackSerializationException("Trailing bytes after the command batch.");
    }

    /// <summary>
    /// Reads a batch from a log entry payload, or says why it is none and whether that is the entry's fault (the same
    /// on every replica) or this copy's (damaged here).
    /// </summary>
    /// <param name="payload">The entry's payload.</param>
    /// <param name="batch">The batch, set exactly when <see cref="LogPayloadStatus.Batch"/> is returned.</param>
    /// <param name="problem">Why the payload is not a batch (for a log line), when it is not.</param>
    /// <returns>What the payload is.</returns>
    /// <remarks>
    /// Bad input of every kind — truncated, ill-typed, an unknown union shape, numbers out of range, nesting deeper than
    /// the options allow, trailing bytes, nil — inside a verified envelope, or in a payload without one, is
    /// <see cref="LogPayloadStatus.Undecodable"/>. An <see cref="OutOfMemoryException"/> is not input's fault and could
    /// strike one replica only, so it propagates.
    /// </remarks>
    public static LogPayloadStatus ReadLogPayload(in ReadOnlySequence<byte> payload, out CommandBatch? batch, out string? problem)
    {
        batch = null;
        if (!LogEntryEnvelope.TryOpen(payload, out var body, out problem))
            return LogPayloadStatus.ChecksumMismatch;

        try
        {
            batch = ReadBareBatch(body);
            return LogPayloadStatus.Batch;
        }
        // MessagePackSerializer wraps whatever a formatter throws (EndOfStreamException, OverflowException,
        // InvalidOperationException for a malformed union, InsufficientExecutionStackException for depth) in this one.
        catch (MessagePackSerializationException e) when (!CausedByOutOfMemory(e))
        {
            // A marker damaged into an array header reads as a bare batch that does not decode.
            if (LogEntryEnvelope.IsDamagedEnvelope(payload))
            {
                problem = LogEntryEnvelope.DamagedMarker(payload.FirstSpan[0]);
                return LogPayloadStatus.ChecksumMismatch;
            }

            problem = Describe(e);
            return LogPayloadStatus.Undecodable;
        }

        static bool CausedByOutOfMemory(Exception e)
        {
            for (Exception? cause = e; cause is not null; cause = cause.InnerException)
            {
                if (cause is OutOfMemoryException)
                    return true;
            }

            return false;
        }

        static string Describe(Exception e)
        {
            var text = e.Message;
            for (var cause = e.InnerException; cause is not null; cause = cause.InnerException)
                text += " " + cause.Message;
            return text;
        }
    }

    /// <summary>
    /// Takes a point-in-time view of the whole state, at log position <paramref name="index"/>/<paramref name="term"/>,
    /// to be written out while apply goes on (<see cref="SnapshotView"/>). The caller holds exclusive access; O(number
    /// of databases) plus serializing scripts, sessions, users and settings, which limits keep small.
    /// </summary>
    public SnapshotView BeginSnapshot(long index, long term)
    {
        var meta = new ArrayBufferWriter<byte>(1024);
        var writer = new MessagePackWriter(meta);
        writer.WriteArrayHeader(5);
        WriteBoundedState(ref writer);
        WriteLocks(ref writer);
        writer.Flush();

        var captures = new List<(Keyspace, KeyspaceCapture)>();
        for (var database = 0; database < DatabaseCount; database++)
        {
            if (keyspaces[database].Count > 0)
                captures.Add((keyspaces[database], keyspaces[database].Capture(database)));
        }

        return new SnapshotView(new SnapshotPosition(index, term, ClusterTime), meta.WrittenSpan.ToArray(), captures);
    }

    /// <summary>
    /// Writes the whole state as a snapshot of format 5 at once (<see cref="BeginSnapshot"/> and
    /// <see cref="SnapshotView.WriteTo"/> with nothing applying meanwhile), at the applied index and term 0.
    /// </summary>
    public void WriteSnapshot(IBufferWriter<byte> destination)
    {
        using var view = BeginSnapshot(AppliedIndex, 0);
        using var stream = new BufferWriterStream(destination);
        view.WriteTo(stream, static () => NoLock.Instance, CancellationToken.None);
    }

    /// <summary>
    /// Writes the whole state in format 4, one MessagePack array: <c>[version, clusterTime, [[database, [[key, value,
    /// expireAt]...]]...], [[sha, body]...], [session...], {setting: value}, acl]</c>, non-empty databases only; a
    /// session is <c>[id, ttl, expireAt, acknowledgedBelow, [[seq, reply]...]]</c>. What nodes wrote before format 5:
    /// kept for the tests that prove such snapshots still restore.
    /// </summary>
    internal void WriteSnapshotFormat4(IBufferWriter<byte> destination)
    {
        var writer = new MessagePackWriter(destination);
        writer.WriteArrayHeader(7);
        writer.Write(Format4);
        writer.Write(ClusterTime);
        var nonEmpty = Databases.Count(static d => d.Count > 0);
        writer.WriteArrayHeader(nonEmpty);
        for (var index = 0; index < DatabaseCount; index++)
        {
            var database = Databases[index];
            if (database.Count == 0)
                continue;

            writer.WriteArrayHeader(2);
            writer.Write(index);
            writer.WriteArrayHeader(database.Count);
            foreach (var (key, entry) in database.Entries)
            {
                writer.WriteArrayHeader(3);
                writer.Write(key);
                writer.Write(entry.Value);
                writer.Write(entry.ExpireAt);
            }

            writer.Flush();
        }

        WriteBoundedState(ref writer);
        writer.Flush();
    }

    // Scripts, sessions, settings and users: the part of the state limits keep small, as formats 4 and 5 hold it.
    private void WriteBoundedState(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(Scripts.Count);
        foreach (var (sha, body) in Scripts.Entries)
        {
            writer.WriteArrayHeader(2);
            writer.Write(sha);
            writer.Write(body);
        }

        writer.WriteArrayHeader(Sessions.Count);
        foreach (var session in Sessions.All)
            WriteSession(ref writer, session);

        writer.WriteMapHeader(MaxMemorySetting is null ? 0 : 1);
        if (MaxMemorySetting is { } maxMemory)
        {
            writer.Write(MaxMemoryName);
            writer.Write(maxMemory);
        }

        WriteAcl(ref writer);
    }

    // [initialized, version, [[name, [rule...]]...]]: each user as the rules that rebuild it from a new user.
    private void WriteAcl(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Acl.Initialized);
        writer.Write(Acl.Version);
        writer.WriteArrayHeader(Acl.Count);
        foreach (var user in Acl.Users)
        {
            writer.WriteArrayHeader(2);
            writer.Write(System.Text.Encoding.Latin1.GetBytes(user.Name));
            var rules = user.DescribeRules();
            writer.WriteArrayHeader(rules.Count);
            foreach (var rule in rules)
                writer.Write(System.Text.Encoding.Latin1.GetBytes(rule));
        }
    }

    private static (bool Initialized, long Version, List<AclUser> Users) ReadAcl(ref MessagePackReader reader)
    {
        if (reader.ReadArrayHeader() != 3)
            throw new InvalidDataException("Malformed ACL table in snapshot.");
        var initialized = reader.ReadBoolean();
        var version = reader.ReadInt64();
        var count = reader.ReadArrayHeader();
        var users = new List<AclUser>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            if (reader.ReadArrayHeader() != 2)
                throw new InvalidDataException("Malformed ACL user in snapshot.");
            var nameBytes = ReadBytes(ref reader);
            if (nameBytes.Length > AclTable.MaxNameBytes)
                throw new InvalidDataException("ACL user name too long in snapshot.");
            var name = System.Text.Encoding.Latin1.GetString(nameBytes);
            var ruleCount = reader.ReadArrayHeader();
            var rules = new List<byte[]>();
            for (var r = 0; r < ruleCount; r++)
                rules.Add(ReadBytes(ref reader));
            if (!names.Add(name) || AclTable.Build(name, rules, out _, out _) is not { } user)
                throw new InvalidDataException("Malformed ACL user in snapshot.");
            users.Add(user);
        }

        if (!names.Contains(AclTable.DefaultUserName))
            throw new InvalidDataException("Snapshot ACL table lacks the default user.");
        return (initialized, version, users);
    }

    // A session of default is written as before owners existed (5 fields), so its digest is unchanged.
    private static void WriteSession(ref MessagePackWriter writer, Session session)
    {
        var owned = session.Owner != AclTable.DefaultUserName;
        writer.WriteArrayHeader(owned ? 6 : 5);
        writer.Write(session.Id);
        writer.Write(session.Ttl);
        writer.Write(session.ExpireAt);
        writer.Write(session.AcknowledgedBelow);
        writer.WriteArrayHeader(session.Replies.Count);
        foreach (var (sequence, reply) in session.Replies)
        {
            writer.WriteArrayHeader(2);
            writer.Write(sequence);
            ReplySerializer.Write(ref writer, reply);
        }

        if (owned)
            writer.Write(System.Text.Encoding.Latin1.GetBytes(session.Owner));
    }

    private static Session ReadSession(ref MessagePackReader reader)
    {
        var fields = reader.ReadArrayHeader();
        if (fields is not (5 or 6))
            throw new InvalidDataException("Malformed session in snapshot.");
        var session = new Session(reader.ReadInt64(), reader.ReadInt64())
        {
            ExpireAt = reader.ReadInt64(),
            AcknowledgedBelow = reader.ReadInt64(),
        };
        var replies = reader.ReadArrayHeader();
        for (var i = 0; i < replies; i++)
        {
            if (reader.ReadArrayHeader() != 2)
                throw new InvalidDataException("Malformed session reply in snapshot.");
            session.Remember(reader.ReadInt64(), ReplySerializer.Read(ref reader));
        }

        if (fields == 6)
            session.Owner = System.Text.Encoding.Latin1.GetString(ReadBytes(ref reader));
        return session;
    }

    /// <summary>Replaces the whole state with a snapshot of any format (<see cref="RestoreSnapshot(Stream)"/>).</summary>
    /// <exception cref="InvalidDataException">The snapshot is malformed or of an unknown format; the state is unchanged.</exception>
    public SnapshotPosition RestoreSnapshot(in ReadOnlySequence<byte> snapshot)
    {
        using var stream = new ReadOnlySequenceStream(snapshot);
        return RestoreSnapshot(stream);
    }

    /// <summary>
    /// Replaces the whole state with the snapshot read from <paramref name="source"/>: format 5 streamed, block by
    /// block, every checksum checked before a byte of the block is used; formats 1–4 read whole. The new state is built
    /// beside the old one and takes its place only once the snapshot has been read to its end, so a damaged snapshot
    /// changes nothing.
    /// </summary>
    /// <returns>The snapshot's log position (index and term 0 for formats 1–4, which did not record them).</returns>
    /// <exception cref="InvalidDataException">The snapshot is damaged, malformed or of an unknown format (the message
    /// says where); the state is unchanged.</exception>
    public SnapshotPosition RestoreSnapshot(Stream source) => Install(ReadSnapshot(source));

    /// <summary>
    /// Reads and checks a snapshot of any format into a new state beside this one, which it leaves untouched: the long
    /// part of a restore, which needs no lock. <see cref="Install"/> then swaps it in.
    /// </summary>
    /// <exception cref="InvalidDataException">The snapshot is damaged, malformed or of an unknown format.</exception>
    public PreparedSnapshot ReadSnapshot(Stream source)
    {
        var start = new byte[SnapshotFormat.HeaderBytes];
        var read = source.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        return read >= 8 && SnapshotFormat.IsStreamed(start)
            ? ReadStreamed(start.AsSpan(0, read), source)
            : ReadWhole(start.AsSpan(0, read), source);
    }

    /// <summary>Replaces the whole state with one <see cref="ReadSnapshot"/> prepared (by this store: same key hashing).</summary>
    /// <param name="restored">The prepared snapshot.</param>
    /// <param name="index">The log index it stands for, when the caller knows better than the snapshot (formats 1–4 did not record it).</param>
    public SnapshotPosition Install(PreparedSnapshot restored, long? index = null)
    {
        for (var database = 0; database < DatabaseCount; database++)
            keyspaces[database] = restored.Databases[database];
        ClusterTime = restored.Position.ClusterTime;
        AppliedIndex = index ?? restored.Position.Index;
        LastFencingToken = restored.LastFencingToken;
        lockNotices.Clear();
        MaxMemorySetting = restored.MaxMemory;
        Scripts.Clear();
        ScriptMemory = 0;
        foreach (var (sha, body) in restored.Scripts)
        {
            Scripts.Restore(sha, body);
            ScriptMemory += MemoryCosts.Script(body.Length);
        }

        Sessions.Clear();
        foreach (var session in restored.Sessions)
            Sessions.Restore(session);
        if (restored.Acl is var (initialized, aclVersion, users))
            Acl.Restore(initialized, aclVersion, users);
        else
            Acl.Reset();
        return restored.Position;
    }

    /// <summary>A snapshot read and checked, not yet installed (<see cref="ReadSnapshot"/>).</summary>
    public sealed class PreparedSnapshot
    {
        internal PreparedSnapshot(Keyspace[] databases) => Databases = databases;

        /// <summary>Where the snapshot says it was taken (index and term 0 for formats 1–4).</summary>
        public SnapshotPosition Position { get; internal set; }

        /// <summary>Keys stored, in every database.</summary>
        public long Keys => Databases.Sum(static d => (long)d.Count);

        internal Keyspace[] Databases { get; }

        internal List<(string Sha, byte[] Body)> Scripts { get; } = [];

        internal List<Session> Sessions { get; } = [];

        internal long? MaxMemory { get; set; }

        internal (bool Initialized, long Version, List<AclUser> Users)? Acl { get; set; }

        internal long LastFencingToken { get; set; }

        internal List<(int Database, Locks.LockEntry Entry)> Locks { get; } = [];
    }

    private Keyspace[] NewDatabases() => [.. Enumerable.Range(0, DatabaseCount).Select(_ => new Keyspace(keyComparer))];

    private PreparedSnapshot ReadStreamed(ReadOnlySpan<byte> header, Stream source)
    {
        using var headerStream = new MemoryStream(header.ToArray());
        var restored = new PreparedSnapshot(NewDatabases()) { Position = SnapshotFormat.ReadHeader(headerStream) };
        using var reader = new SnapshotBlockReader(source);
        var meta = reader.ReadBytes(Array.MaxLength, "meta record");
        try
        {
            var metaReader = new MessagePackReader(meta);
            var fields = metaReader.ReadArrayHeader();
            if (fields is not (4 or 5))
                throw new InvalidDataException("Malformed meta record in snapshot.");
            ReadBoundedState(ref metaReader, Format4, restored);
            if (fields == 5)
                ReadLocks(ref metaReader, restored);
            if (!metaReader.End)
                throw new InvalidDataException("Trailing bytes after the snapshot's meta record.");
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            throw new InvalidDataException("Malformed meta record in snapshot.", e);
        }

        while (reader.ReadByte() is var database && database != SnapshotFormat.EndOfRecords)
        {
            if (database >= DatabaseCount)
                throw new InvalidDataException($"A key of database {database} at payload byte {reader.Consumed}: out of range.");
            var key = reader.ReadBytes(Array.MaxLength, "key");
            var expireAt = reader.ReadInt64();
            var value = reader.ReadBytes(Array.MaxLength, "value");
            if (!restored.Databases[database].TryRestore(key, value, expireAt))
                throw new InvalidDataException($"A key appears twice in database {database} of the snapshot (payload byte {reader.Consumed}).");
        }

        reader.ReadEnd();
        RestoreLocks(restored);
        return restored;
    }

    private PreparedSnapshot ReadWhole(ReadOnlySpan<byte> start, Stream source)
    {
        // Formats 1–4 were written in one buffer, so they are below 2 GiB.
        using var whole = new MemoryStream();
        whole.Write(start);
        source.CopyTo(whole);
        var reader = new MessagePackReader(new ReadOnlyMemory<byte>(whole.GetBuffer(), 0, (int)whole.Length));
        var restored = new PreparedSnapshot(NewDatabases());
        try
        {
            var fields = reader.ReadArrayHeader();
            var version = reader.ReadInt32();
            if ((version, fields) is not ((1, 4) or (2, 5) or (3, 6) or (4, 7)))
                throw new InvalidDataException("Unknown snapshot format.");

            restored.Position = new SnapshotPosition(0, 0, reader.ReadInt64());
            var databases = reader.ReadArrayHeader();
            for (var d = 0; d < databases; d++)
            {
                if (reader.ReadArrayHeader() != 2 || reader.ReadInt32() is var index && (uint)index >= DatabaseCount)
                    throw new InvalidDataException("Malformed database in snapshot.");

                var count = reader.ReadArrayHeader();
                for (var i = 0; i < count; i++)
                {
                    if (reader.ReadArrayHeader() != 3)
                        throw new InvalidDataException("Malformed entry in snapshot.");
                    var key = ReadBytes(ref reader);
                    var value = ReadBytes(ref reader);
                    if (!restored.Databases[index].TryRestore(key, value, reader.ReadInt64()))
                        throw new InvalidDataException("A key appears twice in a database of the snapshot.");
                }
            }

            ReadBoundedState(ref reader, version, restored);
            if (!reader.End)
                throw new InvalidDataException("Trailing bytes after the snapshot.");
        }
        // The reader signals a short or ill-typed input with these three; none of them may leave a half-restored state.
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            throw new InvalidDataException("Malformed snapshot.", e);
        }

        return restored;
    }

    private static void ReadBoundedState(ref MessagePackReader reader, int version, PreparedSnapshot restored)
    {
        var scriptCount = reader.ReadArrayHeader();
        for (var i = 0; i < scriptCount; i++)
        {
            if (reader.ReadArrayHeader() != 2 || reader.ReadString() is not { Length: 40 } sha)
                throw new InvalidDataException("Malformed script in snapshot.");
            restored.Scripts.Add((sha, ReadBytes(ref reader)));
        }

        var sessionCount = version >= 2 ? reader.ReadArrayHeader() : 0;
        for (var i = 0; i < sessionCount; i++)
            restored.Sessions.Add(ReadSession(ref reader));

        var settings = version >= 3 ? reader.ReadMapHeader() : 0;
        for (var i = 0; i < settings; i++)
        {
            // A setting this version does not know cannot be honoured: refuse the snapshot rather than drop it.
            if (reader.ReadString() != MaxMemoryName || restored.MaxMemory is not null || reader.ReadInt64() is not (>= 0 and var value))
                throw new InvalidDataException("Unknown or malformed setting in snapshot.");
            restored.MaxMemory = value;
        }

        if (version >= 4)
            restored.Acl = ReadAcl(ref reader);
    }

    private static byte[] ReadBytes(ref MessagePackReader reader)
        => reader.ReadBytes() is { } bytes ? bytes.ToArray() : throw new InvalidDataException("Null key or value in snapshot.");

    /// <summary>
    /// A digest of the whole replicated state, independent of dictionary order: equal on replicas that applied the
    /// same log, also when one of them was restored from a snapshot.
    /// </summary>
    public string ComputeDigest()
    {
        // Sum of per-entry hashes: commutative, so no sort; two seeds make accidental collisions negligible.
        ulong low = 0, high = 0;
        var keys = 0;
        Span<byte> header = stackalloc byte[sizeof(long) + sizeof(int) + 2];
        var hasher = new XxHash3();
        for (var index = 0; index < DatabaseCount; index++)
        {
            keys += Databases[index].Count;
            foreach (var (key, entry) in Databases[index].Entries)
            {
                BinaryPrimitives.WriteInt64LittleEndian(header, entry.ExpireAt);
                BinaryPrimitives.WriteInt32LittleEndian(header[sizeof(long)..], key.Length);
                header[^2] = (byte)index;
                header[^1] = 0;
                low += HashEntry(hasher, header, key, entry.Value);
                header[^1] = 1;
                high += HashEntry(hasher, header, key, entry.Value);
            }
        }

        foreach (var (sha, body) in Scripts.Entries)
        {
            // Scripts hash like entries of a database no key can be in (index 255).
            header.Clear();
            header[^2] = byte.MaxValue;
            low += HashEntry(hasher, header, System.Text.Encoding.ASCII.GetBytes(sha), body);
            header[^1] = 1;
            high += HashEntry(hasher, header, System.Text.Encoding.ASCII.GetBytes(sha), body);
        }

        var sessionBytes = new ArrayBufferWriter<byte>(256);
        foreach (var session in Sessions.All)
        {
            // Sessions hash like entries of database 254, their whole record as the value.
            sessionBytes.ResetWrittenCount();
            var writer = new MessagePackWriter(sessionBytes);
            WriteSession(ref writer, session);
            writer.Flush();
            header.Clear();
            header[^2] = byte.MaxValue - 1;
            var record = sessionBytes.WrittenSpan.ToArray();
            low += HashEntry(hasher, header, [], record);
            header[^1] = 1;
            high += HashEntry(hasher, header, [], record);
        }

        if (MaxMemorySetting is { } maxMemory)
        {
            // Settings hash like entries of database 253, by name; a state that never set one hashes as before they existed.
            Span<byte> value = stackalloc byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(value, maxMemory);
            header.Clear();
            header[^2] = byte.MaxValue - 2;
            var name = System.Text.Encoding.ASCII.GetBytes(MaxMemoryName);
            low += HashEntry(hasher, header, name, value.ToArray());
            header[^1] = 1;
            high += HashEntry(hasher, header, name, value.ToArray());
        }

        if (Acl.Initialized)
        {
            // ACL users hash like entries of database 252, each its ACL LIST line; the table's version as one more. A
            // table never changed hashes as before users existed.
            foreach (var user in Acl.Users)
            {
                header.Clear();
                header[^2] = byte.MaxValue - 3;
                var line = System.Text.Encoding.Latin1.GetBytes(user.Describe());
                low += HashEntry(hasher, header, [], line);
                header[^1] = 1;
                high += HashEntry(hasher, header, [], line);
            }

            Span<byte> version = stackalloc byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(version, Acl.Version);
            header.Clear();
            header[^2] = byte.MaxValue - 4;
            low += HashEntry(hasher, header, [], version.ToArray());
            header[^1] = 1;
            high += HashEntry(hasher, header, [], version.ToArray());
        }

        DigestLocks(hasher, ref low, ref high);
        return string.Create(CultureInfo.InvariantCulture, $"{keys}:{Scripts.Count}:{Sessions.Count}:{ClusterTime}:{high:x16}{low:x16}");

        static ulong HashEntry(XxHash3 hasher, ReadOnlySpan<byte> header, byte[] key, byte[] value)
        {
            hasher.Reset();
            hasher.Append(header);
            hasher.Append(key);
            hasher.Append(value);
            return hasher.GetCurrentHashAsUInt64();
        }
    }

    internal static Reply InvalidExpireTime(string command) => Reply.Error($"ERR invalid expire time in '{command}' command");
}
