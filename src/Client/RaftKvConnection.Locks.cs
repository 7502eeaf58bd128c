using System.Collections.Concurrent;
using System.Net.Sockets;
using RaftKv.Client.Commands;
using RaftKv.Client.Locks;
using RaftKv.Client.Protocol;
using RaftKv.Client.Retry;
using RaftKv.Client.Transport;

namespace RaftKv.Client;

// The lock commands of docs/resp-extensions.md, for the lock types. Acquires that do not wait, extensions and releases
// go through the session like any write. An acquire that waits in the server's queue blocks its connection until it
// is granted or times out (as BLPOP does), so it goes on a wait lane: a connection of its own to the same node,
// carrying one blocked acquire at a time, kept in a small pool for the next one.
public sealed partial class RaftKvConnection : ILockCommands
{
    // Idle wait lanes kept for reuse; more than this many acquires waiting at once open lanes that close after use.
    private const int MaxIdleLanes = 16;

    private readonly ConcurrentQueue<RespChannel> idleLanes = new();
    private int idleLaneCount;
    private int laneCleanupRegistered;

    TimeProvider ILockCommands.TimeProvider => time;

    TimeSpan ILockCommands.MaxWait => options.MaxLockWait;

    async Task<long?> ILockCommands.AcquireAsync(LockResource resource, string token, TimeSpan ttl, TimeSpan wait, string owner, CancellationToken cancellationToken)
    {
        var waitMilliseconds = wait > TimeSpan.Zero ? Math.Max(1, (long)Math.Ceiling(wait.TotalMilliseconds)) : 0;
        var arguments = resource.AcquireArguments(token, TtlMilliseconds(ttl), waitMilliseconds, owner);
        var reply = waitMilliseconds > 0
            ? await RunQueuedAcquireAsync(new RaftKvCommand(resource.AcquireCommand, arguments, Delivery.Idempotent), wait, cancellationToken).ConfigureAwait(false)
            : await ExecuteAsync(new RaftKvCommand(resource.AcquireCommand, arguments, Delivery.ExactlyOnce), cancellationToken).ConfigureAwait(false);
        return reply.IsNull ? null : reply.AsInt64();
    }

    async Task<bool> ILockCommands.ExtendAsync(LockResource resource, string token, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var reply = await ExecuteAsync(
            new RaftKvCommand(resource.ExtendCommand, [resource.Name, token, TtlMilliseconds(ttl)], Delivery.ExactlyOnce), cancellationToken).ConfigureAwait(false);
        return reply.AsInt64() == 1;
    }

    async Task<bool> ILockCommands.ReleaseAsync(LockResource resource, string token, CancellationToken cancellationToken)
    {
        var reply = await ExecuteAsync(new RaftKvCommand(resource.ReleaseCommand, [resource.Name, token], Delivery.ExactlyOnce), cancellationToken).ConfigureAwait(false);
        return reply.AsInt64() == 1;
    }

    /// <summary>
    /// Sends an acquire with <c>WAIT</c> on a wait lane and waits for its answer: <paramref name="wait"/> on the
    /// server, plus the operation timeout for everything else (finding the leader, retries, the server's grace).
    /// </summary>
    /// <remarks>
    /// The acquire is sent plain, not in the session: a blocked write would hold the session's acknowledgement back
    /// for as long as it waits, and every other write of this connection would pile up unacknowledged behind it. It is
    /// safe to repeat because the token makes it so: a token already waiting keeps its place, a token already granted
    /// is granted again with a newer fencing token. So <c>-MOVED</c>, <c>-CLUSTERDOWN</c> and <c>-UNCERTAIN</c> are
    /// retried (on whichever node leads by then) until the deadline. A lane that closes after the acquire was sent is
    /// not: the node proposes the release of a waiter whose connection ends, which could land after the retry and take
    /// back its grant. That, and a deadline that passes after it was sent, is an unknown outcome: the caller releases
    /// the token and goes on with a new one.
    /// </remarks>
    private async Task<RespValue> RunQueuedAcquireAsync(RaftKvCommand command, TimeSpan wait, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        using var deadline = OperationDeadline.Start(time, wait + options.OperationTimeout, cancellationToken, shutdown.Token);
        var backoff = new RetryBackoff(options.MinRetryDelay, options.MaxRetryDelay);
        var sent = false;
        Exception? lastFailure = null;
        try
        {
            while (true)
            {
                RespChannel lane;
                try
                {
                    lane = await TakeLaneAsync(deadline).ConfigureAwait(false);
                }
                catch (ConnectionLostException lost)
                {
                    lastFailure = lost;
                    await RetryAfterAsync(command, lost.Message, ref backoff, deadline).ConfigureAwait(false);
                    continue;
                }

                var pending = new PendingReply(command);
                RespValue reply;
                try
                {
                    reply = await lane.SendAsync(pending, deadline.Token).ConfigureAwait(false);
                }
                catch (ConnectionLostException lost)
                {
                    await lane.DisposeAsync().ConfigureAwait(false);
                    if (pending.WasSent)
                    {
                        // The node releases the token of a waiter whose connection ends, perhaps only after a retry
                        // with that token was queued or granted: the token is spent.
                        throw new RaftKvUnknownOutcomeException(command.Name, "its wait lane closed while it waited (the node then releases its token)", lost);
                    }

                    lastFailure = lost;
                    await RetryAfterAsync(command, lost.Message, ref backoff, deadline).ConfigureAwait(false);
                    continue;
                }
                catch (OperationCanceledException)
                {
                    // The lane still owes this reply, so it can carry nothing else; closing it also tells the node
                    // that the waiter is gone.
                    sent |= pending.WasSent;
                    await lane.DisposeAsync().ConfigureAwait(false);
                    throw;
                }

                if (!reply.IsError)
                {
                    ReturnLane(lane);
                    return reply;
                }

                var error = reply.AsString()!;
                lastFailure = new RaftKvServerException(error);
                switch (ServerErrors.Classify(error))
                {
                    case ServerErrorKind.Moved:
                        if (ServerErrors.MovedTo(error) is { } leader)
                            topology.Hint(leader);
                        await LeaveNodeAsync(lane).ConfigureAwait(false);
                        await RetryAfterAsync(command, error, ref backoff, deadline).ConfigureAwait(false);
                        continue;

                    case ServerErrorKind.NotReady:
                        await LeaveNodeAsync(lane).ConfigureAwait(false);
                        await RetryAfterAsync(command, error, ref backoff, deadline).ConfigureAwait(false);
                        continue;

                    case ServerErrorKind.Uncertain:
                        sent = true;
                        await LeaveNodeAsync(lane).ConfigureAwait(false);
                        await RetryAfterAsync(command, error, ref backoff, deadline).ConfigureAwait(false);
                        continue;

                    default:
                        ReturnLane(lane);
                        throw (RaftKvServerException)lastFailure;
                }
            }
        }
        catch (OperationCanceledException e) when (!deadline.CallerToken.IsCancellationRequested)
        {
            if (deadline.ShutdownToken.IsCancellationRequested)
                throw new ObjectDisposedException(nameof(RaftKvConnection), e);
            throw sent
                ? new RaftKvUnknownOutcomeException(command.Name, $"no answer within its wait of {wait} plus the operation timeout of {options.OperationTimeout}", lastFailure ?? e)
                : new RaftKvTimeoutException(
                    $"{command.Name} was not sent within {wait + options.OperationTimeout}; it was not applied. Last failure: {lastFailure?.Message ?? lastDiscoveryFailure ?? "none"}",
                    lastFailure ?? e);
        }
    }

