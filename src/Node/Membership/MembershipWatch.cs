using Microsoft.Extensions.Options;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;

namespace RaftKv.Node.Membership;

/// <summary>
/// Follows the membership this node has applied: logs each change once (every node, one event), and makes a node that
/// is not a member refuse clients — one waiting to be added, or one removed, whose state no longer advances (DotNext
/// keeps it frozen) — with a reply saying which.
/// </summary>
public sealed partial class MembershipWatch(ClusterView view, IOptions<NodeOptions> options, ILogger<MembershipWatch> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    // A node whose data directory held a member list has been a member: if it is not one now, it was removed.
    // (A joining node's list is written only by the configuration entry that adds it.)
    private bool wasMember = MemberConfigurationStorage.Exists(Path.GetFullPath(options.Value.DataPath));

    private volatile Reply? refusal;

    /// <summary>What a client gets from this node while it is not a member; null while it is.</summary>
    public Reply? Refusal => refusal;

    private string? last;
    private volatile bool removed;

    /// <summary>
    /// This node learned it was removed without applying the change itself (the leader told it, or it handed its own
    /// removal to the next leader): it refuses clients from now on, whatever its own copy of the configuration says.
    /// </summary>
    public void MarkRemoved()
    {
        removed = true;
        Check();
    }

    /// <inheritdoc/>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the first client: ExecuteAsync runs on another thread, its first look could come after one.
        Check();
        return base.StartAsync(cancellationToken);
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await NextTickAsync(timer, stoppingToken).ConfigureAwait(false))
            Check();
    }

    private void Check()
    {
        var members = view.Members;
        var described = string.Join(", ", members.Select(static m => $"{m.Raft} (RESP {m.Resp})"));
        var isMember = view.IsMember && !removed;
        if (described != last)
        {
            if (last is not null || !isMember)
                LogMembers(logger, members.Count, described, isMember ? "a member" : "not a member");
            last = described;
        }

        wasMember |= isMember || removed;
        if (!isMember && wasMember && refusal is null)
            LogRemovedHere(logger);
        refusal = isMember ? null : MemberReplies.NotAMemberHere(wasMember);
    }

    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken token)
    {
        try
        {
            return await timer.WaitForNextTickAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = NodeLogEvents.MembersChanged, Level = LogLevel.Warning, Message = "Membership: {Count} members: {Members}; this node is {Standing}")]
    private static partial void LogMembers(ILogger logger, int count, string members, string standing);

    [LoggerMessage(EventId = NodeLogEvents.RemovedHere, Level = LogLevel.Error, Message = "Membership: this node was removed from the cluster; it serves no clients and no longer follows the log. Stop it (its data directory can be deleted)")]
    private static partial void LogRemovedHere(ILogger logger);
}
