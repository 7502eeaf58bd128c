namespace RaftKv.Client.Sessions;

/// <summary>
/// One write's place in a session across its attempts: the session it was numbered in, its sequence number, and
/// whether any attempt may have been applied. Used by one operation at a time, never concurrently.
/// </summary>
internal sealed class SessionWrite
{
    private long sequence;

    /// <summary>The session this write is numbered in; null before the first attempt.</summary>
    public ClientSession? Session { get; private set; }

    /// <summary>The write's sequence number in <see cref="Session"/>; 0 until numbered.</summary>
    public long Sequence => sequence;

    /// <summary>
    /// True once an attempt reached a server and its outcome was not learned (connection lost after sending,
    /// <c>-UNCERTAIN</c>, deadline while waiting). From then on only the same session can tell what happened.
    /// </summary>
    public bool MayHaveBeenApplied { get; private set; }

    /// <summary>Numbers the write in <paramref name="session"/>, letting go of any number it had in an older one.</summary>
    public void Bind(ClientSession session)
    {
        if (ReferenceEquals(Session, session))
            return;
        Release();
        Session = session;
    }

    /// <summary>Returns the session frame for the next attempt: the sequence number (kept across retries) and the ack.</summary>
    public (long Sequence, long Ack) Stamp()
    {
        var ack = Session!.Stamp(ref sequence);
        return (sequence, ack);
    }

    public void MarkMayHaveBeenApplied() => MayHaveBeenApplied = true;

    /// <summary>Ends the write's life in its session, so the session's acknowledgement can move past it.</summary>
    public void Release()
    {
        if (Session is not null && sequence != 0)
            Session.Finish(sequence);
        Session = null;
        sequence = 0;
    }
}
