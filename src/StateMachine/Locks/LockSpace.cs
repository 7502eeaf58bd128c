using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Locks;

/// <summary>
/// The locks of one database that are held or waited for: mutexes (whose holder is the plain key), reader-writer
/// locks and semaphores, each with a FIFO queue of waiters. Part of the replicated state: every decision here is a
/// function of the state, the command and the entry's cluster time, so every replica grants the same waiter with the
/// same fencing token in the same entry.
/// </summary>
/// <remarks>
/// <para>
/// A waiter is granted by the apply that frees what it waits for — a release, a lease that ran out, a waiter ahead of
/// it that gave up, the mutex key deleted or expired — in that same entry. Leases and waits end by cluster time: each
/// lock sits in an index by the time it next needs a look (<see cref="ProcessDue"/>), bounded per entry like the key
/// sweep. An acquire never overtakes a queue: with waiters queued a newcomer waits behind them or is refused.
/// </para>
/// <para>
/// The mutex key is ordinary data (SET, DEL, EXPIRE, FLUSHDB and scripts may change it): the keyspace tells this table
/// when a key that has a lock entry goes away (<see cref="KeyGone"/>), and the next waiter is granted after the
/// command that removed it. A key overwritten by another token is simply held by that token.
/// </para>
/// </remarks>
public sealed class LockSpace
{
    /// <summary>Waiters one lock may queue (a constant of the state machine: every replica refuses the same one).</summary>
    public const int MaxWaiters = 10_000;

    /// <summary>The largest max-count of a semaphore: what one release may grant at most.</summary>
    public const int MaxSemaphoreCount = 10_000;

    /// <summary>The longest owner name an acquire may give, in bytes.</summary>
    public const int MaxOwnerBytes = 1_024;

    // used_memory charges, estimates of the objects as MemoryCosts's are: an entry with its lists, dictionary and index
    // nodes; a holder or waiter object with its list slot.
    internal const long PerEntry = 256;
    internal const long PerMember = 96;

    private readonly Dictionary<byte[], LockEntry> entries;
    private readonly SortedSet<(long Due, byte[] Name)> due = new(DueOrder.Instance);
    private readonly List<byte[]> gone = [];

    internal LockSpace(ByteArrayComparer keyComparer) => entries = new Dictionary<byte[], LockEntry>(keyComparer);

    /// <summary>Locks held or waited for.</summary>
    public int Count => entries.Count;

    /// <summary>The locks, in no particular order (sort them to show them).</summary>
    public IEnumerable<LockEntry> Entries => entries.Values;

    /// <summary>What the lock entries cost in <c>used_memory</c>.</summary>
    public long UsedMemory { get; private set; }

    /// <summary>True when a mutex key went away since the last <see cref="PumpGone"/>.</summary>
    internal bool HasGone => gone.Count > 0;

    /// <summary>The lock named <paramref name="name"/>, or null.</summary>
    public LockEntry? Find(ReadOnlySpan<byte> name)
        => entries.Count > 0 && entries.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(name, out var entry) ? entry : null;

    /// <summary>True when some lock needs a look at <paramref name="now"/> (a lease or a wait ended).</summary>
    public bool HasDueAt(long now) => due.Count > 0 && due.Min.Due <= now;

    /// <summary>Holders of every lock here (a mutex counted once it was acquired with <c>LOCK.ACQUIRE</c>).</summary>
    public int HolderCount => entries.Values.Sum(static e => e.Holders.Count);

    /// <summary>Waiters queued on every lock here.</summary>
    public int WaiterCount => entries.Values.Sum(static e => e.Waiters.Count);

    /// <summary>The keyspace tells: <paramref name="key"/> was removed (deleted, expired, flushed).</summary>
    internal void KeyGone(byte[] key)
    {
        if (entries.Count > 0 && entries.TryGetValue(key, out var entry) && entry.Kind == LockKind.Mutex)
            gone.Add(entry.Name);
    }

    /// <summary>The keyspace was flushed: every mutex key is gone.</summary>
    internal void AllKeysGone()
    {
        foreach (var entry in entries.Values)
        {
            if (entry.Kind == LockKind.Mutex)
                gone.Add(entry.Name);
        }
    }

