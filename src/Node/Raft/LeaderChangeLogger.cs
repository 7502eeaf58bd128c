using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;

namespace RaftKv.Node.Raft;

/// <summary>Logs one line per leader change — the only Raft event an operator needs to see by default.</summary>
public sealed partial class LeaderChangeLogger(ILogger<LeaderChangeLogger> logger) : IClusterMemberLifetime
{
    /// <inheritdoc/>
    public void OnStart(IRaftCluster cluster, IDictionary<string, string> metadata) => cluster.LeaderChanged += OnLeaderChanged;

    /// <inheritdoc/>
    public void OnStop(IRaftCluster cluster) => cluster.LeaderChanged -= OnLeaderChanged;

    private void OnLeaderChanged(ICluster cluster, IClusterMember? leader)
    {
        var term = (cluster as IRaftCluster)?.Term ?? 0;
        if (leader is null)
            LogNoLeader(logger, term);
        else
            LogLeader(logger, leader.EndPoint.ToString() ?? "?", leader.IsRemote ? "remote" : "this node", term);
    }

    [LoggerMessage(EventId = NodeLogEvents.LeaderChanged, EventName = nameof(NodeLogEvents.LeaderChanged), Level = LogLevel.Information, Message = "Leader is {Leader} ({Where}), term {Term}")]
    private static partial void LogLeader(ILogger logger, string leader, string where, long term);

    [LoggerMessage(EventId = NodeLogEvents.LeaderLost, EventName = nameof(NodeLogEvents.LeaderLost), Level = LogLevel.Information, Message = "No leader, term {Term}")]
    private static partial void LogNoLeader(ILogger logger, long term);
}
