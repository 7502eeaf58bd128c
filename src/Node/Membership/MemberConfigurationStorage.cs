using System.Buffers.Binary;
using System.Net;
using System.Text;
using DotNext.Buffers;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace RaftKv.Node.Membership;

/// <summary>
/// DotNext's persistent member list (<c>&lt;DataPath&gt;/members</c>: <c>[i64 version][i32 count][member...]</c>, the
/// version being the log index of the configuration entry it came from), with each member written as a
/// <see cref="MemberEndPoint"/>: <c>[u8 1][u16 raft][u16 resp][u16 peer]</c>, each a little-endian length and UTF-8.
/// </summary>
/// <remarks>
/// Members reach this storage from the log (a configuration entry applied), from the leader (with an InstallSnapshot)
/// and from the file: all untrusted bytes. A member that does not decode throws <see cref="InvalidDataException"/>,
/// which stops the change from being installed; nothing partial is kept.
/// </remarks>
public sealed class MemberConfigurationStorage(string fileName) : PersistentClusterConfigurationStorage<EndPoint>(fileName)
{
    private const byte FormatVersion = 1;

    /// <summary>The file name inside the data directory.</summary>
    public const string FileName = "members";

    /// <summary>True when <paramref name="dataPath"/> holds a member list.</summary>
    public static bool Exists(string dataPath) => File.Exists(Path.Combine(dataPath, FileName));

    /// <summary>
    /// Writes the initial member list, version 0, when the data directory has none (a new cluster, or one that
    /// predates runtime membership): the members of <c>RaftKv:Members</c>. Written to a temporary file, synced, renamed.
    /// </summary>
    public static void WriteInitial(string dataPath, IEnumerable<MemberEndPoint> members)
    {
        Directory.CreateDirectory(dataPath);
        var list = members.ToArray();
        using var bytes = new MemoryStream();
        Span<byte> fixedPart = stackalloc byte[sizeof(long) + sizeof(int)];
        BinaryPrimitives.WriteInt64LittleEndian(fixedPart, 0);
        BinaryPrimitives.WriteInt32LittleEndian(fixedPart[sizeof(long)..], list.Length);
        bytes.Write(fixedPart);
        foreach (var member in list)
            bytes.Write(Serialize(member));

        var target = Path.Combine(dataPath, FileName);
        var temporary = target + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(bytes.GetBuffer(), 0, (int)bytes.Length);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, target, overwrite: true);
        Raft.DirectorySync.Flush(dataPath);
    }

    /// <inheritdoc/>
    protected override void Encode(EndPoint address, ref BufferWriterSlim<byte> writer)
    {
        var bytes = Serialize(address as MemberEndPoint
            ?? throw new ArgumentException($"A member of this cluster must carry its RESP and peer addresses; got {address}.", nameof(address)));
        bytes.CopyTo(writer.GetSpan(bytes.Length));
        writer.Advance(bytes.Length);
    }

    /// <inheritdoc/>
    protected override EndPoint Decode(ref SequenceReader reader)
    {
        try
        {
            var version = reader.ReadByte();
            if (version != FormatVersion)
                throw new InvalidDataException($"A member is written in format {version}; this node reads format {FormatVersion}.");
            var raft = ReadString(ref reader);
            var resp = ReadString(ref reader);
            var peer = ReadString(ref reader);
            return MemberEndPoint.Create(raft, resp, peer);
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or DecoderFallbackException or InvalidOperationException)
        {
            throw new InvalidDataException("A member of the cluster configuration does not decode: " + e.Message, e);
        }
    }

    private static string ReadString(ref SequenceReader reader)
    {
        var length = reader.ReadLittleEndian<ushort>();
        if (length > MemberEndPoint.MaxAddressBytes)
            throw new InvalidDataException($"A member address of {length} bytes (at most {MemberEndPoint.MaxAddressBytes}).");
        Span<byte> bytes = stackalloc byte[length];
        reader.Read(bytes);
        return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
    }

    private static byte[] Serialize(MemberEndPoint member)
    {
        var raft = Encoding.UTF8.GetBytes(member.Raft);
        var resp = Encoding.UTF8.GetBytes(member.Resp);
        var peer = Encoding.UTF8.GetBytes(member.Peer);
        var bytes = new byte[1 + (3 * sizeof(ushort)) + raft.Length + resp.Length + peer.Length];
        bytes[0] = FormatVersion;
        var at = 1;
        foreach (var part in (ReadOnlySpan<byte[]>)[raft, resp, peer])
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), (ushort)part.Length);
            part.CopyTo(bytes.AsSpan(at + sizeof(ushort)));
            at += sizeof(ushort) + part.Length;
        }

        return bytes;
    }
}
