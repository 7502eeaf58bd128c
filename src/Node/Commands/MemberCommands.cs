using System.Text;
using RaftKv.Node.Membership;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;

namespace RaftKv.Node.Commands;

/// <summary>
/// <c>MEMBER.ADD raft resp peer</c>, <c>MEMBER.REMOVE raft</c> → <c>+OK</c> once the leader applied the configuration
/// entry; <c>MEMBER.LIST</c> → one array <c>[raft, resp, peer, role]</c> per member as this node applied them (role
/// <c>leader</c>, <c>voter</c>, or <c>joining</c> for a member the leader is catching up). Any node takes them and
/// sends changes to the leader (see <see cref="ClusterMembership"/>; docs/resp-extensions.md).
/// </summary>
public static class MemberCommands
{
    /// <summary>Runs a MEMBER.* command (its arity already checked).</summary>
    public static Task<Reply> ExecuteAsync(string name, ReadOnlyMemory<byte>[] argv, ClusterView view, ClusterMembership membership, CancellationToken aborted)
    {
        try
        {
            return name switch
            {
                "member.add" => membership.ChangeAsync(new MemberChange.Add(MemberEndPoint.Create(Text(argv[1]), Text(argv[2]), Text(argv[3]))), aborted),
                "member.remove" => membership.ChangeAsync(new MemberChange.Remove(Checked(Text(argv[1]))), aborted),
                _ => Task.FromResult(List(view, membership)),
            };
        }
        catch (FormatException e)
        {
            return Task.FromResult(MemberReplies.BadAddress(e.Message));
        }
    }

    private static Reply List(ClusterView view, ClusterMembership membership)
    {
        var leader = view.LeaderRaftAddress;
        var rows = view.Members
            .Select(m => Row(m.Raft, m.Resp, m.Peer, SameRaft(m.Raft, leader) ? "leader" : "voter"))
            .ToList();
        if (membership.Joining is { } joining)
            rows.Add(Row(joining.Raft, joining.Resp, joining.Peer, "joining"));
        return Reply.FromArray([.. rows]);

        static Reply Row(string raft, string resp, string peer, string role)
            => Reply.FromArray([Reply.FromBulk(raft), Reply.FromBulk(resp), Reply.FromBulk(peer), Reply.FromBulk(role)]);
    }

    // The leader's Raft address as this node names it: a member endpoint's text is its Raft URL.
    private static bool SameRaft(string raft, string? leader) => leader is not null && raft == leader;

    // Checked here, on the node that took the command: a malformed address never reaches the peer channel.
    private static string Checked(string raft)
    {
        _ = MemberEndPoint.ResolveRaft(raft);
        return raft;
    }

    private static string Text(ReadOnlyMemory<byte> argument) => Encoding.UTF8.GetString(argument.Span);
}
