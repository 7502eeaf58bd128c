using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Extensions;

namespace RaftKv.Node.Raft;

/// <summary>
/// A node in recovery starts in DotNext's standby mode (it follows, never becomes a candidate: a candidate counts its
/// own vote without asking the log); once <see cref="NodeRecovery"/> has left recovery this returns it to normal.
/// </summary>
/// <remarks>
/// A node configured as standby (<c>raft:standby</c>) stays one, and so does one whose applier stopped meanwhile
/// (<see cref="StoppedApplierStepDown"/>).
/// </remarks>
internal sealed partial class RecoveryStandby(
    NodeRecovery recovery,
    IRaftCluster cluster,
    RaftStateMachine stateMachine,
    IConfiguration configuration,
    ILogger<RecoveryStandby> logger) : BackgroundService
{
    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!recovery.IsRecovering || configuration.GetValue($"{Hosting.RaftKvNode.RaftSection}:standby", false))
            return;
        try
        {
            await recovery.Left.WaitAsync(stoppingToken).ConfigureAwait(false);
            if (stateMachine.Stopped is null && cluster is IStandbyModeSupport standby && await standby.RevertToNormalModeAsync(stoppingToken).ConfigureAwait(false))
                LogCandidateAgain(logger);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovery: this node may stand for election again")]
    private static partial void LogCandidateAgain(ILogger logger);
}