    /// <summary>Grants the waiters of the mutexes whose key went away (after the command that removed them).</summary>
    internal void PumpGone(in CommandContext context)
    {
        // In name order: the order keys went away in can follow the dictionary's (FLUSHDB), whose hash seed differs
        // between replicas, and the order of grants decides their fencing tokens. Pumping a mutex never removes another
        // key, so nothing is added while this runs.
        var names = gone.ToArray();
        gone.Clear();
        Array.Sort(names, static (x, y) => x.AsSpan().SequenceCompareTo(y));
        foreach (var name in names)
        {
            if (Find(name) is { } entry)
                Pump(entry, context);
        }
    }

    /// <summary>
    /// Ends the leases and waits that are due at the context's time, at most <paramref name="budget"/> locks, and grants
    /// what that frees. Soonest first; the rest wait for later entries.
    /// </summary>
    internal int ProcessDue(in CommandContext context, int budget)
    {
        var looked = 0;
        while (looked < budget && due.Count > 0 && due.Min.Due <= context.Now)
        {
            var (_, name) = due.Min;
            looked++;
            if (Find(name) is not { } entry)
            {
                due.Remove(due.Min);
                continue;
            }

            if (entry.Kind == LockKind.Mutex)
            {
                // The key's lease ended: remove it now (the key sweep may not have reached it) so the next waiter gets it.
                if (context.Keyspace.StoredExpireAt(name) is { } expireAt && expireAt <= context.Now)
                    context.Keyspace.Remove(name, context.Now);
            }
            else
            {
                var now = context.Now;
                if (entry.Holders.RemoveAll(h => h.ExpireAt <= now) > 0)
                    Recost(entry);
            }

            Pump(entry, context);
        }

        // The mutex keys removed above were pumped already.
        gone.Clear();
        return looked;
    }

    /// <summary>Where <paramref name="token"/> stands on lock <paramref name="name"/> at <paramref name="now"/>.</summary>
    public LockStatus StatusOf(Keyspace keyspace, ReadOnlySpan<byte> name, ReadOnlySpan<byte> token, long now)
    {
        var entry = Find(name);
        if (entry is null || entry.Kind == LockKind.Mutex)
        {
            var held = keyspace.TryGet(name, now, out var key) && key.Value.AsSpan().SequenceEqual(token);
            var fencing = held && entry?.HolderOf(token) is { } holder ? holder.Fencing : 0;
            return new LockStatus(held, !held && entry is not null && entry.WaiterIndexOf(token) >= 0, fencing);
        }

        if (entry.HolderOf(token) is { } live && live.ExpireAt > now)
            return new LockStatus(true, false, live.Fencing);
        var index = entry.WaiterIndexOf(token);
        return new LockStatus(false, index >= 0 && entry.Waiters[index].Deadline > now, 0);
    }