    /// <summary>
    /// An idle lane to the node the connection talks to (found as for any command), or a new one. Its reply timeout
    /// covers the longest wait (<see cref="ILockCommands.MaxWait"/>) on top of the usual one.
    /// </summary>
    /// <exception cref="ConnectionLostException">The node could not be reached.</exception>
    private async Task<RespChannel> TakeLaneAsync(OperationDeadline deadline)
    {
        var node = await GetChannelAsync(deadline).ConfigureAwait(false);
        while (idleLanes.TryDequeue(out var idle))
        {
            Interlocked.Decrement(ref idleLaneCount);
            if (idle.IsOpen && idle.Endpoint == node.Endpoint)
                return idle;
            await idle.DisposeAsync().ConfigureAwait(false);
        }

        if (Interlocked.Exchange(ref laneCleanupRegistered, 1) == 0)
            shutdown.Token.Register(CloseIdleLanes);

        using var limit = deadline.Within(options.ConnectTimeout);
        try
        {
            return await RespChannel.ConnectAsync(node.Endpoint, channelSetup, time, options.MaxLockWait + (options.OperationTimeout * 2), logger, limit.Token)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException || (e is OperationCanceledException && !deadline.Token.IsCancellationRequested))
        {
            // The node the connection uses cannot be reached afresh: have the next command find the leader again.
            node.Retire();
            throw new ConnectionLostException(node.Endpoint, $"opening a wait lane failed: {e.Message}", e);
        }
    }

    private void ReturnLane(RespChannel lane)
    {
        if (lane.IsOpen && !shutdown.IsCancellationRequested)
        {
            if (Interlocked.Increment(ref idleLaneCount) <= MaxIdleLanes)
            {
                idleLanes.Enqueue(lane);

                // Disposal may have emptied the pool between the check above and the enqueue.
                if (shutdown.IsCancellationRequested)
                    CloseIdleLanes();
                return;
            }

            Interlocked.Decrement(ref idleLaneCount);
        }

        lane.Abort(new ObjectDisposedException(nameof(RespChannel)));
    }

    // The lane's node does not lead (or is not ready): the shared connection to it is stale too.
    private async Task LeaveNodeAsync(RespChannel lane)
    {
        if (Volatile.Read(ref channel) is { } shared && shared.Endpoint == lane.Endpoint)
            shared.Retire();
        await lane.DisposeAsync().ConfigureAwait(false);
    }

    private static long TtlMilliseconds(TimeSpan ttl)
    {
        var milliseconds = (long)ttl.TotalMilliseconds;
        return milliseconds >= 1 ? milliseconds : throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "A lock's TTL must be at least one millisecond.");
    }

    private void CloseIdleLanes()
    {
        while (idleLanes.TryDequeue(out var idle))
        {
            Interlocked.Decrement(ref idleLaneCount);
            idle.Abort(new ObjectDisposedException(nameof(RespChannel)));
        }
    }
}
