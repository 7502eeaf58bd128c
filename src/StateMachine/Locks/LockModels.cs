namespace RaftKv.StateMachine.Locks;

/// <summary>What a lock is: its kind decides who may hold it together.</summary>
public enum LockKind : byte
{
    /// <summary>One holder; the lock is the plain string key (<c>LOCK.*</c>).</summary>
    Mutex = 0,

    /// <summary>Many readers or one writer (<c>RWLOCK.*</c>).</summary>
    ReadWrite = 1,

    /// <summary>At most max-count holders (<c>SEMAPHORE.*</c>).</summary>
    Semaphore = 2,
}

/// <summary>How a holder or waiter holds: a writer excludes everyone, readers share.</summary>
public enum LockMode : byte
{
    /// <summary>Exclusive: a mutex holder, an RW writer.</summary>
    Write = 0,

    /// <summary>Shared: an RW reader, a semaphore holder.</summary>
    Read = 1,
}

/// <summary>One holder of a lock: its token, owner name, fencing token and lease, in cluster time.</summary>
public sealed class LockHolder
{
    /// <summary>The token the client acquired with (what it releases and extends with).</summary>
    public required byte[] Token { get; init; }

    /// <summary>The owner name given at acquire (empty when none), for <c>LOCK.INFO</c>.</summary>
    public required byte[] Owner { get; set; }

    /// <summary>The fencing token of the grant.</summary>
    public long Fencing { get; set; }

    /// <summary>When the lease ends (cluster time, Unix ms).</summary>
    public long ExpireAt { get; set; }

    /// <summary>Exclusive or shared.</summary>
    public LockMode Mode { get; init; }
}

/// <summary>One waiter in a lock's queue.</summary>
public sealed class LockWaiter
{
    /// <summary>The token it will hold with.</summary>
    public required byte[] Token { get; init; }

    /// <summary>The owner name given at acquire (empty when none).</summary>
    public required byte[] Owner { get; set; }

    /// <summary>The lease it asked for, in ms: a grant to it lasts this long unless extended.</summary>
    public long Ttl { get; set; }

    /// <summary>When it stops waiting (cluster time, Unix ms).</summary>
    public long Deadline { get; set; }

    /// <summary>Exclusive or shared.</summary>
    public LockMode Mode { get; init; }
}

/// <summary>
/// The replicated state of one lock that is held or waited for: its kind, holders and FIFO queue. A mutex's holder is
/// the plain string key; its record here only adds what the key cannot carry (owner, fencing token).
/// </summary>
public sealed class LockEntry
{
    internal LockEntry(byte[] name, LockKind kind, int maxCount)
    {
        Name = name;
        Kind = kind;
        MaxCount = maxCount;
    }

    /// <summary>The lock's name (the key for a mutex).</summary>
    public byte[] Name { get; }

    /// <summary>Its kind.</summary>
    public LockKind Kind { get; }

    /// <summary>A semaphore's max-count; 1 for a mutex, 0 for an RW lock (readers are unbounded).</summary>
    public int MaxCount { get; }

    /// <summary>Its holders (for a mutex, at most one: the key's token when it was acquired with <c>LOCK.ACQUIRE</c>).</summary>
    public List<LockHolder> Holders { get; } = [];

    /// <summary>Its waiters, first in line first.</summary>
    public List<LockWaiter> Waiters { get; } = [];

    /// <summary>When it next needs a look (a lease or a wait ends), or <see cref="ClusterTime.NoExpiry"/>.</summary>
    internal long ScheduledAt { get; set; } = ClusterTime.NoExpiry;

    /// <summary>What it costs in <c>used_memory</c> now.</summary>
    internal long Cost { get; set; }

    internal bool IsEmpty => Holders.Count == 0 && Waiters.Count == 0;

    internal LockHolder? HolderOf(ReadOnlySpan<byte> token)
    {
        foreach (var holder in Holders)
        {
            if (holder.Token.AsSpan().SequenceEqual(token))
                return holder;
        }

        return null;
    }

    internal int WaiterIndexOf(ReadOnlySpan<byte> token)
    {
        for (var i = 0; i < Waiters.Count; i++)
        {
            if (Waiters[i].Token.AsSpan().SequenceEqual(token))
                return i;
        }

        return -1;
    }

    internal bool HasWriter
    {
        get
        {
            foreach (var holder in Holders)
            {
                if (holder.Mode == LockMode.Write)
                    return true;
            }

            return false;
        }
    }
}

/// <summary>What happened to a waiter (or a holder) in apply, for the node serving the client that waits.</summary>
public enum LockNoticeKind : byte
{
    /// <summary>The waiter was granted the lock (<see cref="LockNotice.Fencing"/> is its fencing token).</summary>
    Granted = 0,

    /// <summary>The waiter's WAIT ended before it was granted.</summary>
    TimedOut = 1,

    /// <summary>The waiter was released (left the queue) before it was granted.</summary>
    Released = 2,
}

/// <summary>
/// A change to a waiter, raised by apply (the same on every replica) and read by the node after the entry: it completes
/// the blocked acquire of a client connected here. Not replicated state.
/// </summary>
/// <param name="Database">The database the lock is in.</param>
/// <param name="Name">The lock's name.</param>
/// <param name="Token">The waiter's token.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Fencing">The fencing token of a grant; 0 otherwise.</param>
public readonly record struct LockNotice(int Database, byte[] Name, byte[] Token, LockNoticeKind Kind, long Fencing);

/// <summary>Where a token stands on a lock, as a blocked acquire asks after its enqueue (<see cref="LockSpace.StatusOf"/>).</summary>
/// <param name="Holding">The token holds the lock.</param>
/// <param name="Waiting">The token is in the queue.</param>
/// <param name="Fencing">Its fencing token while it holds (0 for a mutex key set without <c>LOCK.ACQUIRE</c>).</param>
public readonly record struct LockStatus(bool Holding, bool Waiting, long Fencing);