    /// <summary>
    /// An acquire of any kind: granted now (the fencing token), queued (<see cref="LockReplies.Queued"/>), refused (nil)
    /// or an error. The caller validated the arguments.
    /// </summary>
    internal Reply Acquire(in CommandContext context, LockKind kind, LockRequest request)
    {
        var now = context.Now;
        if (request.Ttl > long.MaxValue - now)
            return RedisErrors.InvalidExpireTime(request.Command);
        if (request.Wait > long.MaxValue - now)
            return LockReplies.InvalidWait;

        var entry = Find(request.Name);
        if (entry is not null && entry.Kind != kind)
            return LockReplies.WrongKind;
        if (entry is not null && kind == LockKind.Semaphore && entry.MaxCount != request.MaxCount)
            return LockReplies.MaxCountMismatch(request.Name, entry.MaxCount, request.MaxCount);

        // Held already by this token: renewed, with a new fencing token (as a second SET of the same token would be).
        if (HolderOf(context, entry, kind, request.Name, request.Token) is { } holding)
        {
            if (holding.Mode != request.Mode)
                return LockReplies.OtherMode(request.Name);
            return Renew(context, entry!, holding, request);
        }

        if (kind == LockKind.Mutex && context.Keyspace.TryGet(request.Name, now, out var plain)
            && plain.Value.AsSpan().SequenceEqual(request.Token))
        {
            // Held by a plain SET of this token: LOCK.ACQUIRE renews it, as it always did.
            entry ??= Add(request.Name, kind, request.MaxCount);
            return Grant(context, entry, request.Token, request.Owner, request.Ttl, request.Mode);
        }

        var waiting = entry?.WaiterIndexOf(request.Token) ?? -1;
        if (waiting >= 0)
        {
            // A retried acquire keeps its place; its wait and lease are the latest asked for.
            var waiter = entry!.Waiters[waiting];
            if (waiter.Mode != request.Mode)
                return LockReplies.OtherMode(request.Name);
            if (request.Wait == 0)
                return Reply.NullBulk;
            waiter.Deadline = now + request.Wait;
            waiter.Ttl = request.Ttl;
            Schedule(entry, context);
            return LockReplies.Queued(context.LogPosition);
        }

        if ((entry is null || entry.Waiters.Count == 0) && IsFree(context, entry, kind, request.Name, request.Mode, request.MaxCount))
        {
            entry ??= Add(request.Name, kind, request.MaxCount);
            return Grant(context, entry, request.Token, request.Owner, request.Ttl, request.Mode);
        }

        if (request.Wait == 0)
            return Reply.NullBulk;
        if (entry is not null && entry.Waiters.Count >= MaxWaiters)
            return LockReplies.TooManyWaiters;

        entry ??= Add(request.Name, kind, request.MaxCount);
        entry.Waiters.Add(new LockWaiter
        {
            Token = request.Token,
            Owner = request.Owner,
            Ttl = request.Ttl,
            Deadline = now + request.Wait,
            Mode = request.Mode,
        });
        Recost(entry);

        // The lock may be free with others queued (a lease the due index has not reached yet): grant in line now.
        Pump(entry, context);
        return entry.Waiters.Count > 0 && entry.WaiterIndexOf(request.Token) >= 0
            ? LockReplies.Queued(context.LogPosition)
            : Reply.FromInteger(entry.HolderOf(request.Token)?.Fencing ?? 0);
    }

    /// <summary><c>*.EXTEND</c>: the holder's lease is now <paramref name="ttl"/> ms; <c>:1</c>, or <c>:0</c> when the token does not hold.</summary>
    internal Reply Extend(in CommandContext context, LockKind kind, byte[] name, byte[] token, long ttl, string command)
    {
        var now = context.Now;
        if (ttl > long.MaxValue - now)
            return RedisErrors.InvalidExpireTime(command);
        var entry = Find(name);
        if (entry is not null && entry.Kind != kind)
            return LockReplies.WrongKind;
        if (kind == LockKind.Mutex)
        {
            if (!context.Keyspace.TryGet(name, now, out var held) || !held.Value.AsSpan().SequenceEqual(token))
                return Reply.FromInteger(0);
            context.Keyspace.Set(name, held.Value, ExpiryTime.Stored(now + ttl));
            if (entry?.HolderOf(token) is { } record)
                record.ExpireAt = now + ttl;
            if (entry is not null)
                Schedule(entry, context);
            return Reply.FromInteger(1);
        }

        if (entry?.HolderOf(token) is not { } holder || holder.ExpireAt <= now)
            return Reply.FromInteger(0);
        holder.ExpireAt = now + ttl;
        Schedule(entry, context);
        return Reply.FromInteger(1);
    }

    /// <summary>
    /// <c>*.RELEASE</c>: <c>:1</c> when the token held the lock (released, and the next waiters granted) or waited for it
    /// (out of the queue); <c>:0</c> otherwise.
    /// </summary>
    internal Reply Release(in CommandContext context, LockKind kind, byte[] name, byte[] token)
    {
        var now = context.Now;
        var entry = Find(name);
        if (entry is not null && entry.Kind != kind)
            return LockReplies.WrongKind;

        var released = false;
        if (kind == LockKind.Mutex)
        {
            if (context.Keyspace.TryGet(name, now, out var held) && held.Value.AsSpan().SequenceEqual(token))
            {
                context.Keyspace.Remove(name, now);
                released = true;
            }
        }
        else if (entry?.HolderOf(token) is { } holder)
        {
            released = holder.ExpireAt > now;
            entry.Holders.Remove(holder);
            Recost(entry);
        }

        if (entry is null)
            return Reply.FromInteger(released ? 1 : 0);
        var waiting = entry.WaiterIndexOf(token);
        if (waiting >= 0)
        {
            var waiter = entry.Waiters[waiting];
            entry.Waiters.RemoveAt(waiting);
            Recost(entry);
            context.Store.Notify(new LockNotice(context.Database, entry.Name, waiter.Token, LockNoticeKind.Released, 0));
            released = true;
        }

        Pump(entry, context);
        return Reply.FromInteger(released ? 1 : 0);
    }

