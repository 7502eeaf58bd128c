using Microsoft.Extensions.Options;

namespace RaftKv.Node.Raft;

/// <summary>
/// Expired keys are reclaimed inside apply, a bounded number per log entry; on a cluster that receives no writes no
/// entry is applied, and dead keys would stay in memory. So the leader checks every
/// <see cref="NodeOptions.IdleSweepInterval"/> whether keys are due and, only then, proposes empty entries until they
/// are gone. Followers never propose: they reclaim when they apply the leader's entries.
/// </summary>
internal sealed partial class IdleExpirySweep(
    ClusterView view,
    Proposer proposer,
    RaftStateMachine stateMachine,
    TimeProvider time,
    IOptions<NodeOptions> options,
    ILogger<IdleExpirySweep> logger) : BackgroundService
{
    // Empty entries per tick at most, each reclaiming a bounded number of keys: a large backlog drains over a few
    // ticks rather than monopolising the log.
    private const int MaxEntriesPerTick = 64;

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.IdleSweepInterval;
        if (interval <= TimeSpan.Zero)
            return;

        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    for (var entries = 0; entries < MaxEntriesPerTick && view.IsLeader && stateMachine.Stopped is null && KeysAreDue(); entries++)
                        await proposer.ProposeSweepAsync().WaitAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A failed tick (a leader change mid-proposal, say) must not end the sweep: try again next tick.
                    LogSweepFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    // The proposer stamps at least max(clock, last applied stamp): anything due at that time is swept by the entry.
    private bool KeysAreDue()
    {
        var clock = time.GetUtcNow().ToUnixTimeMilliseconds();
        return stateMachine.Inspect(store => store.HasExpiredKeysAt(Math.Max(clock, store.ClusterTime)));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "An idle expiry sweep tick failed; retrying on the next tick")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
