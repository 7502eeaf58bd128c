using Medallion.Threading;
using Microsoft.Extensions.Logging;
using RaftKv.Client.Locks;

namespace RaftKv.Client;

/// <summary>
/// A distributed counting semaphore in a RaftKv cluster (<see cref="IDistributedSemaphore"/>): at most
/// <see cref="MaxCount"/> holders at once, each with a fencing token, waiters granted in FIFO order.
/// </summary>
/// <remarks>
/// The semaphore lives in the server's lock namespace (<c>SEMAPHORE.*</c>), not in the keyspace. While it is held or
/// waited for it keeps the max-count it was created with: an acquire with another max-count is refused
/// (<see cref="RaftKvServerException"/>), so every client of one semaphore must agree on it.
/// </remarks>
public sealed class RaftKvDistributedSemaphore : IDistributedSemaphore
{
    private readonly LockAcquirer acquirer;

    /// <summary>Creates the semaphore named <paramref name="name"/> admitting <paramref name="maxCount"/> holders, on <paramref name="connection"/>.</summary>
    public RaftKvDistributedSemaphore(string name, int maxCount, RaftKvConnection connection, RaftKvLockOptions? options = null)
        : this(name, maxCount, connection, (connection ?? throw new ArgumentNullException(nameof(connection))).LoggerFactory.CreateLogger<RaftKvDistributedSemaphore>(), options)
    {
    }

    internal RaftKvDistributedSemaphore(string name, int maxCount, ILockCommands commands, ILogger logger, RaftKvLockOptions? options)
        => acquirer = new LockAcquirer(LockResource.Semaphore(name, maxCount), commands, RaftKvLockOptions.ValidatedCopy(options), logger);

    /// <summary>The semaphore's name in the server's lock namespace.</summary>
    public string Name => acquirer.Resource.Name;

    /// <summary>How many holders the semaphore admits at once.</summary>
    public int MaxCount => acquirer.Resource.MaxCount;

    /// <summary>Tries to take a ticket within <paramref name="timeout"/> (0: never waits).</summary>
    /// <returns>The handle, or null when no ticket was granted within <paramref name="timeout"/>.</returns>
    public ValueTask<RaftKvLockHandle?> TryAcquireAsync(TimeSpan timeout = default, CancellationToken cancellationToken = default)
        => acquirer.TryAcquireAsync(timeout, cancellationToken);

    /// <summary>Takes a ticket within <paramref name="timeout"/> (null: until granted).</summary>
    /// <exception cref="TimeoutException">No ticket was granted within <paramref name="timeout"/>.</exception>
    public ValueTask<RaftKvLockHandle> AcquireAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => acquirer.AcquireAsync(timeout, cancellationToken);

    /// <summary>Synchronous <see cref="TryAcquireAsync"/>; prefer the async form.</summary>
    public RaftKvLockHandle? TryAcquire(TimeSpan timeout = default, CancellationToken cancellationToken = default)
        => TryAcquireAsync(timeout, cancellationToken).AsTask().GetAwaiter().GetResult();

    /// <summary>Synchronous <see cref="AcquireAsync"/>; prefer the async form.</summary>
    public RaftKvLockHandle Acquire(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => AcquireAsync(timeout, cancellationToken).AsTask().GetAwaiter().GetResult();

    IDistributedSynchronizationHandle? IDistributedSemaphore.TryAcquire(TimeSpan timeout, CancellationToken cancellationToken)
        => TryAcquire(timeout, cancellationToken);

    IDistributedSynchronizationHandle IDistributedSemaphore.Acquire(TimeSpan? timeout, CancellationToken cancellationToken)
        => Acquire(timeout, cancellationToken);

    async ValueTask<IDistributedSynchronizationHandle?> IDistributedSemaphore.TryAcquireAsync(TimeSpan timeout, CancellationToken cancellationToken)
        => await TryAcquireAsync(timeout, cancellationToken).ConfigureAwait(false);

    async ValueTask<IDistributedSynchronizationHandle> IDistributedSemaphore.AcquireAsync(TimeSpan? timeout, CancellationToken cancellationToken)
        => await AcquireAsync(timeout, cancellationToken).ConfigureAwait(false);
}
