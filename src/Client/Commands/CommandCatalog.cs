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
        "KEYS", "SCAN", "RANDOMKEY", "DBSIZE", "EVAL_RO", "EVALSHA_RO",
        "PING", "ECHO", "INFO", "ROLE", "TIME", "COMMAND", "CLIENT");

    // Commands that change the state of the connection they are sent on; on a connection every caller shares, and
    // that the client replaces whenever the leader moves, they would leak into other callers' commands or be lost.
    private static readonly FrozenSet<string> ConnectionState = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "SELECT", "HELLO", "RESET", "QUIT", "AUTH", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "SYNC", "PSYNC",
        "SESSION.OPEN", "SESSION.EXEC", "SESSION.KEEPALIVE", "SESSION.CLOSE");

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
    }
}
