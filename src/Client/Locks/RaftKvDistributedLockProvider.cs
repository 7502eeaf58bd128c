using Medallion.Threading;

namespace RaftKv.Client;

/// <summary>Creates <see cref="RaftKvDistributedLock"/>s on one connection (<see cref="IDistributedLockProvider"/>, for dependency injection).</summary>
public sealed class RaftKvDistributedLockProvider(RaftKvConnection connection, RaftKvLockOptions? options = null) : IDistributedLockProvider
{
    /// <summary>A lock named <paramref name="name"/> (the key it is held in).</summary>
    public RaftKvDistributedLock CreateLock(string name) => new(name, connection, options);

    IDistributedLock IDistributedLockProvider.CreateLock(string name) => CreateLock(name);
}
