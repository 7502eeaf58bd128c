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
/// Per connection, a read waits for the writes the same connection sent before it, so a pipeline of
/// <c>SET k v; GET k</c> reads its own write, as it would on Redis.
/// </remarks>
public sealed partial class CommandDispatcher(
    ClusterView view,
    Proposer proposer,
    ReadBarrier barrier,
    RaftStateMachine stateMachine,
    NodeCommands nodeCommands,
    TimeProvider time,
    IOptions<NodeOptions> options,
    ILogger<CommandDispatcher> logger) : IRespRequestHandler
{
    /// <inheritdoc/>
    public ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection)
    {
        var argv = request.Arguments;
        var parsed = CommandParser.Parse(argv);
        return parsed.Outcome switch
        {
            ParseOutcome.Write => new(WriteAsync(parsed.Write!, connection)),
            ParseOutcome.Read => ReadAsync(parsed.Read!, connection),
            ParseOutcome.Error => new(parsed.Error!),
            _ => new(nodeCommands.Execute(argv, connection)),
        };
    }

    private Task<Reply> WriteAsync(WriteCommand command, RespConnection connection)
    {
        // An elected leader whose leadership is not live yet lets the proposer wait; a follower redirects at once;
        // during an election the write waits briefly for a leader before answering CLUSTERDOWN.
        if (view.IsLeader || view.LeaderIsLocal)
            return Propose(command, connection);
        if (view.LeaderRespAddress is not null)
            return Task.FromResult(view.NotLeaderReply());
        return WriteAfterElectionAsync(command, connection);
    }

    private async Task<Reply> WriteAfterElectionAsync(WriteCommand command, RespConnection connection)
    {
        await view.WaitForKnownLeaderAsync(options.Value.LeadershipWait, connection.Aborted).ConfigureAwait(false);
        return view.IsLeader || view.LeaderIsLocal
            ? await Propose(command, connection).ConfigureAwait(false)
            : view.NotLeaderReply();
    }

    private Task<Reply> Propose(WriteCommand command, RespConnection connection)
    {
        var reply = proposer.ProposeAsync(command, connection.Database);
        connection.LastWrite = reply;
        return reply;
    }

    private ValueTask<Reply> ReadAsync(ReadCommand command, RespConnection connection)
    {
        var priorWrite = connection.LastWrite;
        return priorWrite is null || priorWrite.IsCompleted
            ? ReadAfterBarrierAsync(command, connection.Database)
            : ReadAfterWriteAsync(command, connection.Database, priorWrite);
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
