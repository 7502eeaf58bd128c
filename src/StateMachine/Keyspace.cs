using System.Runtime.InteropServices;
using RaftKv.StateMachine.Memory;
using RaftKv.StateMachine.Snapshots;

namespace RaftKv.StateMachine;

/// <summary>
/// The keys and values of one database, with absolute expiry. Not thread-safe: the owner serialises access
/// (one applier, or many readers while nothing applies).
/// </summary>
/// <remarks>
/// <para>
/// Expired keys are invisible to every lookup that passes a time, but only <see cref="SweepExpired"/> and writes remove
/// them, and only from the apply path: reads never mutate, so a read on a follower cannot make it diverge.
/// </para>
/// <para>
/// Besides the dictionary, every key sits in an index ordered by a stable 64-bit hash. That order is a function of
/// the keys alone — not of insertion history, which a snapshot restore does not reproduce — so <c>KEYS</c>,
/// <c>SCAN</c> and <c>RANDOMKEY</c> answer the same on every replica, and a SCAN cursor (a position in that order)
/// stays valid on any replica and across writes.
/// </para>
/// </remarks>
/// <param name="keyComparer">
/// Hashes the keys for the dictionary (keyed: see <see cref="ByteArrayComparer"/>). Its seed may differ between
/// replicas: nothing observes the dictionary's order.
/// </param>
public sealed class Keyspace(ByteArrayComparer keyComparer)
{
    private Dictionary<byte[], Entry> entries = new(keyComparer);

    /// <summary>
    /// The locks of this database that are held or waited for (replicated, like the keys). They travel with the
    /// database: <c>SWAPDB</c> swaps them too. The keyspace tells them when a key goes away.
    /// </summary>
    public Locks.LockSpace Locks { get; } = new(keyComparer);

    // Ordered by (expireAt, key), so the sweep finds what is due without scanning live keys.
    private readonly SortedSet<(long ExpireAt, byte[] Key)> expiries = new(ExpiryComparer.Instance);

    // Ordered by (hash, key): the iteration order of KEYS, SCAN and RANDOMKEY.
    private SortedSet<(ulong Hash, byte[]? Key)> order = new(HashOrder.Instance);

    // The snapshot views reading this database out while writes go on (usually none; see KeyspaceCapture).
    private KeyspaceCapture[] captures = [];

    /// <summary>A stored value and its absolute expiry (<see cref="ClusterTime.NoExpiry"/> when it has none).</summary>
    public readonly record struct Entry(byte[] Value, long ExpireAt)
    {
        /// <summary>True when the entry is logically gone at <paramref name="now"/>.</summary>
        public bool IsExpiredAt(long now) => ExpireAt <= now;

        /// <summary>True when the entry carries an expiry.</summary>
        public bool HasExpiry => ExpireAt != ClusterTime.NoExpiry;
    }

    /// <summary>Keys stored, including expired ones not yet swept.</summary>
    public int Count => entries.Count;

    /// <summary>Keys that carry an expiry, including expired ones not yet swept.</summary>
    public int ExpiringCount => expiries.Count;

    /// <summary>
    /// What the stored entries cost in <c>used_memory</c> (<see cref="MemoryCosts.Entry"/> summed, expired ones not yet
    /// swept included), kept up to date by every change.
    /// </summary>
    public long UsedMemory { get; private set; }

    /// <summary>What the entry stored under <paramref name="key"/> costs, live or expired; 0 when there is none.</summary>
    public long StoredCost(ReadOnlySpan<byte> key)
        => entries.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(key, out var entry) ? Cost(key.Length, entry) : 0;

    // A null value never gets past WriteCommand.Validate; should one be stored anyway, it costs nothing rather than throw.
    private static long Cost(int keyLength, in Entry entry) => MemoryCosts.Entry(keyLength, entry.Value?.Length ?? 0, entry.HasExpiry);

    /// <summary>Looks up a live key at <paramref name="now"/>.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, long now, out Entry entry)
    {
        var lookup = entries.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (lookup.TryGetValue(key, out entry) && !entry.IsExpiredAt(now))
            return true;

        entry = default;
        return false;
    }

    /// <summary>The expiry stored for <paramref name="key"/>, live or expired; null when no entry is stored.</summary>
    public long? StoredExpireAt(ReadOnlySpan<byte> key)
        => entries.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(key, out var entry) ? entry.ExpireAt : null;

