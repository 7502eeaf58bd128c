using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Options;
using RaftKv.Node.Raft;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Routing;

/// <summary>
/// Where a client's data command goes. A write is proposed here when this node leads, forwarded to the leader over
/// the peer channel when it follows (or answered <c>-MOVED</c> in redirect mode), and refused with
/// <c>-CLUSTERDOWN</c> when no leader is known in time. A read waits for a shared <see cref="ReadBarrier"/> and reads
/// local state.
/// </summary>
/// <remarks>
/// A connection's commands take effect in the order it sent them, as on Redis: a read waits for the writes the same
/// connection sent before it (a pipelined <c>SET k v; GET k</c> reads its own write), and a write waits until the
/// reads sent before it have read (a pipelined <c>GET k; DEL k</c> never reads the deletion). Pipelines of only
/// reads or only writes never wait for each other. Decisions are made on typed outcomes
/// (<see cref="WriteOutcome"/>); the client's reply is made from the outcome last.
/// </remarks>
public sealed partial class CommandRouter(
    ClusterView view,
    Proposer proposer,
    LeaderForwarder forwarder,
    ReadBarrier barrier,
    RaftStateMachine stateMachine,
    Membership.MembershipWatch membership,
    Security.AccessControl access,
    WriteLimits limits,
    Locks.LockWaits lockWaits,
    TimeProvider time,
    IOptions<NodeOptions> options,
    ILogger<CommandRouter> logger)
{
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);
    private readonly bool forwardWrites = options.Value.FollowerWrites == FollowerWriteMode.Forward;

    /// <summary>
    /// Routes a write of <paramref name="connection"/> in the database selected now, after the connection's earlier
    /// reads; the task is its reply.
    /// </summary>
    public Task<Reply> WriteAsync(WriteCommand command, RespConnection connection)
    {
        // A node that cannot apply cannot tell its client what became of a write, nor order its later reads after it.
        if (stateMachine.Stopped is { } stop)
            return Task.FromResult(NodeReplies.ApplierStopped(stop));
        if (membership.Refusal is { } notMember)
            return Task.FromResult(notMember);

        // The first change of users in a cluster that never held any carries the configured ones (requirepass,
        // aclfile), which the state machine loads first; otherwise they would be dropped for good.
        command = limits.Apply(access.WithConfiguredUsers(command));

        // The database is the one selected when the write arrived, even if it is routed later.
        Task<Reply> reply;
        var database = connection.Database;
        var user = connection.UserName;
        var order = connection.Order;
        lock (order.Lock)
        {
            var sequence = ++order.WritesAccepted;
            var gate = order.WriteGate;
            if ((gate is null || gate.IsCompleted) && view.CanRouteWrites)
            {
                reply = Route(command, database, user, connection, sequence);
            }
            else
            {
                // A read sent earlier has not read yet, an earlier write is being routed again, or no leader is known
                // (an election): route once that is settled, and hold this connection's later writes back until this
                // one is routed, so they keep their order.
                var routed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                order.WriteGate = routed.Task;
                reply = WriteWhenSettledAsync(gate ?? Task.CompletedTask, routed, command, database, user, connection, sequence);
            }

            // A blocking acquire (LOCK.ACQUIRE ... WAIT) blocks its connection, as BLPOP does on Redis: the connection's
            // later writes and reads wait until it is granted or gives up, so nothing it sends after runs unlocked.
            if (Locks.LockWaits.BlockingAcquire(command) is { } acquire)
            {
                reply = lockWaits.FollowAsync(reply, acquire, database, connection);
                var earlier = order.WriteGate;
                order.WriteGate = earlier is null || earlier.IsCompleted ? reply : Task.WhenAll(earlier, reply);
            }

            order.LastWrite = reply;
        }

        return reply;
    }

    /// <summary>Runs a read of <paramref name="connection"/> after its earlier writes, behind a read barrier.</summary>
    public ValueTask<Reply> ReadAsync(ReadCommand command, RespConnection connection)
    {
        if (stateMachine.Stopped is { } stop)
            return new(NodeReplies.ApplierStopped(stop));
        if (membership.Refusal is { } notMember)
            return new(notMember);
        var order = connection.Order;
        var priorWrite = order.LastWrite;
        var read = priorWrite is null || priorWrite.IsCompleted
            ? ReadAfterBarrierAsync(command, connection.Database, connection)
            : ReadAfterWriteAsync(command, connection.Database, priorWrite, connection);
        if (read.IsCompleted)
            return read;

        // Later writes of this connection wait until this read, and every earlier one still pending, has read.
        var pending = read.AsTask();
        lock (order.Lock)
        {
            var gate = order.WriteGate;
            order.WriteGate = gate is null || gate.IsCompleted ? pending : Task.WhenAll(gate, pending);
        }

        return new(pending);
    }

    private async Task<Reply> WriteWhenSettledAsync(
        Task gate, TaskCompletionSource routed, WriteCommand command, int database, string user, RespConnection connection, long sequence)
    {
        Task<Reply> reply;
        try
        {
            await gate.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

            // Elections take a few hundred milliseconds: a short wait serves a client better than CLUSTERDOWN.
            if (!view.CanRouteWrites)
                await view.WaitForKnownLeaderAsync(options.Value.LeadershipWait, connection.Aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            reply = Route(command, database, user, connection, sequence);
        }
        finally
        {
            routed.TrySetResult();
        }

        return await reply.ConfigureAwait(false);
    }

    private Task<Reply> Route(WriteCommand command, int database, string user, RespConnection connection, long sequence)
    {
        var outcome = RouteOnce(command, database, user, connection);
        if (outcome.IsCompletedSuccessfully && (outcome.Result.Kind != WriteOutcomeKind.NotApplied || !forwardWrites))
            return Task.FromResult(ToReply(outcome.Result));
        return forwardWrites ? RetryRefusedAsync(outcome, command, database, user, connection, sequence) : ToReplyAsync(outcome);
    }

    // The leader (or an elected leader whose leadership is not live yet: the proposer waits for it) proposes; a
    // follower forwards to the leader (or, in redirect mode, refuses with MOVED); with no leader known, not applied.
    private Task<WriteOutcome> RouteOnce(WriteCommand command, int database, string user, RespConnection connection)
        => view.IsLeader || view.LeaderIsLocal ? proposer.ProposeAsync(command, database, user)
            : forwardWrites ? forwarder.ForwardAsync(command, database, user, connection.Id)
            : Task.FromResult(WriteOutcome.NotApplied);

    // Not applied means the node we sent to was not the leader and took nothing, so routing again is safe — as long
    // as no later write of this connection was sent meanwhile, or the retry would overtake it. Later writes wait while
    // this one is routed again. A plain Redis client behind a follower thus rides through a failover.
    private async Task<Reply> RetryRefusedAsync(Task<WriteOutcome> first, WriteCommand command, int database, string user, RespConnection connection, long sequence)
    {
        var outcome = await first.ConfigureAwait(false);
        var deadline = time.GetUtcNow() + options.Value.ForwardRetryWait;
        var order = connection.Order;
        while (outcome.Kind == WriteOutcomeKind.NotApplied)
        {
            var retried = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (order.Lock)
            {
                if (order.WritesAccepted != sequence)
                    return NodeReplies.NoLeader;
                var gate = order.WriteGate;
                order.WriteGate = gate is null || gate.IsCompleted ? retried.Task : Task.WhenAll(gate, retried.Task);
            }

            try
            {
                var remaining = deadline - time.GetUtcNow();
                if (remaining <= TimeSpan.Zero || connection.Aborted.IsCancellationRequested)
                    return NodeReplies.NoLeader;

                // The refusing node's view may lag the election by a moment: give the cluster a beat, then wait for
                // a leader if none is known.
                await Task.Delay(RetryPause, connection.Aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await view.WaitForKnownLeaderAsync(remaining, connection.Aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                outcome = await RouteOnce(command, database, user, connection).ConfigureAwait(false);
            }
            finally
            {
                retried.TrySetResult();
            }
        }

        return ToReply(outcome);
    }

    private async Task<Reply> ToReplyAsync(Task<WriteOutcome> outcome) => ToReply(await outcome.ConfigureAwait(false));

    // The client's reply, made from the outcome at the last moment: MOVED names the leader known now.
    private Reply ToReply(WriteOutcome outcome) => outcome.Kind switch
    {
        WriteOutcomeKind.Answered => outcome.Reply!,
        WriteOutcomeKind.NotApplied => view.NotLeaderReply(),
        _ => NodeReplies.Uncertain,
    };

    private async ValueTask<Reply> ReadAfterWriteAsync(ReadCommand command, int database, Task priorWrite, RespConnection connection)
    {
        await priorWrite.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return await ReadAfterBarrierAsync(command, database, connection).ConfigureAwait(false);
    }

    private async ValueTask<Reply> ReadAfterBarrierAsync(ReadCommand command, int database, RespConnection connection)
    {
        try
        {
            await barrier.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuorumUnreachableException or DotNext.Net.Cluster.MemberUnavailableException or OperationCanceledException or TimeoutException)
        {
            LogReadBarrierFailed(logger, e.GetType().Name);
            return NodeReplies.NoLeader;
        }

        // Reads sharing a barrier complete together: once their connection is closing (say, at its output buffer
        // limit), the rest would only make replies nobody reads — a GETRANGE each of a large value.
        if (connection.IsClosing)
            return NodeReplies.ConnectionClosing;

        // The applier may have stopped while the barrier waited: its state is then not the one the barrier promised.
        return stateMachine.Stopped is { } stop
            ? NodeReplies.ApplierStopped(stop)
            : stateMachine.Read(command, database, time.GetUtcNow().ToUnixTimeMilliseconds(), connection.UserName);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Read barrier failed ({Reason}); answering CLUSTERDOWN")]
    private static partial void LogReadBarrierFailed(ILogger logger, string reason);
}
