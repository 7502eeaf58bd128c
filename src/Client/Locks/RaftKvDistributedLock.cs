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
/// Acquisition, extension and release go through the connection's session: an attempt whose reply was lost is
/// retried and answered with the same fencing token, never taken twice nor wrongly reported busy.
/// </para>
/// </remarks>
public sealed class RaftKvDistributedLock : IDistributedLock
{
    private readonly ILockCommands commands;
    private readonly RaftKvLockOptions options;
    private readonly ILogger logger;
    private readonly TimeProvider time;

    /// <summary>Creates a lock named <paramref name="name"/> (the key it is held in) on <paramref name="connection"/>.</summary>
    public RaftKvDistributedLock(string name, RaftKvConnection connection, RaftKvLockOptions? options = null)
        : this(name, connection, (connection ?? throw new ArgumentNullException(nameof(connection))).LoggerFactory.CreateLogger<RaftKvDistributedLock>(), options)
    {
    }

    internal RaftKvDistributedLock(string name, ILockCommands commands, ILogger logger, RaftKvLockOptions? options)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        this.commands = commands;
        this.logger = logger;
        this.options = (options ?? new RaftKvLockOptions()).Snapshot();
        this.options.Validate();
        time = commands.TimeProvider;
    }

    /// <summary>The lock's name: the key it is held in.</summary>
    public string Name { get; }

    /// <summary>
    /// Tries to take the lock, waiting up to <paramref name="timeout"/> while another holder has it
    /// (0: one attempt; <see cref="Timeout.InfiniteTimeSpan"/>: until taken).
    /// </summary>
    /// <returns>The handle (dispose it to release), or null when the lock stayed busy for <paramref name="timeout"/>.</returns>
    /// <exception cref="RaftKvUnknownOutcomeException">The cluster could not say whether the lock was taken; the client gives it back in the background.</exception>
    /// <exception cref="RaftKvTimeoutException">The cluster did not answer within the connection's operation timeout.</exception>
    public async ValueTask<RaftKvLockHandle?> TryAcquireAsync(TimeSpan timeout = default, CancellationToken cancellationToken = default)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be non-negative or Timeout.InfiniteTimeSpan.");

        var token = Guid.NewGuid().ToString("N");
        var started = time.GetTimestamp();
        while (true)
        {
            // The lease is counted from before the first send: a retried attempt may have been applied at the first.
            var sentAt = time.GetTimestamp();
            long? fencingToken;
            try
            {
                fencingToken = await commands.AcquireLockAsync(Name, token, options.Expiry, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not RaftKvServerException and not ArgumentException)
            {
                // The acquisition may have taken effect without this client learning it (unknown outcome, cancelled
                // after it was sent): hand the key back rather than leave it locked until its TTL runs out.
                ReleaseAbandoned(token);
                throw;
            }

            if (fencingToken is { } fence)
                return new RaftKvLockHandle(Name, token, fence, sentAt, commands, options, logger);

            var waited = time.GetElapsedTime(started);
            if (timeout != Timeout.InfiniteTimeSpan && waited >= timeout)
                return null;

            var pause = options.MinBusyWaitSleepTime + ((options.MaxBusyWaitSleepTime - options.MinBusyWaitSleepTime) * Random.Shared.NextDouble());
            if (timeout != Timeout.InfiniteTimeSpan && pause > timeout - waited)
                pause = timeout - waited;
            await Task.Delay(pause, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the lock, waiting up to <paramref name="timeout"/> (null: until taken).</summary>
    /// <exception cref="TimeoutException">The lock stayed busy for <paramref name="timeout"/>.</exception>
    public async ValueTask<RaftKvLockHandle> AcquireAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => await TryAcquireAsync(timeout ?? Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false)
            ?? throw new TimeoutException($"The lock {Name} stayed busy for {timeout}.");

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

    private void ReleaseAbandoned(string token)
        => _ = Task.Run(async () =>
        {
            try
            {
                await commands.ReleaseLockAsync(Name, token, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RaftKvException or TimeoutException or ObjectDisposedException)
            {
                Log.LockReleaseFailed(logger, Name, e.Message);
            }
        });
}
