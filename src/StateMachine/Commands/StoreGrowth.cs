using RaftKv.StateMachine.Memory;

namespace RaftKv.StateMachine.Commands;

/// <summary>The <see cref="WriteCommand.MemoryGrowth"/> arithmetic the string and lock commands share.</summary>
internal static class StoreGrowth
{
    /// <summary>
    /// What storing a value of <paramref name="valueLength"/> bytes under <paramref name="key"/> adds to used memory:
    /// the new entry's cost less that of the entry it replaces (live or expired), at least 0.
    /// </summary>
    public static long OfStore(Keyspace keyspace, ReadOnlySpan<byte> key, long valueLength, bool expiring)
        => Math.Max(0, MemoryCosts.Entry(key.Length, valueLength, expiring) - keyspace.StoredCost(key));

    /// <summary>True when <c>maxmemory</c> lets a write that adds <paramref name="growth"/> bytes proceed (always, without a limit).</summary>
    public static bool Admits(in CommandContext context, long growth)
        => context.Store.MaxMemory <= 0 || context.Store.Admits(growth);
}
