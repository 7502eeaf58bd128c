namespace RaftKv.Client;

/// <summary>The connection found a new leader (a different node, or the same node in a new term).</summary>
public sealed class LeaderChangedEventArgs(string? previousLeader, string leader, long term) : EventArgs
{
    /// <summary>The leader's RESP address before the change (<c>host:port</c> as the cluster advertises it); null at first discovery.</summary>
    public string? PreviousLeader { get; } = previousLeader;

    /// <summary>The new leader's RESP address as the cluster advertises it (<c>host:port</c>).</summary>
    public string Leader { get; } = leader;

    /// <summary>The Raft term in which <see cref="Leader"/> leads.</summary>
    public long Term { get; } = term;
}
