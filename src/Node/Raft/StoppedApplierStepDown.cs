using DotNext.Net.Cluster.Consensus.Raft.Extensions;

namespace RaftKv.Node.Raft;

/// <summary>
/// When this node's applier stops (<see cref="RaftStateMachine.ApplierStopped"/>) the node can no longer answer a
/// write or a read, so it must not lead: it resigns if it leads and turns to DotNext's standby mode, where it is never
/// elected. (DotNext 6.12 also fails the vote and append requests it checks against its log once the applier has failed,
/// so the node mostly stops counting toward a majority; nothing here relies on it.) The members whose appliers still
/// run elect a leader among themselves; a restart applies the failed entry again and ends standby.
/// </summary>
internal sealed partial class StoppedApplierStepDown(
    ClusterView view,
    RaftStateMachine stateMachine,
    ILogger<StoppedApplierStepDown> logger) : BackgroundService
{
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var stopped = new TaskCompletionSource<ApplierStop>(TaskCreationOptions.RunContinuationsAsynchronously);
        stateMachine.ApplierStopped += stop => stopped.TrySetResult(stop);
        if (stateMachine.Stopped is { } already)
            stopped.TrySetResult(already);

        try
        {
            var stop = await stopped.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
            if (view.Raft is not IStandbyModeSupport standby)
                return;

            // Standby can only be entered from the follower state: resign while leading, and retry through elections.
            while (!standby.Standby)
            {
                if (view.LeaderIsLocal || view.IsLeader)
                    await view.Raft.ResignAsync(stoppingToken).ConfigureAwait(false);
                if (await standby.EnableStandbyModeAsync(stoppingToken).ConfigureAwait(false))
                    break;
                await Task.Delay(RetryPause, stoppingToken).ConfigureAwait(false);
            }

            LogStandby(logger, stop.Index);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(EventId = NodeLogEvents.ApplierStandby, EventName = nameof(NodeLogEvents.ApplierStandby), Level = LogLevel.Error, Message = "Applier stopped at log entry {Index}: this node stepped down and is in standby (never elected) until restarted")]
    private static partial void LogStandby(ILogger logger, long index);
}
