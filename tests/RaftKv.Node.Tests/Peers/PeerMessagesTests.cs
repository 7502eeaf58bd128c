using System.Buffers;
using RaftKv.Node.Peers;
using RaftKv.Node.Routing;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Tests.Peers;

/// <summary>The forwarded-write frames: the user a write runs as crosses the peer channel byte for byte, and a cut or oversized name is refused.</summary>
public sealed class PeerMessagesTests
{
    private static ReadOnlySequence<byte> Payload(byte[] frame, out byte type)
    {
        // [u32 length][u8 type][payload], PeerProtocol's framing.
        type = frame[4];
        return new ReadOnlySequence<byte>(frame, PeerProtocol.FrameHeaderLength, frame.Length - PeerProtocol.FrameHeaderLength);
    }

    [Theory]
    [InlineData("alice")]
    [InlineData("\u00e9t\u00e9-\u00ff")] // bytes 0x80-0xFF: a name is its bytes, read as Latin-1
    [InlineData(null)] // the longest name the state machine allows
    public void A_forwarded_write_carries_its_user_exactly(string? name)
    {
        name ??= new string('n', AclTable.MaxNameBytes);
        var command = new SetCommand { Key = "k"u8.ToArray(), Value = "v"u8.ToArray() };
        var payload = Payload(PeerMessages.ProposeFrame(command, 3, name), out var type);
        Assert.Equal(PeerMessages.ProposeAs, type);

        var (database, user, read) = PeerMessages.ReadPropose(payload, withUser: true);
        Assert.Equal((3, name), (database, user));
        Assert.Equal("k"u8.ToArray(), Assert.IsType<SetCommand>(read).Key);
    }

    [Fact]
    public void The_default_user_costs_nothing_and_a_cut_or_oversized_name_is_refused()
    {
        var command = new SetCommand { Key = "k"u8.ToArray(), Value = "v"u8.ToArray() };
        var plain = PeerMessages.ProposeFrame(command, 0);
        Assert.Equal(plain, PeerMessages.ProposeFrame(command, 0, AclTable.DefaultUserName));
        Assert.Equal(PeerMessages.Propose, plain[4]);

        var frame = PeerMessages.ProposeFrame(command, 0, "alice");
        Assert.Throws<InvalidDataException>(() => PeerMessages.ReadPropose(new ReadOnlySequence<byte>(frame, PeerProtocol.FrameHeaderLength, 4), withUser: true));

        // A length beyond the limit, from a member with a bug: refused before anything is read past it.
        byte[] oversized = [0, 0xFF, 0xFF, .. new byte[70_000]];
        Assert.Throws<InvalidDataException>(() => PeerMessages.ReadPropose(new ReadOnlySequence<byte>(oversized), withUser: true));
        Assert.Throws<ArgumentException>(() => PeerMessages.ProposeFrame(command, 0, new string('n', AclTable.MaxNameBytes + 1)));
    }
}
