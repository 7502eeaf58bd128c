using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using MessagePack;
using RaftKv.StateMachine.Commands;

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
public sealed class KeyValueStore
{
    private const int SnapshotFormatVersion = 1;

    // Expired keys reclaimed per log entry: a floor, plus a share per command so the sweep keeps pace with any rate
    // of short-lived writes while one entry never pays for a million keys that expired at once.
    private const int SweepFloorPerEntry = 32;
    private const int SweepPerCommand = 2;

    /// <summary>The MessagePack options used for everything this store persists or replicates.</summary>
    public static MessagePackSerializerOptions SerializerOptions { get; } = MessagePackSerializerOptions.Standard;

    /// <summary>The data.</summary>
    public Keyspace Keyspace { get; } = new();

    /// <summary>Cluster time of the last applied batch (Unix ms); 0 before the first.</summary>
    public long ClusterTime { get; private set; }

    /// <summary>Expired keys reclaimed so far by the deterministic sweep (not replicated state; for INFO).</summary>
    public long ExpiredKeysReclaimed { get; private set; }

    /// <summary>Applies a batch at its cluster time and returns one reply per command, in order.</summary>
    public Reply[] Apply(CommandBatch batch)
    {
        // Defensive max: a leader never stamps backwards, but if a bug did, time here still would not.
        var now = ClusterTime = Math.Max(ClusterTime, batch.Timestamp);
        ExpiredKeysReclaimed += Keyspace.SweepExpired(now, SweepFloorPerEntry + (SweepPerCommand * batch.Commands.Length));

        var replies = new Reply[batch.Commands.Length];
        for (var i = 0; i < replies.Length; i++)
            replies[i] = batch.Commands[i].Apply(this, now);

        return replies;
    }

    /// <summary>
    /// Runs a read. Expiry is judged at the later of the serving node's clock and the last applied cluster time, so
    /// a key never reappears on a node whose clock lags and never outlives its TTL on an idle cluster.
    /// </summary>
    public Reply Read(ReadCommand command, long localClockMs) => command.Execute(this, Math.Max(localClockMs, ClusterTime));

    /// <summary>Serialises a batch into a log entry payload.</summary>
    public static void WriteBatch(IBufferWriter<byte> destination, CommandBatch batch)
        => MessagePackSerializer.Serialize(destination, batch, SerializerOptions);

    /// <summary>Reads a batch from a log entry payload.</summary>
    public static CommandBatch ReadBatch(in ReadOnlySequence<byte> payload)
        => MessagePackSerializer.Deserialize<CommandBatch>(payload, SerializerOptions);

    /// <summary>Writes the whole state (format version, cluster time, then every entry).</summary>
    public void WriteSnapshot(IBufferWriter<byte> destination)
    {
        var writer = new MessagePackWriter(destination);
        writer.WriteArrayHeader(3);
        writer.Write(SnapshotFormatVersion);
        writer.Write(ClusterTime);
        writer.WriteArrayHeader(Keyspace.Count);
        foreach (var (key, entry) in Keyspace.Entries)
        {
            writer.WriteArrayHeader(3);
            writer.Write(key);
            writer.Write(entry.Value);
            writer.Write(entry.ExpireAt);
        }

        writer.Flush();
    }

    /// <summary>Replaces the whole state with a snapshot written by <see cref="WriteSnapshot"/>.</summary>
    /// <exception cref="InvalidDataException">The snapshot is malformed or of an unknown format.</exception>
    public void RestoreSnapshot(in ReadOnlySequence<byte> snapshot)
    {
        var reader = new MessagePackReader(snapshot);
        long clusterTime;
        List<(byte[] Key, byte[] Value, long ExpireAt)> restored;
        try
        {
            if (reader.ReadArrayHeader() < 3 || reader.ReadInt32() is var version && version != SnapshotFormatVersion)
                throw new InvalidDataException("Unknown snapshot format.");

            clusterTime = reader.ReadInt64();
            var count = reader.ReadArrayHeader();
            restored = [];
            for (var i = 0; i < count; i++)
            {
                reader.ReadArrayHeader();
                var key = ReadBytes(ref reader);
                var value = ReadBytes(ref reader);
                restored.Add((key, value, reader.ReadInt64()));
            }
        }
        // The reader signals a short or ill-typed input with these three; none of them may leave a half-restored state.
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            throw new InvalidDataException("Malformed snapshot.", e);
        }

        Keyspace.Clear();
        ClusterTime = clusterTime;
        foreach (var (key, value, expireAt) in restored)
            Keyspace.Set(key, value, expireAt);

        static byte[] ReadBytes(ref MessagePackReader reader)
            => reader.ReadBytes() is { } bytes ? bytes.ToArray() : throw new InvalidDataException("Null key or value in snapshot.");
    }

    /// <summary>
    /// A digest of the whole replicated state, independent of dictionary order: equal on replicas that applied the
    /// same log, also when one of them was restored from a snapshot.
    /// </summary>
    public string ComputeDigest()
    {
        // Sum of per-entry hashes: commutative, so no sort; two seeds make accidental collisions negligible.
        ulong low = 0, high = 0;
        Span<byte> expiry = stackalloc byte[sizeof(long)];
        var hasher = new XxHash3();
        foreach (var (key, entry) in Keyspace.Entries)
        {
            BinaryPrimitives.WriteInt64LittleEndian(expiry, entry.ExpireAt);
            low += HashEntry(hasher, key, entry.Value, expiry, seedTag: 0);
            high += HashEntry(hasher, key, entry.Value, expiry, seedTag: 1);
        }

        return string.Create(CultureInfo.InvariantCulture, $"{Keyspace.Count}:{ClusterTime}:{high:x16}{low:x16}");

        static ulong HashEntry(XxHash3 hasher, byte[] key, byte[] value, ReadOnlySpan<byte> expiry, byte seedTag)
        {
            Span<byte> length = stackalloc byte[sizeof(int) + 1];
            BinaryPrimitives.WriteInt32LittleEndian(length, key.Length);
            length[^1] = seedTag;
            hasher.Reset();
            hasher.Append(length);
            hasher.Append(key);
            hasher.Append(value);
            hasher.Append(expiry);
            return hasher.GetCurrentHashAsUInt64();
        }
    }

    internal static Reply InvalidExpireTime(string command) => Reply.Error($"ERR invalid expire time in '{command}' command");
}
