namespace RaftKv.Client.Tests.Cluster;

/// <summary>Tests that start an in-process three-node cluster run one at a time: two cores cannot host several.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClientClusterCollection
{
    public const string Name = "Client against a cluster";
}
