using RaftKv.StateMachine.Memory;

namespace RaftKv.StateMachine.Sessions;

/// <summary>
/// Client sessions: for each, the replies of its numbered writes that the client has not yet acknowledged, so a retry
/// of a write whose reply was lost is answered from here instead of being applied twice (exactly-once writes on top
/// of Raft's at-least-once delivery).
/// </summary>
/// <remarks>
/// Part of the replicated state (snapshots, digest). A session expires when no write or keep-alive reached it for its
/// TTL of cluster time; expiry is judged at each entry's time, so every replica forgets a session at the same entry.
/// </remarks>
public sealed class SessionTable
{
    /// <summary>Replies a session keeps at most; beyond that a write is refused until the client acknowledges.</summary>
    public const int MaxUnacknowledged = 4096;

    /// <summary>The shortest session TTL accepted (ms).</summary>
    public const long MinTtl = 1_000;

    /// <summary>The longest session TTL accepted (ms): one day.</summary>
    public const long MaxTtl = 86_400_000;

    /// <summary>
    /// Sessions the table holds at most (expired ones not yet swept included); beyond that <c>SESSION.OPEN</c> is refused.
    /// A constant, as part of the state machine's definition: every replica refuses the same open.
    /// </summary>
    public const int MaxSessions = 100_000;

    private readonly Dictionary<long, Session> sessions = [];
    private readonly SortedSet<(long ExpireAt, long Id)> expiries = [];

    /// <summary>Sessions held, expired ones not yet swept included.</summary>
    public int Count => sessions.Count;

    /// <summary>What the sessions and their remembered replies cost in <c>used_memory</c>, kept up to date by every change.</summary>
    public long UsedMemory { get; private set; }

    /// <summary>Every session, in id order (snapshots and the digest need a stable order).</summary>
    public IEnumerable<Session> All => sessions.Values.OrderBy(static s => s.Id);

    /// <summary>Opens a session that lives until <paramref name="now"/> + <paramref name="ttl"/> unless kept alive.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ttl"/> is outside <see cref="MinTtl"/> to <see cref="MaxTtl"/>.</exception>
    public Session Open(long id, long ttl, long now, string owner = Acl.AclTable.DefaultUserName)
    {
        // A TTL from outside that range once overflowed Touch's sum into a session that never expired.
        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, MinTtl);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, MaxTtl);
        var session = new Session(id, ttl) { Owner = owner };
        sessions.Add(id, session);
        UsedMemory += session.UsedMemory;
        Touch(session, now);
        return session;
    }

    /// <summary>True when a session with this id is held, expired or not.</summary>
    public bool Contains(long id) => sessions.ContainsKey(id);

    /// <summary>Finds a live session at <paramref name="now"/>.</summary>
    public bool TryGetLive(long id, long now, out Session session)
        => sessions.TryGetValue(id, out session!) && session.ExpireAt > now;

    /// <summary>True when a session with this id is held and another user than <paramref name="owner"/> opened it.</summary>
    public bool BelongsToAnother(long id, string owner) => sessions.TryGetValue(id, out var session) && session.Owner != owner;

    /// <summary>Finds a live session at <paramref name="now"/> that <paramref name="owner"/> opened (another's is not found).</summary>
    public bool TryGetLive(long id, long now, string owner, out Session session)
        => TryGetLive(id, now, out session) && session.Owner == owner;

    /// <summary>Extends a session's life to <paramref name="now"/> + its TTL.</summary>
    public void Touch(Session session, long now)
    {
        expiries.Remove((session.ExpireAt, session.Id));
        session.ExpireAt = ExpireAt(now, session.Ttl);
        expiries.Add((session.ExpireAt, session.Id));
    }

    // now + ttl without overflow, for any signs (a snapshot is trusted, but a TTL restored from one is still just a
    // number): a sum past the end of time is the end of time, one before its start is the start.
    private static long ExpireAt(long now, long ttl)
    {
        var sum = unchecked(now + ttl);
        var overflowed = ((now ^ sum) & (ttl ^ sum)) < 0;
        return !overflowed ? sum : ttl > 0 ? long.MaxValue : long.MinValue;
    }

    /// <summary>Closes a session; false when there was none.</summary>
    public bool Close(long id)
    {
        if (!sessions.Remove(id, out var session))
            return false;
        expiries.Remove((session.ExpireAt, id));
        UsedMemory -= session.UsedMemory;
        return true;
    }

    /// <summary>Forgets at most <paramref name="budget"/> sessions that expired at <paramref name="now"/>.</summary>
    public int SweepExpired(long now, int budget)
    {
        var swept = 0;
        while (swept < budget && expiries.Count > 0 && expiries.Min is var (expireAt, id) && expireAt <= now)
        {
            expiries.Remove((expireAt, id));
            sessions.Remove(id, out var session);
            UsedMemory -= session!.UsedMemory;
            swept++;
        }

        return swept;
    }

    /// <summary>Empties the table (before a snapshot restore).</summary>
    public void Clear()
    {
        sessions.Clear();
        expiries.Clear();
        UsedMemory = 0;
    }

    /// <summary>Puts back a session read from a snapshot.</summary>
    public void Restore(Session session)
    {
        sessions.Add(session.Id, session);
        expiries.Add((session.ExpireAt, session.Id));
        UsedMemory += session.UsedMemory;
    }

    /// <summary>Remembers the reply of a held session's write numbered <paramref name="sequence"/>.</summary>
    public void Remember(Session session, long sequence, Reply reply) => UsedMemory += session.Remember(sequence, reply);

    /// <summary>Forgets a held session's replies of the writes numbered below <paramref name="below"/> (see <see cref="Session.AcknowledgedBelow"/>).</summary>
    public void Acknowledge(Session session, long below) => UsedMemory -= session.Acknowledge(below);
}

