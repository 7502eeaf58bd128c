using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>The transaction commands a connection sends: <c>MULTI</c>, <c>EXEC</c>, <c>DISCARD</c>, <c>WATCH</c>, <c>UNWATCH</c>.</summary>
public enum TransactionVerb : byte
{
    /// <summary>Any other command.</summary>
    None,
    /// <summary><c>MULTI</c>: start queuing.</summary>
    Multi,
    /// <summary><c>EXEC</c>: run what was queued, as one write.</summary>
    Exec,
    /// <summary><c>DISCARD</c>: drop what was queued.</summary>
    Discard,
    /// <summary><c>WATCH key [key ...]</c>: EXEC runs only if these keys stay as they are now.</summary>
    Watch,
    /// <summary><c>UNWATCH</c>: forget the watched keys.</summary>
    Unwatch,
}

/// <summary>
/// The node's side of <c>MULTI</c>/<c>EXEC</c>: the commands' table entries, Redis 7.0's replies, and each
/// connection's queue (<see cref="ConnectionTransaction"/>). What EXEC does lives in the state machine
/// (<see cref="TransactionCommand"/>).
/// </summary>
public static class TransactionCommands
{
    /// <summary>The transaction commands, as <c>COMMAND</c> describes them, in <see cref="TransactionVerb"/> order.</summary>
    public static IReadOnlyList<CommandSpec> Specs { get; } = NodeCommandTable.Transaction;

    /// <summary>Which transaction command <paramref name="argv"/> is, if any; cheap enough for every request.</summary>
    public static TransactionVerb Identify(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (argv.IsEmpty)
            return TransactionVerb.None;

        var name = argv[0].Span;
        return name.Length switch
        {
            4 when Ascii.EqualsIgnoreCase(name, "EXEC"u8) => TransactionVerb.Exec,
            5 when Ascii.EqualsIgnoreCase(name, "MULTI"u8) => TransactionVerb.Multi,
            5 when Ascii.EqualsIgnoreCase(name, "WATCH"u8) => TransactionVerb.Watch,
            7 when Ascii.EqualsIgnoreCase(name, "DISCARD"u8) => TransactionVerb.Discard,
            7 when Ascii.EqualsIgnoreCase(name, "UNWATCH"u8) => TransactionVerb.Unwatch,
            _ => TransactionVerb.None,
        };
    }

    /// <summary>The table entry of a transaction command.</summary>
    internal static CommandSpec SpecOf(TransactionVerb verb) => Specs[(int)verb - 1];
}

/// <summary>
/// A connection's transaction state: the commands queued since <c>MULTI</c> (copied out of the request buffer) and
/// whether one was refused, and the keys it <c>WATCH</c>es. Kept by the command dispatcher, on the connection's
/// request path only.
/// </summary>
public sealed class ConnectionTransaction
{
    private readonly List<byte[][]> queued = [];
    private readonly List<WatchedKey> watched = [];
    private readonly HashSet<WatchedKey> watchedSet = new(SameKey.Instance);

    /// <summary>True between <c>MULTI</c> and <c>EXEC</c>/<c>DISCARD</c>.</summary>
    public bool InMulti { get; private set; }

    /// <summary>True when a command was refused while queuing: <c>EXEC</c> will answer <c>EXECABORT</c>.</summary>
    public bool IsAborted { get; private set; }

    /// <summary>The commands queued since <c>MULTI</c>, each as its arguments.</summary>
    public IReadOnlyList<byte[][]> Queued => queued;

    /// <summary>The watched keys, in the order first watched.</summary>
    public IReadOnlyList<WatchedKey> Watched => watched;

    /// <summary>Starts queuing (<c>MULTI</c>).</summary>
    public void BeginMulti() => InMulti = true;

    /// <summary>Marks the transaction as failed: <c>EXEC</c> will answer <c>EXECABORT</c> and run nothing.</summary>
    public void Abort() => IsAborted = true;

    /// <summary>Queues a copy of <paramref name="argv"/> (the request's buffer is reused for the next request).</summary>
    public void Enqueue(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var copy = new byte[argv.Length][];
        for (var i = 0; i < copy.Length; i++)
            copy[i] = argv[i].ToArray();
        queued.Add(copy);
    }

    /// <summary>
    /// Watches <paramref name="keys"/> of <paramref name="database"/> and returns those not watched before, whose state
    /// is still to be read (a key's first <c>WATCH</c> is the one that counts, as in Redis); null, adding none, when
    /// more than <paramref name="limit"/> keys would be watched.
    /// </summary>
    public List<WatchedKey>? Watch(int database, ReadOnlySpan<ReadOnlyMemory<byte>> keys, int limit)
    {
        var added = new List<WatchedKey>();
        foreach (var key in keys)
        {
            var candidate = new WatchedKey { Database = database, Key = key.ToArray() };
            if (watchedSet.Add(candidate))
                added.Add(candidate);
        }

        if (watched.Count + added.Count > limit)
        {
            foreach (var key in added)
                watchedSet.Remove(key);
            return null;
        }

        watched.AddRange(added);
        return added;
    }

    // Keys are watched per database. A client chooses them (one WATCH may name a million), so they are hashed under a
    // secret seed drawn per process: keys crafted to collide would make this set quadratic (see ByteArrayComparer).
    private sealed class SameKey : IEqualityComparer<WatchedKey>
    {
        public static readonly SameKey Instance = new();

        private readonly ByteArrayComparer keys = ByteArrayComparer.Create(BinaryPrimitives.ReadUInt128LittleEndian(RandomNumberGenerator.GetBytes(16)));

        public bool Equals(WatchedKey? x, WatchedKey? y)
            => x is not null && y is not null && x.Database == y.Database && x.Key.AsSpan().SequenceEqual(y.Key);

        public int GetHashCode(WatchedKey key) => HashCode.Combine(key.Database, keys.GetHashCode(key.Key));
    }
}
