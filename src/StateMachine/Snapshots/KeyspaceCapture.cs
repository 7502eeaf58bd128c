namespace RaftKv.StateMachine.Snapshots;

/// <summary>
/// One database as it was when a <see cref="SnapshotView"/> was taken, read out piece by piece while writes go on:
/// copy-on-write at the granularity of a key.
/// </summary>
/// <remarks>
/// <para>
/// The capture walks the keyspace's hash-ordered index (the order SCAN uses) from the start; <c>last</c> is the
/// position of the last key it has read out. Before a write changes a key the capture has not read yet, the keyspace
/// hands over the key's entry as it was (<see cref="Preserve"/>), once per key: the first change is the one that
/// matters. Reading out a key then gives its preserved entry if it has one (or nothing, if the key did not exist when
/// the view was taken), else its current one. Keys deleted before the walk reached them are read out at the end, from
/// what was preserved. Values are never changed in place (a write stores a new array), so a preserved entry holds a
/// reference, not a copy: the extra memory is one dictionary slot per key written during the snapshot.
/// </para>
/// <para>
/// A <c>FLUSHDB</c>/<c>FLUSHALL</c> during the walk does not clear the keyspace's tables: it gives them to the capture
/// (<see cref="Freeze"/>), which goes on reading them alone, and the keyspace starts new ones. That keeps a flush O(1)
/// and the capture free of a million preserved entries.
/// </para>
/// <para>Every member is called under the owner's lock: writes with it held exclusively, reads with it shared.</para>
/// </remarks>
internal sealed class KeyspaceCapture(int database, Dictionary<byte[], Keyspace.Entry> entries, SortedSet<(ulong Hash, byte[]? Key)> order, ByteArrayComparer comparer)
{
    private readonly Dictionary<byte[], (bool Existed, Keyspace.Entry Entry)> preserved = new(comparer);
    private Dictionary<byte[], Keyspace.Entry> entries = entries;
    private SortedSet<(ulong Hash, byte[]? Key)> order = order;
    private (ulong Hash, byte[]? Key) last;
    private bool started;
    private bool walked;
    private Dictionary<byte[], (bool Existed, Keyspace.Entry Entry)>.Enumerator leftovers;

    /// <summary>The database this captures.</summary>
    public int Database => database;

    /// <summary>True once every key has been read out.</summary>
    public bool Done { get; private set; }

    /// <summary>True once the keyspace no longer needs to tell this capture about writes.</summary>
    public bool Detached => walked || frozen;

    private bool frozen;

    /// <summary>
    /// Called before a write changes <paramref name="key"/>: <paramref name="existed"/> and <paramref name="entry"/> are
    /// its stored state before the write.
    /// </summary>
    public void Preserve(byte[] key, ulong hash, bool existed, in Keyspace.Entry entry)
    {
        if (Detached || (started && Keyspace.HashOrder.Compare((hash, key), last) <= 0))
            return;
        preserved.TryAdd(key, (existed, entry));
    }

    /// <summary>The keyspace is being emptied: this capture takes its tables, which nothing else changes from now on.</summary>
    public void Freeze(Dictionary<byte[], Keyspace.Entry> oldEntries, SortedSet<(ulong Hash, byte[]? Key)> oldOrder)
    {
        if (Detached)
            return;
        entries = oldEntries;
        order = oldOrder;
        frozen = true;
    }

    /// <summary>
    /// Reads out up to <paramref name="maxRecords"/> keys (or about <paramref name="maxBytes"/> bytes of them) into
    /// <paramref name="into"/>; sets <see cref="Done"/> when none are left.
    /// </summary>
    public void Collect(List<SnapshotRecord> into, int maxRecords, long maxBytes)
    {
        long bytes = 0;
        var taken = 0;
        if (!walked)
        {
            var range = started ? order.GetViewBetween(last, (ulong.MaxValue, null)) : order;
            foreach (var position in range)
            {
                if (started && Keyspace.HashOrder.Compare(position, last) <= 0)
                    continue;
                if (taken >= maxRecords || bytes >= maxBytes)
                    return;

                var key = position.Key!;
                started = true;
                last = position;
                Keyspace.Entry entry;
                if (preserved.Remove(key, out var before))
                {
                    if (!before.Existed)
                        continue;
                    entry = before.Entry;
                }
                else
                {
                    entry = entries[key];
                }

                into.Add(new SnapshotRecord(database, key, entry.Value, entry.ExpireAt));
                bytes += key.Length + entry.Value.Length;
                taken++;
            }

            // From here on no write concerns this capture: what is left preserved is what was deleted before the walk
            // reached it.
            walked = true;
            leftovers = preserved.GetEnumerator();
        }

        while (taken < maxRecords && bytes < maxBytes)
        {
            if (!leftovers.MoveNext())
            {
                Done = true;
                return;
            }

            var (key, (existed, entry)) = leftovers.Current;
            if (!existed)
                continue;
            into.Add(new SnapshotRecord(database, key, entry.Value, entry.ExpireAt));
            bytes += key.Length + entry.Value.Length;
            taken++;
        }
    }
}

/// <summary>One stored key as a snapshot holds it.</summary>
/// <param name="Database">Its database.</param>
/// <param name="Key">The key.</param>
/// <param name="Value">The value (never changed in place: safe to read outside the lock).</param>
/// <param name="ExpireAt">Absolute expiry in cluster time, or <see cref="ClusterTime.NoExpiry"/>.</param>
public readonly record struct SnapshotRecord(int Database, byte[] Key, byte[] Value, long ExpireAt);
