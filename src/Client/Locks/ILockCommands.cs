namespace RaftKv.Client.Locks;

/// <summary>The lock commands a lock and its handle need (docs/resp-extensions.md), sent by the connection.</summary>
internal interface ILockCommands
{
    TimeProvider TimeProvider { get; }

    /// <summary>
    /// The longest WAIT one blocking acquire may ask for: the connection's operation timeout, which then bounds how
    /// long it lets the server take to answer on top of the wait.
    /// </summary>
    TimeSpan MaxWait { get; }

    /// <summary>
    /// <c>&lt;family&gt;.ACQUIRE ... token ttl-ms [WAIT wait-ms] OWNER owner</c>: the fencing token when granted (at once
    /// or, with a positive <paramref name="wait"/>, by hand-off while queued), null when not granted. A positive wait
    /// blocks in the server's queue, on a connection of its own so that it holds up no other command.
    /// </summary>
    /// <exception cref="RaftKvUnknownOutcomeException">It was sent but no answer came: the token may be queued or hold the lock.</exception>
    Task<long?> AcquireAsync(LockResource resource, string token, TimeSpan ttl, TimeSpan wait, string owner, CancellationToken cancellationToken);

    /// <summary><c>&lt;family&gt;.EXTEND key token ttl-ms</c>: true when the token holds the lock and its lease is reset.</summary>
    Task<bool> ExtendAsync(LockResource resource, string token, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary><c>&lt;family&gt;.RELEASE key token</c>: true when the token held the lock or waited for it (it does neither now).</summary>
    Task<bool> ReleaseAsync(LockResource resource, string token, CancellationToken cancellationToken);
}
