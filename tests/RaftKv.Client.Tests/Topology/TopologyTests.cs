using RaftKv.Client.Commands;
using RaftKv.Client.Topology;

namespace RaftKv.Client.Tests.Topology;

public sealed class TopologyTests
{
    [Fact]
    public void INFO_raft_gives_role_term_leader_and_members()
    {
        var info = RaftInfo.Parse("# Raft\r\nrole:follower\r\nterm:7\r\nleader:127.0.0.1:6381\r\nleader_raft:http://127.0.0.1:7381/\r\n"
            + "members:127.0.0.1:6381,127.0.0.1:6382,127.0.0.1:6383\r\ncommit_index:12\r\n");

        Assert.False(info.IsLeader);
        Assert.Equal(7, info.Term);
        Assert.Equal("127.0.0.1:6381", info.Leader);
        Assert.Equal(["127.0.0.1:6381", "127.0.0.1:6382", "127.0.0.1:6383"], info.Members);
    }

    [Fact]
    public void A_node_without_a_leader_says_none()
    {
        var info = RaftInfo.Parse("# Raft\r\nrole:candidate\r\nterm:3\r\nleader:none\r\nmembers:\r\n");

        Assert.False(info.IsLeader);
        Assert.Null(info.Leader);
        Assert.Empty(info.Members);
    }

    [Fact]
    public void Text_without_a_role_is_not_a_RaftKv_node()
        => Assert.Throws<FormatException>(() => RaftInfo.Parse("# Server\r\nredis_version:7.0.15\r\n"));

    [Theory]
    [InlineData("127.0.0.1:6381", "127.0.0.1", 6381)]
    [InlineData("kv1.internal:6381", "kv1.internal", 6381)]
    [InlineData("[::1]:6381", "::1", 6381)]
    public void Endpoints_parse_with_hosts_names_and_IPv6(string text, string host, int port)
    {
        var address = EndpointAddress.Parse(text);

        Assert.Equal(new EndpointAddress(host, port), address);
        Assert.Equal(text, address.ToString());
    }

    [Theory]
    [InlineData("6381")]
    [InlineData("host:")]
    [InlineData(":6381")]
    [InlineData("host:70000")]
    public void Endpoints_without_a_host_and_a_valid_port_are_refused(string text)
        => Assert.Throws<ArgumentException>(() => EndpointAddress.Parse(text));

    [Fact]
    public void The_leader_is_tried_first_then_members_then_seeds()
    {
        var topology = new ClusterTopology(["10.0.0.9:6381"], discoverMembers: true);
        topology.Learn(RaftInfo.Parse("role:follower\nterm:2\nleader:10.0.0.2:6381\nmembers:10.0.0.1:6381,10.0.0.2:6381"), "10.0.0.1:6381");
        topology.Hint("10.0.0.2:6381");

        Assert.Equal(["10.0.0.2:6381", "10.0.0.1:6381", "10.0.0.9:6381"], topology.Candidates());
    }

    [Fact]
    public void Without_member_discovery_only_the_configured_endpoints_are_used()
    {
        var topology = new ClusterTopology(["127.0.0.1:9001"], discoverMembers: false);
        topology.Learn(RaftInfo.Parse("role:leader\nterm:2\nleader:10.0.0.2:6381\nmembers:10.0.0.1:6381,10.0.0.2:6381"), "127.0.0.1:9001");
        topology.Hint("10.0.0.1:6381");

        Assert.Equal(["127.0.0.1:9001"], topology.Candidates());
        Assert.Equal("10.0.0.2:6381", topology.Leader);
    }

    [Fact]
    public void A_leader_change_is_announced_once_per_leader_and_term()
    {
        var topology = new ClusterTopology(["a:1"], discoverMembers: true);

        var first = topology.Learn(RaftInfo.Parse("role:leader\nterm:1\nleader:a:1"), "a:1");
        var again = topology.Learn(RaftInfo.Parse("role:leader\nterm:1\nleader:a:1"), "a:1");
        var reelected = topology.Learn(RaftInfo.Parse("role:leader\nterm:2\nleader:a:1"), "a:1");

        Assert.Equal((null, "a:1", 1L), (first!.PreviousLeader, first.Leader, first.Term));
        Assert.Null(again);
        Assert.Equal(("a:1", 2L), (reelected!.PreviousLeader, reelected.Term));
    }

    [Theory]
    [InlineData("MOVED 0 127.0.0.1:6382", nameof(ServerErrorKind.Moved))]
    [InlineData("CLUSTERDOWN No Raft leader", nameof(ServerErrorKind.NotReady))]
    [InlineData("UNCERTAIN leadership changed", nameof(ServerErrorKind.Uncertain))]
    [InlineData("NOSESSION Unknown or expired session", nameof(ServerErrorKind.NoSession))]
    [InlineData("ERR SESSION too many unacknowledged writes", nameof(ServerErrorKind.SessionFull))]
    [InlineData("ERR SESSION.EXEC wraps data commands only", nameof(ServerErrorKind.RefusedInSession))]
    [InlineData("ERR value is not an integer or out of range", nameof(ServerErrorKind.Final))]
    [InlineData("WRONGTYPE Operation against a key holding the wrong kind of value", nameof(ServerErrorKind.Final))]
    public void Error_replies_are_told_apart(string error, string kind)
        => Assert.Equal(Enum.Parse<ServerErrorKind>(kind), ServerErrors.Classify(error));

    [Fact]
    public void MOVED_names_the_leader()
        => Assert.Equal("127.0.0.1:6382", ServerErrors.MovedTo("MOVED 0 127.0.0.1:6382"));
}