    // Grants the waiters at the head of the queue that the lock admits now, ends the waits that are over, and
    // reschedules the lock or forgets it when nothing holds or waits any more.
    private void Pump(LockEntry entry, in CommandContext context)
    {
        var now = context.Now;
        var changed = false;
        for (var i = entry.Waiters.Count - 1; i >= 0; i--)
        {
            var waiter = entry.Waiters[i];
            if (waiter.Deadline > now)
                continue;
            entry.Waiters.RemoveAt(i);
            changed = true;
            context.Store.Notify(new LockNotice(context.Database, entry.Name, waiter.Token, LockNoticeKind.TimedOut, 0));
        }

        if (entry.Kind == LockKind.Mutex)
        {
            // The record of a holder is kept only while the key still holds its token.
            if (entry.Holders.Count > 0
                && (!context.Keyspace.TryGet(entry.Name, now, out var key) || !key.Value.AsSpan().SequenceEqual(entry.Holders[0].Token)))
            {
                entry.Holders.Clear();
                changed = true;
            }
        }
        else
        {
            changed |= entry.Holders.RemoveAll(h => h.ExpireAt <= now) > 0;
        }

        while (entry.Waiters.Count > 0 && IsFree(context, entry, entry.Kind, entry.Name, entry.Waiters[0].Mode, entry.MaxCount))
        {
            var next = entry.Waiters[0];
            entry.Waiters.RemoveAt(0);
            var fencing = Grant(context, entry, next.Token, next.Owner, next.Ttl, next.Mode).Integer;
            context.Store.Notify(new LockNotice(context.Database, entry.Name, next.Token, LockNoticeKind.Granted, fencing));
            changed = true;
        }

        if (changed)
            Recost(entry);
        if (entry.IsEmpty)
            Forget(entry);
        else
            Schedule(entry, context);
    }

    // True when a holder in `mode` fits now. The queue is the caller's business.
    private static bool IsFree(in CommandContext context, LockEntry? entry, LockKind kind, byte[] name, LockMode mode, int maxCount)
        => kind switch
        {
            LockKind.Mutex => !context.Keyspace.Contains(name, context.Now),
            LockKind.ReadWrite => entry is null || (mode == LockMode.Read ? !entry.HasWriter : entry.Holders.Count == 0),
            _ => (entry?.Holders.Count ?? 0) < maxCount,
        };

    private static LockHolder? HolderOf(in CommandContext context, LockEntry? entry, LockKind kind, byte[] name, byte[] token)
    {
        if (entry?.HolderOf(token) is not { } holder)
            return null;
        if (kind != LockKind.Mutex)
            return holder.ExpireAt > context.Now ? holder : null;
        return context.Keyspace.TryGet(name, context.Now, out var key) && key.Value.AsSpan().SequenceEqual(token) ? holder : null;
    }

    private Reply Renew(in CommandContext context, LockEntry entry, LockHolder holder, LockRequest request)
    {
        var now = context.Now;
        holder.ExpireAt = now + request.Ttl;
        holder.Fencing = context.Store.NextFencingToken(context.LogPosition);
        if (request.Owner.Length > 0)
            holder.Owner = request.Owner;
        if (entry.Kind == LockKind.Mutex)
            context.Keyspace.Set(entry.Name, holder.Token, ExpiryTime.Stored(holder.ExpireAt));
        Recost(entry);
        Schedule(entry, context);
        return Reply.FromInteger(holder.Fencing);
    }

    private Reply Grant(in CommandContext context, LockEntry entry, byte[] token, byte[] owner, long ttl, LockMode mode)
    {
        var holder = new LockHolder
        {
            Token = token,
            Owner = owner,
            Fencing = context.Store.NextFencingToken(context.LogPosition),
            ExpireAt = LeaseEnd(context.Now, ttl),
            Mode = mode,
        };
        if (entry.Kind == LockKind.Mutex)
        {
            entry.Holders.Clear();
            context.Keyspace.Set(entry.Name, token, holder.ExpireAt);
        }

        entry.Holders.Add(holder);
        Recost(entry);
        Schedule(entry, context);
        return Reply.FromInteger(holder.Fencing);
    }

