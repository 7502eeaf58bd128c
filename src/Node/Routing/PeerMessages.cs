using System.Buffers;
using System.Buffers.Binary;
using MessagePack;
using RaftKv.Node.Peers;
using System.Text;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Routing;

/// <summary>
/// The messages routing sends over the peer channel (frame types of <see cref="PeerProtocol"/> version 1). Type values
/// are part of the protocol: append-only, never renumbered.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>0x01 Propose</term><description>follower → leader: <c>[u8 database][MessagePack WriteCommand]</c>.</description></item>
/// <item><term>0x02 ReadIndex</term><description>follower → leader: empty.</description></item>
/// <item><term>0x03 ProposeAs</term><description>follower → leader, a write of a user other than <c>default</c>: <c>[u8 database][u16 big-endian user length][user, Latin-1: its bytes][MessagePack WriteCommand]</c>.</description></item>
/// <item><term>0x04 LogState</term><description>any member → any member, the start-up probe: empty.</description></item>
/// <item><term>0x05 MemberChange</term><description>any member → leader, a membership change (<c>Membership/ClusterMembership</c>): <c>[u8 op: 1 add, 2 remove][u16 raft][u16 resp][u16 peer]</c>; answered like a write.</description></item>
/// <item><term>0x06 RemovedNotice</term><description>leader → the member it just removed: empty; answered <c>+OK</c>.</description></item>
/// <item><term>0x81 Answered</term><description>the write's reply, <c>[MessagePack Reply]</c> (<see cref="ReplySerializer"/>).</description></item>
/// <item><term>0x82 NotApplied</term><description>this node is not the leader and took nothing: route again.</description></item>
/// <item><term>0x83 Unknown</term><description>leadership changed after the append: the write may or may not apply.</description></item>
/// <item><term>0x84 ReadIndexAt</term><description><c>[i64 big-endian applied index]</c>, after the leader confirmed its leadership.</description></item>
/// <item><term>0x85 LogStateIs</term><description><c>[i64 big-endian commit index]</c> of the answering member's log.</description></item>
/// </list>
/// </remarks>
public static class PeerMessages
{
    /// <summary>A forwarded write.</summary>
    public const byte Propose = 0x01;

    /// <summary>A read-index request.</summary>
    public const byte ReadIndex = 0x02;

    /// <summary>A forwarded write of a user other than <c>default</c>.</summary>
    public const byte ProposeAs = 0x03;

    /// <summary>The start-up probe's question: how far is your log committed?</summary>
    public const byte LogState = 0x04;

    /// <summary>Answer: the write's reply.</summary>
    public const byte Answered = 0x81;

    /// <summary>Answer: not the leader; nothing was taken.</summary>
    public const byte NotApplied = 0x82;

    /// <summary>Answer: outcome unknown.</summary>
    public const byte Unknown = 0x83;

    /// <summary>Answer: a read index.</summary>
    public const byte ReadIndexAt = 0x84;

    /// <summary>Answer: a member's commit index.</summary>
    public const byte LogStateIs = 0x85;

    private static readonly byte[] ReadIndexRequestFrame = PeerProtocol.Frame(ReadIndex, []);

    /// <summary>The frame of a read-index request.</summary>
    public static byte[] ReadIndexRequest => ReadIndexRequestFrame;

