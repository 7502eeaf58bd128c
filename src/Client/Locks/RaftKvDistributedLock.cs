using Medallion.Threading;
using Microsoft.Extensions.Logging;
using RaftKv.Client.Locks;

namespace RaftKv.Client;

/// <summary>
/// A distributed mutex held in a RaftKv cluster, with a fencing token per acquisition
/// (<see cref="IDistributedLock"/> from DistributedLock.Core, so code written against that library works unchanged).
/// </summary>
/// <remarks>
/// <para>
/// The lock is the string key <see cref="Name"/>, holding a random token per acquisition, with a TTL of
/// <see cref="RaftKvLockOptions.Expiry"/> — the key that <c>SET name token NX PX ttl</c> makes, so plain Redis
/// clients see and respect it. It is taken with <c>LOCK.ACQUIRE</c>, which returns a fencing token that grows with
/// every acquisition in the cluster, across failovers; pass <see cref="RaftKvLockHandle.FencingToken"/> to the resource
/// you protect and have it refuse tokens older than the newest it has seen.
/// </para>
/// <para>
/// A busy lock is waited for in the server's FIFO queue (<c>LOCK.ACQUIRE ... WAIT</c>): waiters are granted in the
/// order they queued, by the log entry that frees the lock, with no polling (see <see cref="RaftKvLockOptions.Queued"/>).
/// The lock is not reentrant: a second acquisition while a handle is held waits like any other.
/// </para>
/// </remarks>
public sealed class RaftKvDistributedLock : IDistributedLock
{
    private readonly LockAcquirer acquirer;

    /// <summary>Creates a lock named <paramref name="name"/> (the key it is held in) on <paramref name="connection"/>.</summary>
    public RaftKvDistributedLock(string name, RaftKvConnection connection, RaftKvLockOptions? options = null)
        : this(name, connection, (connection ?? throw new ArgumentNullException(nameof(connection))).LoggerFactory.CreateLogger<RaftKvDistributedLock>(), options)
    {
    }

    internal RaftKvDistributedLock(string name, ILockCommands commands, ILogger logger, RaftKvLockOptions? options)
        => acquirer = new LockAcquirer(LockResource.Mutex(name), commands, RaftKvLockOptions.ValidatedCopy(options), logger);

    /// <summary>The lock's name: the key it is held in.</summary>
    public string Name => acquirer.Resource.Name;

    /// <summary>
    /// Tries to take the lock, waiting up to <paramref name="timeout"/> while another holder has it
    /// (0: one attempt that never waits; <see cref="Timeout.InfiniteTimeSpan"/>: until taken).
    /// </summary>
    /// <returns>The handle (dispose it to release), or null when the lock stayed busy for <paramref name="timeout"/>.</returns>
    /// <exception cref="RaftKvUnknownOutcomeException">The cluster could not say whether the lock was taken, nor confirm its release; the client retries the release in the background.</exception>
    /// <exception cref="RaftKvTimeoutException">The cluster did not answer within the connection's operation timeout.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired; the waiter was removed from the queue.</exception>
    public ValueTask<RaftKvLockHandle?> TryAcquireAsync(TimeSpan timeout = default, CancellationToken cancellationToken = default)
        => acquirer.TryAcquireAsync(timeout, cancellationToken);

    /// <summary>Takes the lock, waiting up to <paramref name="timeout"/> (null: until taken).</summary>
    /// <exception cref="TimeoutException">The lock stayed busy for <paramref name="timeout"/>.</exception>
    public ValueTask<RaftKvLockHandle> AcquireAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => acquirer.AcquireAsync(timeout, cancellationToken);

    /// <summary>Synchronous <see cref="TryAcquireAsync"/>, for <see cref="IDistributedLock"/>; prefer the async form.</summary>
    public RaftKvLockHandle? TryAcquire(TimeSpan timeout = default, CancellationToken cancellationToken = default)
        => TryAcquireAsync(timeout, cancellationToken).AsTask().GetAwaiter().GetResult();

    /// <summary>Synchronous <see cref="AcquireAsync"/>, for <see cref="IDistributedLock"/>; prefer the async form.</summary>
    public RaftKvLockHandle Acquire(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => AcquireAsync(timeout, cancellationToken).AsTask().GetAwaiter().GetResult();

    IDistributedSynchronizationHandle? IDistributedLock.TryAcquire(TimeSpan timeout, CancellationToken cancellationToken)
        => TryAcquire(timeout, cancellationToken);

    IDistributedSynchronizationHandle IDistributedLock.Acquire(TimeSpan? timeout, CancellationToken cancellationToken)
        => Acquire(timeout, cancellationToken);

    async ValueTask<IDistributedSynchronizationHandle?> IDistributedLock.TryAcquireAsync(TimeSpan timeout, CancellationToken cancellationToken)
        => await TryAcquireAsync(timeout, cancellationToken).ConfigureAwait(false);

    async ValueTask<IDistributedSynchronizationHandle> IDistributedLock.AcquireAsync(TimeSpan? timeout, CancellationToken cancellationToken)
        => await AcquireAsync(timeout, cancellationToken).ConfigureAwait(false);
}
