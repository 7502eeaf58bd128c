using RaftKv.Client.Commands;
using RaftKv.Client.Locks;

namespace RaftKv.Client;

// The lock commands of docs/resp-extensions.md, for RaftKvDistributedLock.
public sealed partial class RaftKvConnection : ILockCommands
{
    TimeProvider ILockCommands.TimeProvider => time;

    async Task<long?> ILockCommands.AcquireLockAsync(string key, string token, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var reply = await ExecuteAsync(
            new RaftKvCommand("LOCK.ACQUIRE", [key, token, (long)ttl.TotalMilliseconds], Delivery.ExactlyOnce), cancellationToken).ConfigureAwait(false);
        return reply.IsNull ? null : reply.AsInt64();
    }

    async Task<bool> ILockCommands.ExtendLockAsync(string key, string token, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var reply = await ExecuteAsync(
            new RaftKvCommand("LOCK.EXTEND", [key, token, (long)ttl.TotalMilliseconds], Delivery.ExactlyOnce), cancellationToken).ConfigureAwait(false);
        return reply.AsInt64() == 1;
    }

    async Task<bool> ILockCommands.ReleaseLockAsync(string key, string token, CancellationToken cancellationToken)
    {
        var reply = await ExecuteAsync(new RaftKvCommand("LOCK.RELEASE", [key, token], Delivery.ExactlyOnce), cancellationToken).ConfigureAwait(false);
        return reply.AsInt64() == 1;
    }
}
