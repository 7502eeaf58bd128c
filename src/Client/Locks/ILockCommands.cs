namespace RaftKv.Client.Locks;

/// <summary>The lock commands a lock handle needs, each applied exactly once (the connection sends them in its session).</summary>
internal interface ILockCommands
{
    TimeProvider TimeProvider { get; }

    /// <summary><c>LOCK.ACQUIRE key token ttl-ms</c>: the fencing token when acquired, null when another token holds the key.</summary>
    Task<long?> AcquireLockAsync(string key, string token, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary><c>LOCK.EXTEND key token ttl-ms</c>: true when the key still held the token and its TTL is reset.</summary>
    Task<bool> ExtendLockAsync(string key, string token, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary><c>LOCK.RELEASE key token</c>: true when the key held the token and was deleted.</summary>
    Task<bool> ReleaseLockAsync(string key, string token, CancellationToken cancellationToken);
}
