using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// <c>CLUSTER</c> as a single shard: all 16384 slots on the Raft leader, the followers as its replicas. Lets tools
/// that speak Redis Cluster see who leads; the node still reports <c>redis_mode:standalone</c> (see README).
/// </summary>
/// <remarks>
/// Node ids are the SHA1 of each member's RESP address, so they are stable across restarts and the same on every
/// node. The config epoch is the Raft term.
/// </remarks>
internal sealed class ClusterCommands(ClusterView view, long appliedIndex)
{
    private const int SlotCount = 16384;

    public Reply Execute(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var sub = Encoding.ASCII.GetString(argv[1].Span).ToUpperInvariant();
        return (sub, argv.Length) switch
        {
            ("SLOTS", 2) => Slots(),
            ("SHARDS", 2) => Shards(),
            ("NODES", 2) => Reply.FromBulk(Nodes()),
            ("INFO", 2) => Reply.FromVerbatim(Info()),
            ("MYID", 2) => Reply.FromBulk(NodeId(Self?.Resp ?? "")),
            ("KEYSLOT", 3) => Reply.FromInteger(KeySlot(argv[2].Span)),
            ("COUNTKEYSINSLOT" or "GETKEYSINSLOT" or "COUNT-FAILURE-REPORTS", _) => NodeReplies.NoSlotIndex,
            ("HELP", 2) => Reply.FromArray([.. HelpLines.Select(Reply.Status)]),
            ("SLOTS" or "SHARDS" or "NODES" or "INFO" or "MYID" or "KEYSLOT" or "HELP", _) => CommandParser.WrongArity("cluster|" + sub.ToLowerInvariant()),
            _ => NodeReplies.UnknownSubcommand(Encoding.UTF8.GetString(argv[1].Span), "CLUSTER"),
        };
    }

    private static readonly string[] HelpLines =
    [
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "SLOTS", "    Return information about slots range mappings (one shard: every slot on the Raft leader).",
        "SHARDS", "    Return information about the shard (the leader and its replicas).",
        "NODES", "    Return cluster configuration seen by node.",
        "INFO", "    Return information about the cluster.",
        "MYID", "    Return the node id.",
        "KEYSLOT <key>", "    Return the hash slot for <key>.",
        "HELP", "    Print this help.",
    ];

    private ClusterMemberOptions? Self => view.Members.FirstOrDefault(m => view.IsLocal(m));

    private ClusterMemberOptions? Leader => view.LeaderRespAddress is { } leader ? view.Members.FirstOrDefault(m => m.Resp == leader) : null;

    private Reply Slots()
    {
        if (Leader is not { } leader)
            return Reply.EmptyArray;
        var nodes = new List<Reply> { Reply.FromInteger(0), Reply.FromInteger(SlotCount - 1), Endpoint(leader) };
        nodes.AddRange(view.Members.Where(m => m != leader).Select(Endpoint));
        return Reply.FromArray([Reply.FromArray([.. nodes])]);

        static Reply Endpoint(ClusterMemberOptions member)
        {
            var (host, port) = ClusterView.SplitHostPort(member.Resp);
            return Reply.FromArray([Reply.FromBulk(host), Reply.FromInteger(port), Reply.FromBulk(NodeId(member.Resp))]);
        }
    }

    private Reply Shards()
    {
        var leader = Leader;
        var nodes = view.Members.Select(member =>
        {
            var (host, port) = ClusterView.SplitHostPort(member.Resp);
            return Reply.FromMap(
            [
                Reply.FromBulk("id"), Reply.FromBulk(NodeId(member.Resp)),
                Reply.FromBulk("port"), Reply.FromInteger(port),
                Reply.FromBulk("ip"), Reply.FromBulk(host),
                Reply.FromBulk("endpoint"), Reply.FromBulk(host),
                Reply.FromBulk("role"), Reply.FromBulk(member == leader ? "master" : "replica"),
                Reply.FromBulk("replication-offset"), Reply.FromInteger(view.IsLocal(member) ? appliedIndex : 0),
                Reply.FromBulk("health"), Reply.FromBulk(leader is null ? "fail" : "online"),
            ]);
        });
        var slots = leader is null ? Reply.EmptyArray : Reply.FromArray([Reply.FromInteger(0), Reply.FromInteger(SlotCount - 1)]);
        return Reply.FromArray([Reply.FromMap([Reply.FromBulk("slots"), slots, Reply.FromBulk("nodes"), Reply.FromArray([.. nodes])])]);
    }

    private string Nodes()
    {
        var leader = Leader;
        var text = new StringBuilder();
        foreach (var member in view.Members)
        {
            var (host, port) = ClusterView.SplitHostPort(member.Resp);
            var flags = (view.IsLocal(member) ? "myself," : "") + (member == leader ? "master" : "slave");
            var master = member == leader || leader is null ? "-" : NodeId(leader.Resp);
            text.Append(CultureInfo.InvariantCulture, $"{NodeId(member.Resp)} {host}:{port}@{port + 10000} {flags} {master} 0 0 {view.Term} connected");
            if (member == leader)
                text.Append(CultureInfo.InvariantCulture, $" 0-{SlotCount - 1}");
            text.Append('\n');
        }

        return text.ToString();
    }

    private string Info()
    {
        var ok = Leader is not null;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"cluster_state:{(ok ? "ok" : "fail")}\r\ncluster_slots_assigned:{(ok ? SlotCount : 0)}\r\ncluster_slots_ok:{(ok ? SlotCount : 0)}\r\n"
            + $"cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{view.Members.Count}\r\ncluster_size:{(ok ? 1 : 0)}\r\n"
            + $"cluster_current_epoch:{view.Term}\r\ncluster_my_epoch:{view.Term}\r\n");
    }

    /// <summary>A stable 40-hex-digit node id for a member.</summary>
    public static string NodeId(string respAddress) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(respAddress)));

    /// <summary>Redis Cluster's hash slot: CRC16 (XMODEM) of the key, or of its <c>{hash tag}</c>, modulo 16384.</summary>
    public static int KeySlot(ReadOnlySpan<byte> key)
    {
        var open = key.IndexOf((byte)'{');
        if (open >= 0)
        {
            var close = key[(open + 1)..].IndexOf((byte)'}');
            if (close > 0)
                key = key.Slice(open + 1, close);
        }

        ushort crc = 0;
        foreach (var b in key)
        {
            crc ^= (ushort)(b << 8);
            for (var i = 0; i < 8; i++)
                crc = (ushort)((crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1);
        }

        return crc & (SlotCount - 1);
    }
}