    /// <summary>True when <paramref name="key"/> is live at <paramref name="now"/>.</summary>
    public bool Contains(ReadOnlySpan<byte> key, long now) => TryGet(key, now, out _);

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing any value and expiry.</summary>
    public void Set(byte[] key, byte[] value, long expireAt)
    {
        if (captures.Length > 0)
            Preserve(key);

        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(entries, key, out var existed);
        if (existed)
        {
            UsedMemory -= Cost(key.Length, slot);
            if (slot.HasExpiry)
                expiries.Remove((slot.ExpireAt, key));
        }
        else
        {
            order.Add((ByteArrayComparer.Hash64(key), key));
        }

        slot = new Entry(value, expireAt);
        UsedMemory += Cost(key.Length, slot);
        if (expireAt != ClusterTime.NoExpiry)
            expiries.Add((expireAt, key));
    }

    /// <summary>Removes a key; true when it existed and was live at <paramref name="now"/>.</summary>
    public bool Remove(ReadOnlySpan<byte> key, long now)
    {
        var lookup = entries.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (captures.Length > 0 && lookup.TryGetValue(key, out var stored, out _))
            Preserve(stored);
        if (!lookup.Remove(key, out var storedKey, out var entry))
            return false;

        Unindex(storedKey, entry);
        Locks.KeyGone(storedKey);
        return !entry.IsExpiredAt(now);
    }

    /// <summary>
    /// Removes up to <paramref name="budget"/> keys whose expiry is at or before <paramref name="now"/>, soonest first.
    /// Bounded, so one log entry never pays for a million keys that expired together; the rest go in later entries.
    /// </summary>
    /// <returns>The number of keys removed.</returns>
    public int SweepExpired(long now, int budget)
    {
        var removed = 0;
        while (removed < budget && expiries.Count > 0)
        {
            var (expireAt, key) = expiries.Min;
            if (expireAt > now)
                break;

            if (captures.Length > 0)
                Preserve(key);
            expiries.Remove((expireAt, key));
            entries.Remove(key, out var entry);
            UsedMemory -= Cost(key.Length, entry);
            order.Remove((ByteArrayComparer.Hash64(key), key));
            Locks.KeyGone(key);
            removed++;
        }

        return removed;
    }

    /// <summary>True when some stored key is expired at <paramref name="now"/>, so a sweep would reclaim something.</summary>
    public bool HasExpiredAt(long now) => expiries.Count > 0 && expiries.Min.ExpireAt <= now;

    /// <summary>The number of keys live at <paramref name="now"/> (what <c>DBSIZE</c> answers).</summary>
    /// <remarks>Walks only the expired-but-unswept keys, which the sweep keeps few.</remarks>
    public int CountLive(long now)
    {
        var expired = 0;
        foreach (var (expireAt, _) in expiries)
        {
            if (expireAt > now)
                break;
            expired++;
        }

        return entries.Count - expired;
    }

    /// <summary>
    /// Every stored entry, expired or not, in dictionary order: the order of inserts and removals, not of hashes, so
    /// identical on replicas with the same history whatever their key comparers' seeds.
    /// </summary>
    public IEnumerable<KeyValuePair<byte[], Entry>> Entries => entries;

    /// <summary>Every key live at <paramref name="now"/>, in hash order (identical on every replica with the same keys).</summary>
    public IEnumerable<byte[]> LiveKeys(long now)
    {
        foreach (var (_, key) in order)
        {
            if (!entries[key!].IsExpiredAt(now))
                yield return key!;
        }
    }

    /// <summary>
    /// One step of <c>SCAN</c>: visits stored keys in hash order from position <paramref name="cursor"/>, about
    /// <paramref name="count"/> of them (keys sharing a hash are never split across steps), and returns the live ones
    /// that <paramref name="accept"/> takes, with the cursor of the next step (0 when the iteration is complete).
    /// </summary>
    /// <remarks>
    /// The cursor is the hash of the next key to visit, so a key present for the whole iteration is returned exactly
    /// once whatever is written meanwhile, as Redis guarantees; keys added or removed meanwhile may or may not be.
    /// </remarks>
    public ulong Scan(ulong cursor, long count, long now, Func<byte[], bool> accept, List<byte[]> found)
    {
        var visited = 0L;
        ulong lastHash = 0;
        foreach (var (hash, key) in From(cursor))
        {
            if (visited >= count && hash != lastHash)
                return hash;

            visited++;
            lastHash = hash;
            if (!entries[key!].IsExpiredAt(now) && accept(key!))
                found.Add(key!);
        }

        return 0;
    }