    // A waiter's lease starts when it is granted, later than its acquire checked now + ttl for overflow: saturate at
    // the last representable expiry rather than wrap (a lease of ~292 million years is already forever).
    private static long LeaseEnd(long now, long ttl) => ExpiryTime.Stored(ttl > long.MaxValue - now ? ClusterTime.NoExpiry : now + ttl);

    private LockEntry Add(byte[] name, LockKind kind, int maxCount)
    {
        var entry = new LockEntry(name, kind, kind switch { LockKind.Mutex => 1, LockKind.Semaphore => maxCount, _ => 0 });
        entries.Add(name, entry);
        Recost(entry);
        return entry;
    }

    private void Forget(LockEntry entry)
    {
        Unschedule(entry);
        entries.Remove(entry.Name);
        UsedMemory -= entry.Cost;
        entry.Cost = 0;
    }

    private void Schedule(LockEntry entry, in CommandContext context)
    {
        var next = NextDue(entry, context.Keyspace);
        if (next == entry.ScheduledAt)
            return;
        Unschedule(entry);
        entry.ScheduledAt = next;
        if (next != ClusterTime.NoExpiry)
            due.Add((next, entry.Name));
    }

    // When the lock next needs a look: the soonest end of a lease (a mutex's is its key's expiry) or of a wait.
    private static long NextDue(LockEntry entry, Keyspace keyspace)
    {
        var next = ClusterTime.NoExpiry;
        if (entry.Kind == LockKind.Mutex)
        {
            if (keyspace.StoredExpireAt(entry.Name) is { } expireAt)
                next = expireAt;
        }
        else
        {
            foreach (var holder in entry.Holders)
                next = Math.Min(next, holder.ExpireAt);
        }

        foreach (var waiter in entry.Waiters)
            next = Math.Min(next, waiter.Deadline);
        return next;
    }

    private void Unschedule(LockEntry entry)
    {
        if (entry.ScheduledAt != ClusterTime.NoExpiry)
            due.Remove((entry.ScheduledAt, entry.Name));
        entry.ScheduledAt = ClusterTime.NoExpiry;
    }

    private void Recost(LockEntry entry)
    {
        var cost = Cost(entry);
        UsedMemory += cost - entry.Cost;
        entry.Cost = cost;
    }

    /// <summary>What <paramref name="entry"/> costs in <c>used_memory</c>: O(its members), computed afresh.</summary>
    public static long Cost(LockEntry entry)
    {
        var cost = PerEntry + entry.Name.Length;
        foreach (var holder in entry.Holders)
            cost += PerMember + holder.Token.Length + holder.Owner.Length;
        foreach (var waiter in entry.Waiters)
            cost += PerMember + waiter.Token.Length + waiter.Owner.Length;
        return cost;
    }

    /// <summary>The most <c>used_memory</c> an acquire of <paramref name="request"/> can add (an entry and a member).</summary>
    internal static long Growth(LockRequest request)
        => PerEntry + request.Name.Length + PerMember + request.Token.Length + request.Owner.Length;

    /// <summary>Puts a lock read from a snapshot in place; false when the name is there already.</summary>
    internal bool TryRestore(LockEntry entry, Keyspace keyspace)
    {
        if (!entries.TryAdd(entry.Name, entry))
            return false;
        Recost(entry);
        entry.ScheduledAt = NextDue(entry, keyspace);
        if (entry.ScheduledAt != ClusterTime.NoExpiry)
            due.Add((entry.ScheduledAt, entry.Name));
        return true;
    }

    /// <summary>Creates an empty lock for a snapshot reader to fill (<see cref="TryRestore"/>).</summary>
    internal static LockEntry Create(byte[] name, LockKind kind, int maxCount) => new(name, kind, maxCount);

    private sealed class DueOrder : IComparer<(long Due, byte[] Name)>
    {
        public static readonly DueOrder Instance = new();

        public int Compare((long Due, byte[] Name) x, (long Due, byte[] Name) y)
        {
            var byTime = x.Due.CompareTo(y.Due);
            return byTime != 0 ? byTime : x.Name.AsSpan().SequenceCompareTo(y.Name);
        }
    }
}

/// <summary>What an acquire asks for (parsed and validated by its command).</summary>
internal readonly record struct LockRequest(
    string Command, byte[] Name, byte[] Token, byte[] Owner, long Ttl, long Wait, LockMode Mode, int MaxCount);
