using RaftKv.Client.Topology;
using RaftKv.Client.Transport;

namespace RaftKv.Client;

// Work that runs beside the requests: session keep-alive, leader tracking, leader-change notifications.
public sealed partial class RaftKvConnection
{
    private void StartBackgroundWork()
        => background = Task.WhenAll(
            RunUntilShutdownAsync(KeepSessionAliveAsync),
            RunUntilShutdownAsync(TrackLeaderAsync),
            Task.Run(DispatchLeaderChangesAsync));

    private async Task RunUntilShutdownAsync(Func<Task> loop)
    {
        try
        {
            await Task.Run(loop).ConfigureAwait(false);
        }
        catch (Exception e) when (shutdown.IsCancellationRequested && e is OperationCanceledException or ObjectDisposedException)
        {
            // Disposal ends the loops.
        }
    }

    /// <summary>
    /// Asks the connected node now and then whether it still leads. A node that lost leadership may still answer
    /// (forwarding writes, or refusing them with -MOVED); moving promptly keeps requests off the detour.
    /// </summary>
    private async Task TrackLeaderAsync()
    {
        using var timer = new PeriodicTimer(options.TopologyRefreshInterval, time);
        while (await timer.WaitForNextTickAsync(shutdown.Token).ConfigureAwait(false))
        {
            if (Volatile.Read(ref channel) is not { IsOpen: true } current)
                continue;

            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(shutdown.Token);
                limit.CancelAfter(options.ReplyTimeout);
                var reply = await current.SendAsync(new PendingReply(infoRaft), limit.Token).ConfigureAwait(false);
                if (reply.IsError)
                    continue;

                var info = RaftInfo.Parse(reply.AsString()!);
                Announce(topology.Learn(info, current.Endpoint));
                if (info.IsLeader)
                    continue;

                Log.LeaderMoved(logger, current.Endpoint, info.Leader ?? "none");
                if (info.Leader is { } leader)
                    topology.Hint(leader);
                current.Retire();
                using var deadline = StartDeadline(CancellationToken.None);
                await GetChannelAsync(deadline).ConfigureAwait(false);
            }
            catch (Exception e) when (!shutdown.IsCancellationRequested && e is IOException or OperationCanceledException or FormatException or RaftKvAuthenticationException)
            {
                Log.TopologyRefreshFailed(logger, current.Endpoint, e.Message);
            }
        }
    }

    private async Task DispatchLeaderChangesAsync()
    {
        await foreach (var change in leaderChanges.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                LeaderChanged?.Invoke(this, change);
            }
            catch (Exception e)
            {
                Log.LeaderChangedHandlerFailed(logger, e);
            }
        }
    }
}
