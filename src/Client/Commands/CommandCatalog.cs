using System.Collections.Frozen;

namespace RaftKv.Client.Commands;

/// <summary>
/// Which commands go out plain and which inside a session, and which a shared connection cannot carry at all.
/// Everything not known to be a read is treated as a write: wrapping a read costs a log entry, sending a write plain
/// would lose exactly-once.
/// </summary>
internal static class CommandCatalog
{
    // Reads and node commands: the server refuses to wrap node commands, and reads are idempotent anyway.
    private static readonly FrozenSet<string> Idempotent = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "GET", "MGET", "STRLEN", "GETRANGE", "SUBSTR", "EXISTS", "TYPE", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME",
        "KEYS", "SCAN", "RANDOMKEY", "DBSIZE", "EVAL_RO", "EVALSHA_RO", "LOCK.INFO", "LOCK.LIST",
        "PING", "ECHO", "INFO", "ROLE", "TIME", "COMMAND", "CLIENT");

    // Commands that change the state of the connection they are sent on; on a connection every caller shares, and
    // that the client replaces whenever the leader moves, they would leak into other callers' commands or be lost.
    private static readonly FrozenSet<string> ConnectionState = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "SELECT", "HELLO", "RESET", "QUIT", "AUTH", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "SYNC", "PSYNC",
        "SESSION.OPEN", "SESSION.EXEC", "SESSION.KEEPALIVE", "SESSION.CLOSE");

    // The acquires that may block (WAIT timeout-ms), with the number of arguments before their options.
    private static readonly FrozenDictionary<string, int> BlockingAcquires = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase)
    {
        ["LOCK.ACQUIRE"] = 3,
        ["RWLOCK.ACQUIRE"] = 4,
        ["SEMAPHORE.ACQUIRE"] = 4,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>How <paramref name="name"/> is delivered when the server has not said otherwise.</summary>
    public static Delivery Classify(string name) => Idempotent.Contains(name) ? Delivery.Idempotent : Delivery.ExactlyOnce;

    /// <summary>Throws when the command cannot be sent on a shared, multiplexed connection.</summary>
    public static void EnsureShareable(string name, IReadOnlyList<object> args)
    {
        if (ConnectionState.Contains(name)
            || (name.Equals("CLIENT", StringComparison.OrdinalIgnoreCase) && args is [string sub, ..]
                && sub.Equals("REPLY", StringComparison.OrdinalIgnoreCase)))
        {
            throw new NotSupportedException(
                $"{name.ToUpperInvariant()} changes the state of the connection, which RaftKvConnection shares between all callers "
                + "and replaces when the leader moves; it cannot be sent through it.");
        }

        if (Waits(name, args))
        {
            // Replies come back in order: a reply held back while the acquire waits would hold back every caller's.
            throw new NotSupportedException(
                $"{name.ToUpperInvariant()} ... WAIT blocks until the lock is granted, and would hold up every other caller's reply on the "
                + "shared connection; use RaftKvDistributedSynchronizationProvider, which waits on a connection of its own.");
        }
    }

    // An acquire with WAIT above 0 (WAIT 0 answers at once). Options come in pairs after the fixed arguments, so an
    // owner named "WAIT" is not mistaken for the option.
    private static bool Waits(string name, IReadOnlyList<object> args)
    {
        if (!BlockingAcquires.TryGetValue(name, out var fixedArguments))
            return false;
        for (var i = fixedArguments; i + 1 < args.Count; i += 2)
        {
            if (args[i] is string option && option.Equals("WAIT", StringComparison.OrdinalIgnoreCase)
                && Convert.ToString(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) != "0")
                return true;
        }

        return false;
    }
}
