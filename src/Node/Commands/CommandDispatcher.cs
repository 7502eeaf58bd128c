using System.Text;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Options;
using RaftKv.Node.Hosting;
using RaftKv.Node.Raft;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// Routes each request: node commands answer at once, writes go through the <see cref="Proposer"/> (on the leader) or
/// get <c>-MOVED</c>, reads wait for a shared <see cref="ReadBarrier"/> and read local state.
/// </summary>
/// <remarks>
/// A connection's commands take effect in the order it sent them, as on Redis: a read waits for the writes the same
/// connection sent before it (a pipelined <c>SET k v; GET k</c> reads its own write), and a write waits until the
/// reads sent before it have read (a pipelined <c>GET k; DEL k</c> never reads the deletion). Pipelines of only
/// reads or only writes never wait for each other.
/// </remarks>
public sealed partial class CommandDispatcher(
    ClusterView view,
    Proposer proposer,
    LeaderForwarder forwarder,
    ReadBarrier barrier,
    RaftStateMachine stateMachine,
    NodeCommands nodeCommands,
    TimeProvider time,
    IOptions<NodeOptions> options,
    IOptions<RespLimits> limits,
    ILogger<CommandDispatcher> logger) : IRespRequestHandler
{
    private readonly long maxStringLength = limits.Value.MaxBulkLength;
    private readonly bool forwardWrites = options.Value.FollowerWrites == FollowerWriteMode.Forward;

    /// <inheritdoc/>
    public ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection)
    {
        var argv = request.Arguments;

        // MULTI/EXEC/DISCARD/WATCH/UNWATCH, and every command while MULTI is open (CommandDispatcher.Transactions.cs).
        if (HandleTransaction(argv, connection) is { } transactional)
            return transactional;

        if (argv.Length > 0 && Ascii.EqualsIgnoreCase(argv[0].Span, ForwardedWrite.Name))
            return new(ForwardedWrite.HandleAsync(argv, view, proposer));
        if (argv.Length > 0 && Ascii.EqualsIgnoreCase(argv[0].Span, ReadIndexRequest.Name))
            return new(ReadIndexRequest.HandleAsync(argv, view, barrier));

        var parsed = CommandParser.Parse(argv);
        return parsed.Outcome switch
        {
            ParseOutcome.Write => new(Write(WithLimits(parsed.Write!), connection)),
            ParseOutcome.Read => ReadAsync(parsed.Read!, connection),
            ParseOutcome.Error => new(parsed.Error!),
            _ => new(nodeCommands.Execute(argv, connection)),
        };
    }

    // A write that can grow a string carries this node's proto-max-bulk-len into the log (see IStringLengthLimited).
    private WriteCommand WithLimits(WriteCommand command) => command switch
    {
        IStringLengthLimited limited when limited.MaxLength != maxStringLength => limited.WithMaxLength(maxStringLength),
        SessionExecCommand session when WithLimits(session.Command) is var inner && inner != session.Command => session.With(inner),
        _ => command,
    };

    private Task<Reply> Write(WriteCommand command, RespConnection connection)
    {
        // The database is the one selected when the write arrived, even if it is proposed later.
        Task<Reply> reply;
        var database = connection.Database;
        lock (connection.OrderLock)
        {
            var sequence = ++connection.WritesAccepted;
            var gate = connection.WriteGate;
            if ((gate is null || gate.IsCompleted) && view.CanRouteWrites)
            {
                reply = Route(command, database, connection, sequence);
            }
            else
            {
                // A read sent earlier has not read yet, an earlier write is being routed again, or no leader is known
                // (an election): route once that is settled, and hold this connection's later writes back until this
                // one is routed, so they keep their order.
                var routed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                connection.WriteGate = routed.Task;
                reply = WriteWhenSettledAsync(gate ?? Task.CompletedTask, routed, command, database, connection, sequence);
            }

            connection.LastWrite = reply;
        }

        return reply;
    }

    private async Task<Reply> WriteWhenSettledAsync(
        Task gate, TaskCompletionSource routed, WriteCommand command, int database, RespConnection connection, long sequence)
    {
        Task<Reply> reply;
        try
        {
            await gate.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

            // Elections take a few hundred milliseconds: a short wait serves a client better than CLUSTERDOWN.
            if (!view.CanRouteWrites)
                await view.WaitForKnownLeaderAsync(options.Value.LeadershipWait, connection.Aborted).ConfigureAwait(false);
            reply = Route(command, database, connection, sequence);
        }
        finally
        {
            routed.TrySetResult();
        }

        return await reply.ConfigureAwait(false);
    }

    // The leader (or an elected leader whose leadership is not live yet: the proposer waits for it) proposes; a
    // follower forwards to the leader (or redirects, in redirect mode); with no leader known, CLUSTERDOWN.
    private Task<Reply> Route(WriteCommand command, int database, RespConnection connection, long sequence)
    {
        if (!forwardWrites)
            return RouteOnce(command, database, connection);

        var reply = RouteOnce(command, database, connection);
        return reply.IsCompleted && !ClusterView.IsRefusal(reply.Result) ? reply : RetryRefusedAsync(reply, command, database, connection, sequence);
    }

    private Task<Reply> RouteOnce(WriteCommand command, int database, RespConnection connection)
        => view.IsLeader || view.LeaderIsLocal ? proposer.ProposeAsync(command, database)
            : forwardWrites ? forwarder.ForwardAsync(command, database, connection.Id)
            : Task.FromResult(view.NotLeaderReply());

    // A refusal means the node we sent to was not the leader and took nothing, so routing again is safe — as long as
    // no later write of this connection was sent meanwhile, or the retry would overtake it. Later writes wait while
    // this one is routed again. A plain Redis client behind a follower thus rides through a failover.
    private async Task<Reply> RetryRefusedAsync(Task<Reply> first, WriteCommand command, int database, RespConnection connection, long sequence)
    {
        var reply = await first.ConfigureAwait(false);
        var deadline = time.GetUtcNow() + options.Value.ForwardRetryWait;
        while (ClusterView.IsRefusal(reply))
        {
            var retried = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (connection.OrderLock)
            {
                if (connection.WritesAccepted != sequence)
                    return ClusterView.NoLeader;
                var gate = connection.WriteGate;
                connection.WriteGate = gate is null || gate.IsCompleted ? retried.Task : Task.WhenAll(gate, retried.Task);
            }

            try
            {
                var remaining = deadline - time.GetUtcNow();
                if (remaining <= TimeSpan.Zero || connection.Aborted.IsCancellationRequested)
                    return ClusterView.NoLeader;

                // The refusing node's view may lag the election by a moment: give the cluster a beat, then wait for
                // a leader if none is known.
                await Task.Delay(RetryPause, connection.Aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await view.WaitForKnownLeaderAsync(remaining, connection.Aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                reply = await RouteOnce(command, database, connection).ConfigureAwait(false);
            }
            finally
            {
                retried.TrySetResult();
            }
        }

        return reply;
    }

    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);

    private ValueTask<Reply> ReadAsync(ReadCommand command, RespConnection connection)
    {
        var priorWrite = connection.LastWrite;
        var read = priorWrite is null || priorWrite.IsCompleted
            ? ReadAfterBarrierAsync(command, connection.Database)
            : ReadAfterWriteAsync(command, connection.Database, priorWrite);
        if (read.IsCompleted)
            return read;

        // Later writes of this connection wait until this read, and every earlier one still pending, has read.
        var pending = read.AsTask();
        lock (connection.OrderLock)
        {
            var gate = connection.WriteGate;
            connection.WriteGate = gate is null || gate.IsCompleted ? pending : Task.WhenAll(gate, pending);
        }

        return new(pending);
    }

    private async ValueTask<Reply> ReadAfterWriteAsync(ReadCommand command, int database, Task priorWrite)
    {
        await priorWrite.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return await ReadAfterBarrierAsync(command, database).ConfigureAwait(false);
    }

    private async ValueTask<Reply> ReadAfterBarrierAsync(ReadCommand command, int database)
    {
        try
        {
            await barrier.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuorumUnreachableException or DotNext.Net.Cluster.MemberUnavailableException or OperationCanceledException or TimeoutException)
        {
            LogReadBarrierFailed(logger, e.GetType().Name);
            return ClusterView.NoLeader;
        }

        return stateMachine.Read(command, database, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Read barrier failed ({Reason}); answering CLUSTERDOWN")]
    private static partial void LogReadBarrierFailed(ILogger logger, string reason);
}
