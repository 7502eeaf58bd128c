using Medallion.Threading;

namespace RaftKv.Client;

/// <summary>
/// Creates <see cref="RaftKvDistributedLock"/>s on one connection (<see cref="IDistributedLockProvider"/>). Kept for
/// code written before <see cref="RaftKvDistributedSynchronizationProvider"/>, which also makes reader-writer locks and
/// semaphores; the locks are the same.
/// </summary>
public sealed class RaftKvDistributedLockProvider(RaftKvConnection connection, RaftKvLockOptions? options = null) : IDistributedLockProvider
{
    private readonly RaftKvDistributedSynchronizationProvider provider = new(connection, options);

    /// <summary>A lock named <paramref name="name"/> (the key it is held in).</summary>
    public RaftKvDistributedLock CreateLock(string name) => provider.CreateLock(name);

    IDistributedLock IDistributedLockProvider.CreateLock(string name) => CreateLock(name);
}
