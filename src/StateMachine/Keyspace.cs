using System.Runtime.InteropServices;

namespace RaftKv.StateMachine;

/// <summary>
/// The keys and values of one database, with absolute expiry. Not thread-safe: the owner serialises access
/// (one applier, or many readers while nothing applies).
/// </summary>
/// <remarks>
/// Expired keys are invisible to every lookup that passes a time, but only <see cref="SweepExpired"/> and writes remove
/// them, and only from the apply path: reads never mutate, so a read on a follower cannot make it diverge.
/// </remarks>
public sealed class Keyspace
{
    private readonly Dictionary<byte[], Entry> entries = new(ByteArrayComparer.Instance);

    // Ordered by (expireAt, key), so the sweep finds what is due without scanning live keys.
    private readonly SortedSet<(long ExpireAt, byte[] Key)> expiries = new(ExpiryComparer.Instance);

    /// <summary>A stored value and its absolute expiry (<see cref="ClusterTime.NoExpiry"/> when it has none).</summary>
    public readonly record struct Entry(byte[] Value, long ExpireAt)
    {
        /// <summary>True when the entry is logically gone at <paramref name="now"/>.</summary>
        public bool IsExpiredAt(long now) => ExpireAt <= now;
    }

    /// <summary>Keys stored, including expired ones not yet swept.</summary>
    public int Count => entries.Count;

    /// <summary>Keys that carry an expiry, including expired ones not yet swept.</summary>
    public int ExpiringCount => expiries.Count;

    /// <summary>Looks up a live key at <paramref name="now"/>.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, long now, out Entry entry)
    {
        var lookup = entries.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (lookup.TryGetValue(key, out entry) && !entry.IsExpiredAt(now))
            return true;

        entry = default;
        return false;
    }

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing any value and expiry.</summary>
    public void Set(byte[] key, byte[] value, long expireAt)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(entries, key, out var existed);
        if (existed && slot.ExpireAt != ClusterTime.NoExpiry)
            expiries.Remove((slot.ExpireAt, key));

        slot = new Entry(value, expireAt);
        if (expireAt != ClusterTime.NoExpiry)
            expiries.Add((expireAt, key));
    }

    /// <summary>Removes a key; true when it existed and was live at <paramref name="now"/>.</summary>
    public bool Remove(ReadOnlySpan<byte> key, long now)
    {
        var lookup = entries.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (!lookup.Remove(key, out var storedKey, out var entry))
            return false;

        if (entry.ExpireAt != ClusterTime.NoExpiry)
            expiries.Remove((entry.ExpireAt, storedKey));
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

            expiries.Remove((expireAt, key));
            entries.Remove(key);
            removed++;
        }

        return removed;
    }

    /// <summary>Every stored entry, expired or not, in dictionary order (identical on replicas with the same history).</summary>
    public IEnumerable<KeyValuePair<byte[], Entry>> Entries => entries;

    /// <summary>Removes everything.</summary>
    public void Clear()
    {
        entries.Clear();
        expiries.Clear();
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
}