    /// <summary>
    /// The frame forwarding <paramref name="command"/> for database <paramref name="database"/>, run as ACL user
    /// <paramref name="user"/> (whose permissions the state machine checks for what runs inside apply: a script's calls,
    /// EXEC's commands, a session's owner).
    /// </summary>
    public static byte[] ProposeFrame(WriteCommand command, int database, string user = AclTable.DefaultUserName)
    {
        var body = new ArrayBufferWriter<byte>(256);
        body.GetSpan(1)[0] = (byte)database;
        body.Advance(1);
        var asDefault = user == AclTable.DefaultUserName;
        if (!asDefault)
        {
            // A name is its bytes read as Latin-1 (AclTable), so Latin-1 gives them back exactly.
            var length = Encoding.Latin1.GetByteCount(user);
            if (length > MaxUserNameBytes)
                throw new ArgumentException($"A user name of {length} bytes cannot be forwarded.", nameof(user));
            var span = body.GetSpan(2 + length);
            BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)length);
            Encoding.Latin1.GetBytes(user, span[2..]);
            body.Advance(2 + length);
        }

        MessagePackSerializer.Serialize(body, command, KeyValueStore.SerializerOptions);
        return PeerProtocol.Frame(asDefault ? Propose : ProposeAs, body.WrittenSpan);
    }

    /// <summary>The longest user name a forwarded write carries, in bytes: the state machine's limit.</summary>
    public const int MaxUserNameBytes = AclTable.MaxNameBytes;

    /// <summary>Reads a <see cref="Propose"/> (or, with <paramref name="withUser"/>, a <see cref="ProposeAs"/>) payload.</summary>
    /// <exception cref="InvalidDataException">Empty, the database is out of range, or the user name is cut or too long.</exception>
    /// <remarks>Throws MessagePack's <c>MessagePackSerializationException</c> when the command cannot be decoded.</remarks>
    public static (int Database, string User, WriteCommand Command) ReadPropose(in ReadOnlySequence<byte> payload, bool withUser = false)
    {
        if (payload.IsEmpty)
            throw new InvalidDataException("Empty Propose payload.");
        Span<byte> first = stackalloc byte[1];
        payload.Slice(0, 1).CopyTo(first);
        var database = first[0];
        if (database >= KeyValueStore.DatabaseCount)
            throw new InvalidDataException($"Propose for database {database}.");

        var user = AclTable.DefaultUserName;
        var rest = payload.Slice(1);
        if (withUser)
        {
            Span<byte> prefix = stackalloc byte[2];
            if (rest.Length < 2)
                throw new InvalidDataException("ProposeAs payload without a user.");
            rest.Slice(0, 2).CopyTo(prefix);
            var length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
            if (length > MaxUserNameBytes || rest.Length < 2 + length)
                throw new InvalidDataException("ProposeAs payload with a cut or too long user name.");
            user = Encoding.Latin1.GetString(rest.Slice(2, length));
            rest = rest.Slice(2 + length);
        }

        var reader = new MessagePackReader(rest);
        var command = MessagePackSerializer.Deserialize<WriteCommand>(ref reader, KeyValueStore.SerializerOptions);
        if (command is null || !reader.End)
            throw new InvalidDataException("Propose payload is not exactly one command.");
        return (database, user, command);
    }

    /// <summary>The answer frame for a write's outcome.</summary>
    public static PeerFrame Encode(WriteOutcome outcome) => outcome.Kind switch
    {
        // A script can build a reply deeper than the serializer writes: the write stands, the follower is told so.
        WriteOutcomeKind.Answered when !ReplySerializer.IsWritable(outcome.Reply!) => new(Answered, ReplySerializer.Serialize(NodeReplies.ReplyTooDeepToForward)),
        WriteOutcomeKind.Answered => new(Answered, ReplySerializer.Serialize(outcome.Reply!)),
        WriteOutcomeKind.NotApplied => new(NotApplied, ReadOnlyMemory<byte>.Empty),
        _ => new(Unknown, ReadOnlyMemory<byte>.Empty),
    };

    /// <summary>The answer frame for a read index (or, when null, a refusal: not the leader).</summary>
    public static PeerFrame EncodeReadIndex(long? index)
    {
        if (index is not { } at)
            return new(NotApplied, ReadOnlyMemory<byte>.Empty);
        var payload = new byte[sizeof(long)];
        BinaryPrimitives.WriteInt64BigEndian(payload, at);
        return new(ReadIndexAt, payload);
    }

    /// <summary>The frame of the start-up probe's question.</summary>
    public static byte[] LogStateRequest { get; } = PeerProtocol.Frame(LogState, []);

    /// <summary>The answer frame to the start-up probe: this member's commit index.</summary>
    public static PeerFrame EncodeLogState(long commitIndex)
    {
        var payload = new byte[sizeof(long)];
        BinaryPrimitives.WriteInt64BigEndian(payload, commitIndex);
        return new(LogStateIs, payload);
    }

    /// <summary>The commit index a <see cref="LogStateIs"/> payload holds; null when the payload is not one (never negative).</summary>
    public static long? DecodeLogState(byte type, ReadOnlySpan<byte> payload)
        => type == LogStateIs && payload.Length == sizeof(long) && BinaryPrimitives.ReadInt64BigEndian(payload) is >= 0 and var index
            ? index
            : null;

    /// <summary>What a call forwarding a write tells of it.</summary>
    public static WriteOutcome DecodeWrite(PeerCallResult call)
    {
        switch (call.Status)
        {
            case PeerCallStatus.NotSent:
                return WriteOutcome.NotApplied;
            case PeerCallStatus.Lost:
                return WriteOutcome.Unknown;
        }

        switch (call.Type)
        {
            case Answered:
                try
                {
                    return WriteOutcome.Answered(ReplySerializer.Deserialize(call.Payload));
                }
                catch (InvalidDataException)
                {
                    // The leader answered, so it may have applied the write, but we cannot read the reply.
                    return WriteOutcome.Unknown;
                }

            case NotApplied:
                return WriteOutcome.NotApplied;
            default:
                return WriteOutcome.Unknown;
        }
    }

    /// <summary>The index a read-index call returned, or null when the peer was not (or no longer) the leader or did not answer.</summary>
    public static long? DecodeReadIndex(PeerCallResult call)
        => call is { Status: PeerCallStatus.Answered, Type: ReadIndexAt, Payload.Length: sizeof(long) }
            ? BinaryPrimitives.ReadInt64BigEndian(call.Payload)
            : null;
}
