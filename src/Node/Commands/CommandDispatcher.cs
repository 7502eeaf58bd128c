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
    ReadBarrier barrier,
    RaftStateMachine stateMachine,
    NodeCommands nodeCommands,
    TimeProvider time,
    IOptions<NodeOptions> options,
    IOptions<RespLimits> limits,
    ILogger<CommandDispatcher> logger) : IRespRequestHandler
{
    private readonly long maxStringLength = limits.Value.MaxBulkLength;

    /// <inheritdoc/>
    public ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection)
    {
        var argv = request.Arguments;
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
    private WriteCommand WithLimits(WriteCommand command)
        => command is IStringLengthLimited limited && limited.MaxLength != maxStringLength ? limited.WithMaxLength(maxStringLength) : command;

    private Task<Reply> Write(WriteCommand command, RespConnection connection)
    {
        // The database is the one selected when the write arrived, even if it is proposed later.
        Task<Reply> reply;
        var database = connection.Database;
        var gate = connection.WriteGate;
        if ((gate is null || gate.IsCompleted) && view.CanRouteWrites)
        {
            reply = Route(command, database);
        }
        else
        {
            // A read sent earlier has not read yet, or no leader is known (an election): route once that is settled,
            // and hold this connection's later writes back until this one is routed, so they keep their order.
            var routed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.WriteGate = routed.Task;
            reply = WriteWhenSettledAsync(gate ?? Task.CompletedTask, routed, command, database, connection);
        }

        connection.LastWrite = reply;
        return reply;
    }

    private async Task<Reply> WriteWhenSettledAsync(
        Task gate, TaskCompletionSource routed, WriteCommand command, int database, RespConnection connection)
    {
        Task<Reply> reply;
        try
        {
            await gate.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

            // Elections take a few hundred milliseconds: a short wait serves a client better than CLUSTERDOWN.
            if (!view.CanRouteWrites)
                await view.WaitForKnownLeaderAsync(options.Value.LeadershipWait, connection.Aborted).ConfigureAwait(false);
            reply = Route(command, database);
        }
        finally
        {
            routed.TrySetResult();
        }

        return await reply.ConfigureAwait(false);
    }

    // The leader (or an elected leader whose leadership is not live yet: the proposer waits for it) proposes; a
    // follower redirects; with no leader known, CLUSTERDOWN.
    private Task<Reply> Route(WriteCommand command, int database)
        => view.IsLeader || view.LeaderIsLocal
            ? proposer.ProposeAsync(command, database)
            : Task.FromResult(view.NotLeaderReply());

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
        var gate = connection.WriteGate;
        connection.WriteGate = gate is null || gate.IsCompleted ? pending : Task.WhenAll(gate, pending);
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
        catch (Exception e) when (e is QuorumUnreachableException or OperationCanceledException or TimeoutException)
        {
            LogReadBarrierFailed(logger, e.GetType().Name);
            return ClusterView.NoLeader;
        }

        return stateMachine.Read(command, database, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Read barrier failed ({Reason}); answering CLUSTERDOWN")]
    private static partial void LogReadBarrierFailed(ILogger logger, string reason);
}
