using Microsoft.Extensions.Options;
using RaftKv.Node.Hosting;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Raft;

/// <summary>
/// A follower's pool of <see cref="LeaderLink"/>s to the current leader. A client connection always uses the same link
/// (by its id), so its forwarded writes reach the leader in the order it sent them; different clients spread over the
/// links.
/// </summary>
/// <remarks>
/// When the leader changes, links to the old one are closed: writes in flight on them get <c>-UNCERTAIN</c> (they may
/// still commit), later writes go to the new leader.
/// </remarks>
public sealed partial class LeaderForwarder : IAsyncDisposable
{
    private readonly ClusterView view;
    private readonly ILogger<LeaderForwarder> logger;
    private readonly LeaderLink?[] links;
    private readonly TimeSpan timeout;
    private readonly Lock gate = new();
    private long forwarded;

    /// <summary>Creates the pool; links open on first use.</summary>
    public LeaderForwarder(ClusterView view, IOptions<NodeOptions> options, ILogger<LeaderForwarder> logger)
    {
        this.view = view;
        this.logger = logger;
        // One more link than configured: the last carries read-index requests only, so a slow one (which breaks its
        // link) never turns a client's forwarded write into an unknown outcome.
        links = new LeaderLink?[Math.Max(1, options.Value.ForwardConnections) + 1];
        timeout = options.Value.ForwardTimeout;
        view.Raft.LeaderChanged += (_, _) => CloseLinksNotTo(view.LeaderRespAddress);
    }

    /// <summary>Writes forwarded to the leader since start.</summary>
    public long Forwarded => Interlocked.Read(ref forwarded);

    /// <summary>
    /// Forwards a write to the leader for the client connection <paramref name="connectionId"/>. The request is queued on
    /// the link before this returns, so calls made in order by one client reach the leader in that order.
    /// </summary>
    public Task<Reply> ForwardAsync(WriteCommand command, int database, long connectionId)
    {
        if (view.LeaderRespAddress is not { } leader || view.LeaderIsLocal)
            return Task.FromResult((view.NotLeaderReply()));

        Interlocked.Increment(ref forwarded);
        return LinkTo(leader, (int)(connectionId % (links.Length - 1))).ForwardAsync(command, database);
    }

    /// <summary>
    /// Asks the leader for a read index: an index such that every write acknowledged before this call is at or below
    /// it. The leader answers after confirming its leadership with a majority (see <see cref="ReadBarrier"/>).
    /// </summary>
    public Task<Reply> ReadIndexAsync()
        => view.LeaderRespAddress is { } leader && !view.LeaderIsLocal
            ? LinkTo(leader, links.Length - 1).ReadIndexAsync()
            : Task.FromResult(view.NotLeaderReply());

    private LeaderLink LinkTo(string leader, int slot)
    {
        lock (gate)
        {
            if (links[slot] is { IsBroken: false } current && current.Address == leader)
                return current;

            if (links[slot] is { } old)
                _ = old.DisposeAsync();
            LogConnecting(logger, leader, slot);
            return links[slot] = new LeaderLink(leader, timeout, logger);
        }
    }

    private void CloseLinksNotTo(string? leader)
    {
        lock (gate)
        {
            for (var i = 0; i < links.Length; i++)
            {
                if (links[i] is { } link && link.Address != leader)
                {
                    _ = link.DisposeAsync();
                    links[i] = null;
                }
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        CloseLinksNotTo(null);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Opening forwarding link {Slot} to the leader at {Leader}")]
    private static partial void LogConnecting(ILogger logger, string leader, int slot);
}
