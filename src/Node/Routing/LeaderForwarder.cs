using Microsoft.Extensions.Options;
using RaftKv.Node.Peers;
using RaftKv.Node.Raft;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Routing;

/// <summary>
/// A follower's pool of <see cref="PeerLink"/>s to the current leader's peer channel. A client connection always uses
/// the same link (by its id), so its forwarded writes reach the leader in the order it sent them; different clients
/// spread over the links. One more link carries read-index requests only, so a slow one (which breaks its link) never
/// turns a client's forwarded write into an unknown outcome.
/// </summary>
/// <remarks>
/// When the leader changes, links to the old one are closed: writes in flight on them are unknown (they may still
/// commit), later writes go to the new leader.
/// </remarks>
public sealed partial class LeaderForwarder : IAsyncDisposable
{
    private readonly ClusterView view;
    private readonly PeerConnectionSecurity security;
    private readonly ILogger<LeaderForwarder> logger;
    private readonly PeerLink?[] links;
    private readonly TimeSpan timeout;
    private readonly long maxFrameBytes;
    private readonly Lock gate = new();
    private long forwarded;

    /// <summary>Creates the pool; links open on first use.</summary>
    public LeaderForwarder(ClusterView view, PeerConnectionSecurity security, IOptions<NodeOptions> options, ILogger<LeaderForwarder> logger)
    {
        this.view = view;
        this.security = security;
        this.logger = logger;
        links = new PeerLink?[Math.Max(1, options.Value.ForwardConnections) + 1];
        timeout = options.Value.ForwardTimeout;
        maxFrameBytes = options.Value.Peer.MaxFrameBytes;
        view.Raft.LeaderChanged += (_, _) => CloseLinksNotTo(view.LeaderPeerAddress);
    }

    /// <summary>Writes forwarded to the leader since start.</summary>
    public long Forwarded => Interlocked.Read(ref forwarded);

    /// <summary>
    /// Forwards a write to the leader for the client connection <paramref name="connectionId"/>. The request is queued
    /// on the link before this returns, so calls made in order by one client reach the leader in that order.
    /// </summary>
    public Task<WriteOutcome> ForwardAsync(WriteCommand command, int database, string user, long connectionId)
    {
        if (view.LeaderPeerAddress is not { } leader || view.LeaderIsLocal)
            return Task.FromResult(WriteOutcome.NotApplied);

        Interlocked.Increment(ref forwarded);
        var call = LinkTo(leader, (int)(connectionId % (links.Length - 1))).CallAsync(PeerMessages.ProposeFrame(command, database, user));
        return DecodeAsync(call);

        static async Task<WriteOutcome> DecodeAsync(Task<PeerCallResult> call) => PeerMessages.DecodeWrite(await call.ConfigureAwait(false));
    }

    /// <summary>
    /// Asks the leader for a read index: an index such that every write acknowledged before this call is at or below
    /// it; null when no leader is known, it did not answer, or it no longer leads. The leader answers after
    /// confirming its leadership with a majority (see <see cref="ReadBarrier"/>).
    /// </summary>
    public async Task<long?> ReadIndexAsync()
    {
        if (view.LeaderPeerAddress is not { } leader || view.LeaderIsLocal)
            return null;
        return PeerMessages.DecodeReadIndex(await LinkTo(leader, links.Length - 1).CallAsync(PeerMessages.ReadIndexRequest).ConfigureAwait(false));
    }

    private PeerLink LinkTo(string leader, int slot)
    {
        lock (gate)
        {
            if (links[slot] is { IsBroken: false } current && current.Address == leader)
                return current;

            if (links[slot] is { } old)
                _ = old.DisposeAsync();
            LogConnecting(logger, leader, slot);
            return links[slot] = new PeerLink(leader, security, timeout, maxFrameBytes, logger);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Opening peer link {Slot} to the leader at {Leader}")]
    private static partial void LogConnecting(ILogger logger, string leader, int slot);
}
