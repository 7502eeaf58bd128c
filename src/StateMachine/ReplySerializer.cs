using System.Buffers;
using MessagePack;

namespace RaftKv.StateMachine;

/// <summary>
/// <see cref="Reply"/> in MessagePack: <c>[kind]</c>, <c>[kind, text]</c>, <c>[kind, integer]</c>, <c>[kind, bytes]</c>
/// or <c>[kind, [items...]]</c>. Sessions keep replies in snapshots with it, and a follower receives the leader's reply
/// to a forwarded write with it, so the client gets exactly the reply the state machine computed.
/// </summary>
public static class ReplySerializer
{
    /// <summary>The deepest nesting of arrays and maps that <see cref="Write(ref MessagePackWriter, Reply)"/> accepts.</summary>
    /// <remarks>Deep enough for any reply a command builds; a script can nest deeper (see <see cref="IsWritable(Reply)"/>).</remarks>
    public const int MaxDepth = 64;

    /// <summary>True when <paramref name="reply"/> nests no deeper than <see cref="MaxDepth"/>, so it can be written.</summary>
    public static bool IsWritable(Reply reply) => IsWritable(reply, 0);

    private static bool IsWritable(Reply reply, int depth)
    {
        if (depth > MaxDepth)
            return false;
        if (reply.Kind is not (ReplyKind.Array or ReplyKind.Map))
            return true;
        foreach (var item in reply.Items!)
        {
            if (!IsWritable(item, depth + 1))
                return false;
        }

        return true;
    }

    /// <summary>Writes <paramref name="reply"/>.</summary>
    public static void Write(ref MessagePackWriter writer, Reply reply) => Write(ref writer, reply, 0);

    /// <summary>The encoding of <paramref name="reply"/> as a new array.</summary>
    public static byte[] Serialize(Reply reply)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        var writer = new MessagePackWriter(buffer);
        Write(ref writer, reply);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a reply written by <see cref="Write(ref MessagePackWriter, Reply)"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a reply.</exception>
    public static Reply Read(ref MessagePackReader reader)
    {
        try
        {
            return Read(ref reader, 0);
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            throw new InvalidDataException("Malformed reply.", e);
        }
    }

    /// <summary>Reads a reply from <paramref name="bytes"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are not exactly one reply.</exception>
    public static Reply Deserialize(ReadOnlyMemory<byte> bytes)
    {
        var reader = new MessagePackReader(bytes);
        var reply = Read(ref reader);
        return reader.End ? reply : throw new InvalidDataException("Trailing bytes after a reply.");
    }

    private static void Write(ref MessagePackWriter writer, Reply reply, int depth)
    {
        if (depth > MaxDepth)
            throw new InvalidOperationException("Reply nested too deeply to serialise.");

        switch (reply.Kind)
        {
            case ReplyKind.NullBulk or ReplyKind.NullArray:
                writer.WriteArrayHeader(1);
                writer.Write((byte)reply.Kind);
                break;
            case ReplyKind.Status or ReplyKind.Error:
                writer.WriteArrayHeader(2);
                writer.Write((byte)reply.Kind);
                writer.Write(reply.Text);
                break;
            case ReplyKind.Integer:
                writer.WriteArrayHeader(2);
                writer.Write((byte)reply.Kind);
                writer.Write(reply.Integer);
                break;
            case ReplyKind.Bulk or ReplyKind.Verbatim:
                writer.WriteArrayHeader(2);
                writer.Write((byte)reply.Kind);
                writer.Write(reply.Bulk);
                break;
            default:
                writer.WriteArrayHeader(2);
                writer.Write((byte)reply.Kind);
                writer.WriteArrayHeader(reply.Items!.Count);
                foreach (var item in reply.Items)
                    Write(ref writer, item, depth + 1);
                break;
        }
    }

    private static Reply Read(ref MessagePackReader reader, int depth)
    {
        if (depth > MaxDepth)
            throw new InvalidDataException("Reply nested too deeply.");

        var length = reader.ReadArrayHeader();
        var kind = (ReplyKind)reader.ReadByte();
        return (kind, length) switch
        {
            (ReplyKind.NullBulk, 1) => Reply.NullBulk,
            (ReplyKind.NullArray, 1) => Reply.NullArray,
            (ReplyKind.Status, 2) => Reply.Status(ReadText(ref reader)),
            (ReplyKind.Error, 2) => Reply.Error(ReadText(ref reader)),
            (ReplyKind.Integer, 2) => Reply.FromInteger(reader.ReadInt64()),
            (ReplyKind.Bulk, 2) => Reply.FromBulk(ReadBytes(ref reader)),
            (ReplyKind.Verbatim, 2) => Reply.FromVerbatim(System.Text.Encoding.UTF8.GetString(ReadBytes(ref reader))),
            (ReplyKind.Array, 2) => Reply.FromArray(ReadItems(ref reader, depth)),
            (ReplyKind.Map, 2) => ReadItems(ref reader, depth) is { Length: var count } items && count % 2 == 0
                ? Reply.FromMap(items)
                : throw new InvalidDataException("A map reply needs a value for every key."),
            _ => throw new InvalidDataException($"Unknown reply kind {kind}."),
        };
    }

    private static Reply[] ReadItems(ref MessagePackReader reader, int depth)
    {
        var items = new Reply[reader.ReadArrayHeader()];
        for (var i = 0; i < items.Length; i++)
            items[i] = Read(ref reader, depth + 1);
        return items;
    }

    private static string ReadText(ref MessagePackReader reader)
        => reader.ReadString() ?? throw new InvalidDataException("Null text in a reply.");

    private static byte[] ReadBytes(ref MessagePackReader reader)
        => reader.ReadBytes() is { } bytes ? bytes.ToArray() : throw new InvalidDataException("Null bytes in a reply.");
}
