namespace RaftKv.Client.Sessions;

/// <summary>
/// The client's side of a server session: its id, the next sequence number, the numbers still waiting for a reply
/// (the lowest of them is the <c>ack</c> sent with every write) and when it last saw activity. Thread-safe.
/// </summary>
internal sealed class ClientSession(long id, long openedAt)
{
    private readonly Lock gate = new();
    private readonly SortedSet<long> awaiting = [];
    private long nextSequence = 1;
    private long lastActivity = openedAt;

    /// <summary>The server's session id.</summary>
    public long Id { get; } = id;

    /// <summary>The <see cref="TimeProvider"/> timestamp of the last write or keep-alive the server answered.</summary>
    public long LastActivity => Interlocked.Read(ref lastActivity);

    /// <summary>Writes numbered and not yet finished.</summary>
    public int Awaiting
    {
        get
        {
            lock (gate)
                return awaiting.Count;
        }
    }

    /// <summary>
    /// Numbers a new write (or keeps <paramref name="sequence"/> when it already has one, for a retry) and returns the
    /// acknowledgement to send with it: every write below it has had its reply delivered.
    /// </summary>
    public long Stamp(ref long sequence)
    {
        lock (gate)
        {
            if (sequence == 0)
            {
                sequence = nextSequence++;
                awaiting.Add(sequence);
            }

            return awaiting.Min;
        }
    }

    /// <summary>The write numbered <paramref name="sequence"/> is finished: its reply was delivered or given up on.</summary>
    public void Finish(long sequence)
    {
        lock (gate)
            awaiting.Remove(sequence);
    }

    /// <summary>Records that the server answered for this session at <paramref name="timestamp"/>.</summary>
    public void Touch(long timestamp)
    {
        var seen = Interlocked.Read(ref lastActivity);
        while (timestamp > seen)
        {
            var previous = Interlocked.CompareExchange(ref lastActivity, timestamp, seen);
            if (previous == seen)
                return;
            seen = previous;
        }
    }
}
