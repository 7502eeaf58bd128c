using RaftKv.Testing;

namespace RaftKv.Client.Tests.Cluster;

/// <summary>Client settings for the in-process cluster: its elections take about a second, so operations get room.</summary>
internal static class ClusterClients
{
    public static RaftKvClientOptions Options(params string[] endpoints)
    {
        var options = new RaftKvClientOptions
        {
            OperationTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            ReplyTimeout = TimeSpan.FromSeconds(3),
            MinRetryDelay = TimeSpan.FromMilliseconds(10),
            MaxRetryDelay = TimeSpan.FromMilliseconds(300),
            TopologyRefreshInterval = TimeSpan.FromMilliseconds(500),
        };
        foreach (var endpoint in endpoints)
            options.Endpoints.Add(endpoint);
        return options;
    }

    public static string[] Endpoints(TestCluster cluster)
        => [.. Enumerable.Range(0, cluster.Size).Select(i => Endpoint(cluster, i))];

    public static string Endpoint(TestCluster cluster, int node) => $"127.0.0.1:{cluster.RespPort(node)}";

    public static Task<RaftKvConnection> ConnectAsync(TestCluster cluster)
        => RaftKvConnection.ConnectAsync(Options(Endpoints(cluster)));
}
