using Medallion.Threading;
using Microsoft.Extensions.Logging;
using RaftKv.Client.Locks;

namespace RaftKv.Client;

/// <summary>
/// A distributed reader-writer lock in a RaftKv cluster (<see cref="IDistributedReaderWriterLock"/>): many readers or
/// one writer, with a fencing token per acquisition, waited for in the server's FIFO queue.
/// </summary>
/// <remarks>
/// Readers at the head of the queue are granted together; a writer that waits blocks the readers queued after it, so
/// writers are not starved by a stream of readers. The lock lives in the server's lock namespace (<c>RWLOCK.*</c>),
/// not in the keyspace: <c>GET</c> on its name sees nothing; <c>LOCK.INFO name</c> shows its holders and waiters.
/// Neither side is reentrant, and a read lock is not upgraded: a holder that asks for the write side waits like anyone.
/// </remarks>
public sealed class RaftKvDistributedReaderWriterLock : IDistributedReaderWriterLock
{
    private readonly LockAcquirer readers;
    private readonly LockAcquirer writers;

    /// <summary>Creates the reader-writer lock named <paramref name="name"/> on <paramref name="connection"/>.</summary>
    public RaftKvDistributedReaderWriterLock(string name, RaftKvConnection connection, RaftKvLockOptions? options = null)
        : this(name, connection, (connection ?? throw new ArgumentNullException(nameof(connection))).LoggerFactory.CreateLogger<RaftKvDistributedReaderWriterLock>(), options)
    {
    }

    internal RaftKvDistributedReaderWriterLock(string name, ILockCommands commands, ILogger logger, RaftKvLockOptions? options)
    {
        var settings = RaftKvLockOptions.ValidatedCopy(options);
        readers = new LockAcquirer(LockResource.Read(name), commands, settings, logger);
        writers = new LockAcquirer(LockResource.Write(name), commands, settings, logger);
    }

    /// <summary>The lock's name in the server's lock namespace.</summary>
    public string Name => readers.Resource.Name;

    /// <summary>Tries to take a read lock within <paramref name="timeout"/> (0: never waits): shared with other readers, excluded by a writer.</summary>
    /// <returns>The handle, or null when no read lock was granted within <paramref name="timeout"/>.</returns>
    public ValueTask<RaftKvLockHandle?> TryAcquireReadLockAsync(TimeSpan timeout = default, CancellationToken cancellationToken = default)
        => readers.TryAcquireAsync(timeout, cancellationToken);

    /// <summary>Takes a read lock within <paramref name="timeout"/> (null: until granted).</summary>
    /// <exception cref="TimeoutException">No read lock was granted within <paramref name="timeout"/>.</exception>
    public ValueTask<RaftKvLockHandle> AcquireReadLockAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => readers.AcquireAsync(timeout, cancellationToken);

    /// <summary>Tries to take the write lock within <paramref name="timeout"/> (0: never waits): excludes readers and other writers.</summary>
    /// <returns>The handle, or null when the write lock was not granted within <paramref name="timeout"/>.</returns>
    public ValueTask<RaftKvLockHandle?> TryAcquireWriteLockAsync(TimeSpan timeout = default, CancellationToken cancellationToken = default)
        => writers.TryAcquireAsync(timeout, cancellationToken);

    /// <summary>Takes the write lock within <paramref name="timeout"/> (null: until granted).</summary>
    /// <exception cref="TimeoutException">The write lock was not granted within <paramref name="timeout"/>.</exception>
    public ValueTask<RaftKvLockHandle> AcquireWriteLockAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => writers.AcquireAsync(timeout, cancellationToken);

    /// <summary>Synchronous <see cref="TryAcquireReadLockAsync"/>; prefer the async form.</summary>
    public RaftKvLockHandle? TryAcquireReadLock(TimeSpan timeout = default, CancellationToken cancellationToken = default)
        => TryAcquireReadLockAsync(timeout, cancellationToken).AsTask().GetAwaiter().GetResult();

    /// <summary>Synchronous <see cref="AcquireReadLockAsync"/>; prefer the async form.</summary>
    public RaftKvLockHandle AcquireReadLock(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => AcquireReadLockAsync(timeout, cancellationToken).AsTask().GetAwaiter().GetResult();

    /// <summary>Synchronous <see cref="TryAcquireWriteLockAsync"/>; prefer the async form.</summary>
    public RaftKvLockHandle? TryAcquireWriteLock(TimeSpan timeout = default, CancellationToken cancellationToken = default)
        => TryAcquireWriteLockAsync(timeout, cancellationToken).AsTask().GetAwaiter().GetResult();

    /// <summary>Synchronous <see cref="AcquireWriteLockAsync"/>; prefer the async form.</summary>
    public RaftKvLockHandle AcquireWriteLock(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => AcquireWriteLockAsync(timeout, cancellationToken).AsTask().GetAwaiter().GetResult();

    IDistributedSynchronizationHandle? IDistributedReaderWriterLock.TryAcquireReadLock(TimeSpan timeout, CancellationToken cancellationToken)
        => TryAcquireReadLock(timeout, cancellationToken);

    IDistributedSynchronizationHandle IDistributedReaderWriterLock.AcquireReadLock(TimeSpan? timeout, CancellationToken cancellationToken)
        => AcquireReadLock(timeout, cancellationToken);

    async ValueTask<IDistributedSynchronizationHandle?> IDistributedReaderWriterLock.TryAcquireReadLockAsync(TimeSpan timeout, CancellationToken cancellationToken)
        => await TryAcquireReadLockAsync(timeout, cancellationToken).ConfigureAwait(false);

    async ValueTask<IDistributedSynchronizationHandle> IDistributedReaderWriterLock.AcquireReadLockAsync(TimeSpan? timeout, CancellationToken cancellationToken)
        => await AcquireReadLockAsync(timeout, cancellationToken).ConfigureAwait(false);

    IDistributedSynchronizationHandle? IDistributedReaderWriterLock.TryAcquireWriteLock(TimeSpan timeout, CancellationToken cancellationToken)
        => TryAcquireWriteLock(timeout, cancellationToken);

    IDistributedSynchronizationHandle IDistributedReaderWriterLock.AcquireWriteLock(TimeSpan? timeout, CancellationToken cancellationToken)
        => AcquireWriteLock(timeout, cancellationToken);

    async ValueTask<IDistributedSynchronizationHandle?> IDistributedReaderWriterLock.TryAcquireWriteLockAsync(TimeSpan timeout, CancellationToken cancellationToken)
        => await TryAcquireWriteLockAsync(timeout, cancellationToken).ConfigureAwait(false);

    async ValueTask<IDistributedSynchronizationHandle> IDistributedReaderWriterLock.AcquireWriteLockAsync(TimeSpan? timeout, CancellationToken cancellationToken)
        => await AcquireWriteLockAsync(timeout, cancellationToken).ConfigureAwait(false);
}