/// <summary>One client session: its TTL, when it expires, and the replies its client has not acknowledged.</summary>
public sealed class Session(long id, long ttl)
{
    /// <summary>The session id (the log position of the <c>SESSION.OPEN</c> that created it).</summary>
    public long Id { get; } = id;

    /// <summary>
    /// The ACL user that opened the session: only it may use, keep alive or close it (to anyone else the session does
    /// not exist). In snapshots and the digest.
    /// </summary>
    public string Owner { get; internal set; } = Acl.AclTable.DefaultUserName;

    /// <summary>How long the session lives without activity (ms of cluster time).</summary>
    public long Ttl { get; } = ttl;

    /// <summary>Cluster time at which the session expires.</summary>
    public long ExpireAt { get; internal set; }

    /// <summary>Every write numbered below this has been acknowledged by the client; their replies are forgotten.</summary>
    public long AcknowledgedBelow { get; internal set; } = 1;

    private readonly SortedDictionary<long, Reply> replies = [];

    /// <summary>Replies of applied writes numbered at or above <see cref="AcknowledgedBelow"/>, by sequence number, in order.</summary>
    public IReadOnlyDictionary<long, Reply> Replies => replies;

    /// <summary>What the session and its replies cost in <c>used_memory</c> (<see cref="MemoryCosts"/>).</summary>
    public long UsedMemory { get; private set; } = MemoryCosts.PerSession;

    /// <summary>Remembers a reply (a session read from a snapshot, or through its table); returns what it costs.</summary>
    internal long Remember(long sequence, Reply reply)
    {
        replies.Add(sequence, reply);
        var cost = MemoryCosts.PerSessionReply + MemoryCosts.Reply(reply);
        UsedMemory += cost;
        return cost;
    }

    /// <summary>
    /// Forgets the replies of writes numbered below <paramref name="below"/>; acknowledgements never go back. Returns
    /// what the forgotten replies cost.
    /// </summary>
    internal long Acknowledge(long below)
    {
        if (below <= AcknowledgedBelow)
            return 0;
        AcknowledgedBelow = below;
        var freed = 0L;
        while (replies.Count > 0 && replies.First() is var (sequence, reply) && sequence < below)
        {
            replies.Remove(sequence);
            freed += MemoryCosts.PerSessionReply + MemoryCosts.Reply(reply);
        }

        UsedMemory -= freed;
        return freed;
    }
}