    /// <summary>
    /// A live key chosen by <paramref name="position"/>: the first live key at or after that position in hash order,
    /// wrapping around; null when no key is live. The same position gives the same key on every replica.
    /// </summary>
    public byte[]? KeyAt(ulong position, long now)
    {
        foreach (var (_, key) in From(position))
        {
            if (!entries[key!].IsExpiredAt(now))
                return key;
        }

        foreach (var (hash, key) in order)
        {
            if (hash >= position)
                break;
            if (!entries[key!].IsExpiredAt(now))
                return key;
        }

        return null;
    }

    /// <summary>Removes everything.</summary>
    /// <remarks>While a snapshot view reads this database, its tables go to the view and new ones replace them: O(1).</remarks>
    public void Clear()
    {
        var frozen = false;
        foreach (var capture in captures)
        {
            if (!capture.Detached)
            {
                capture.Freeze(entries, order);
                frozen = true;
            }
        }

        if (frozen)
        {
            entries = new Dictionary<byte[], Entry>(keyComparer);
            order = new SortedSet<(ulong Hash, byte[]? Key)>(HashOrder.Instance);
        }
        else
        {
            entries.Clear();
            order.Clear();
        }

        expiries.Clear();
        UsedMemory = 0;
        Locks.AllKeysGone();
    }

    /// <summary>
    /// Starts reading this database out as it is now, for snapshot view <paramref name="database"/>; O(1). The caller
    /// holds the owner's lock exclusively.
    /// </summary>
    internal KeyspaceCapture Capture(int database)
    {
        var capture = new KeyspaceCapture(database, entries, order, keyComparer);
        captures = [.. captures, capture];
        return capture;
    }

    /// <summary>Stops telling <paramref name="capture"/> about writes (its view is finished or abandoned).</summary>
    internal void Release(KeyspaceCapture capture) => captures = [.. captures.Where(c => !ReferenceEquals(c, capture))];

    /// <summary>Stores a restored entry; false when the key is already stored (a snapshot holds each key once).</summary>
    internal bool TryRestore(byte[] key, byte[] value, long expireAt)
    {
        if (entries.ContainsKey(key))
            return false;
        Set(key, value, expireAt);
        return true;
    }

    // Before a write changes a stored key, or adds one: its state as it was, for the views that have not read it yet.
    private void Preserve(byte[] key)
    {
        var existed = entries.TryGetValue(key, out var entry);
        var hash = ByteArrayComparer.Hash64(key);
        foreach (var capture in captures)
            capture.Preserve(key, hash, existed, entry);
    }

    private IEnumerable<(ulong Hash, byte[]? Key)> From(ulong position)
        => position == 0 ? order : order.GetViewBetween((position, []), (ulong.MaxValue, null));

    private void Unindex(byte[] storedKey, Entry entry)
    {
        UsedMemory -= Cost(storedKey.Length, entry);
        if (entry.HasExpiry)
            expiries.Remove((entry.ExpireAt, storedKey));
        order.Remove((ByteArrayComparer.Hash64(storedKey), storedKey));
    }

    private sealed class ExpiryComparer : IComparer<(long ExpireAt, byte[] Key)>
    {
        public static readonly ExpiryComparer Instance = new();

        public int Compare((long ExpireAt, byte[] Key) x, (long ExpireAt, byte[] Key) y)
        {
            var byTime = x.ExpireAt.CompareTo(y.ExpireAt);
            return byTime != 0 ? byTime : x.Key.AsSpan().SequenceCompareTo(y.Key);
        }
    }

    // A null key sorts after every key of its hash: the open upper end of a range.
    internal sealed class HashOrder : IComparer<(ulong Hash, byte[]? Key)>
    {
        public static readonly HashOrder Instance = new();

        public static int Compare((ulong Hash, byte[]? Key) x, (ulong Hash, byte[]? Key) y) => Instance.CompareCore(x, y);

        int IComparer<(ulong Hash, byte[]? Key)>.Compare((ulong Hash, byte[]? Key) x, (ulong Hash, byte[]? Key) y) => CompareCore(x, y);

        private int CompareCore((ulong Hash, byte[]? Key) x, (ulong Hash, byte[]? Key) y)
        {
            var byHash = x.Hash.CompareTo(y.Hash);
            if (byHash != 0)
                return byHash;
            if (x.Key is null || y.Key is null)
                return (x.Key is null ? 1 : 0) - (y.Key is null ? 1 : 0);
            return x.Key.AsSpan().SequenceCompareTo(y.Key);
        }
    }
}
