using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace RaftKv.StateMachine;

/// <summary>
/// The checksum around a log entry's payload: <c>[0xC1][version 1][u64 little-endian XxHash3 of the rest][batch]</c>,
/// where the batch is the MessagePack the payload held before envelopes existed.
/// </summary>
/// <remarks>
/// <para>
/// It lets a replica tell a copy of an entry damaged on its own disk (or in memory, or on the wire) from an entry that
/// every replica holds alike but cannot decode. The second is skipped everywhere alike; the first must never be
/// skipped, since the other replicas apply their good copies.
/// </para>
/// <para>
/// <c>0xC1</c> is the one byte MessagePack never uses, so a payload written before envelopes (a batch starts with a
/// MessagePack array header) is read as it always was: a log written by an older node needs no migration. Such
/// entries carry no checksum. A payload starting with neither is checked once more for an envelope whose first byte
/// was damaged (its checksum still matches the rest), so no single damaged byte of an envelope passes as an
/// undecodable entry to be skipped.
/// </para>
/// </remarks>
public static class LogEntryEnvelope
{
    /// <summary>The first byte of an enveloped payload (never a valid first byte of MessagePack).</summary>
    public const byte Marker = 0xC1;

    /// <summary>The envelope version this code writes and reads.</summary>
    public const byte Version = 1;

    /// <summary>Marker, version and checksum.</summary>
    public const int HeaderLength = 10;

    /// <summary>
    /// Reserves the header at the end of <paramref name="destination"/>; returns where it starts, to hand to
    /// <see cref="Seal"/> once the body has been written after it.
    /// </summary>
    public static int Begin(ArrayBufferWriter<byte> destination)
    {
        var start = destination.WrittenCount;
        destination.GetSpan(HeaderLength)[..HeaderLength].Clear();
        destination.Advance(HeaderLength);
        return start;
    }

    /// <summary>Fills in the header reserved at <paramref name="start"/> over everything written after it.</summary>
    public static void Seal(ArrayBufferWriter<byte> destination, int start)
    {
        // The writer's own array: the header is patched in place once the body's checksum is known, with no copy of the body.
        var entry = MemoryMarshal.AsMemory(destination.WrittenMemory[start..]).Span;
        entry[0] = Marker;
        entry[1] = Version;
        BinaryPrimitives.WriteUInt64LittleEndian(entry[2..HeaderLength], XxHash3.HashToUInt64(entry[HeaderLength..]));
    }

    /// <summary>
    /// Finds the MessagePack body of a payload: after a verified envelope, or the whole payload when it has none.
    /// </summary>
    /// <param name="payload">The entry's payload.</param>
    /// <param name="body">The bytes to decode as a batch, when true is returned.</param>
    /// <param name="problem">What is wrong with this copy, when false is returned.</param>
    /// <returns>False when this copy of the entry is damaged: its checksum fails, or its envelope is not one this code knows.</returns>
    public static bool TryOpen(in ReadOnlySequence<byte> payload, out ReadOnlySequence<byte> body, out string? problem)
    {
        body = payload;
        problem = null;
        if (payload.IsEmpty)
            return true;

        var first = payload.FirstSpan[0];
        if (first != Marker)
        {
            // A batch written before envelopes; anything else that is not an array header cannot be a batch, so it is
            // either undecodable alike everywhere or an envelope whose marker was damaged on this copy.
            if (IsArrayHeader(first) || !IsDamagedEnvelope(payload))
                return true;
            problem = DamagedMarker(first);
            return false;
        }

        if (payload.Length < HeaderLength)
        {
            problem = $"{payload.Length} bytes, shorter than an envelope's {HeaderLength}-byte header";
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        payload.Slice(0, HeaderLength).CopyTo(header);
        if (header[1] != Version)
        {
            // A version byte damaged here, or an entry from a newer node: either way not something to skip.
            problem = $"envelope version {header[1]}, this node reads version {Version}";
            return false;
        }

        var stored = BinaryPrimitives.ReadUInt64LittleEndian(header[2..]);
        body = payload.Slice(HeaderLength);
        var actual = Hash(body);
        if (actual == stored)
            return true;

        problem = $"checksum {actual:x16} of {body.Length} bytes, the entry says {stored:x16}";
        body = default;
        return false;
    }

    /// <summary>
    /// True when a payload that does not start with <see cref="Marker"/> is an envelope with a damaged first byte: the
    /// version and the checksum of the rest match (a chance of 2^-64 for any other payload).
    /// </summary>
    public static bool IsDamagedEnvelope(in ReadOnlySequence<byte> payload)
    {
        if (payload.Length < HeaderLength || payload.FirstSpan[0] == Marker)
            return false;
        Span<byte> header = stackalloc byte[HeaderLength];
        payload.Slice(0, HeaderLength).CopyTo(header);
        return header[1] == Version && BinaryPrimitives.ReadUInt64LittleEndian(header[2..]) == Hash(payload.Slice(HeaderLength));
    }

    /// <summary>The problem reported for an envelope whose marker became <paramref name="first"/>.</summary>
    public static string DamagedMarker(byte first)
        => $"the first byte is 0x{first:X2}, not the envelope's 0x{Marker:X2}, while the checksum of the rest matches: the envelope's marker was damaged";

    // fixarray, array 16, array 32: how every batch written before envelopes starts.
    private static bool IsArrayHeader(byte first) => first is (>= 0x90 and <= 0x9F) or 0xDC or 0xDD;

    private static ulong Hash(in ReadOnlySequence<byte> bytes)
    {
        if (bytes.IsSingleSegment)
            return XxHash3.HashToUInt64(bytes.FirstSpan);

        var hasher = new XxHash3();
        foreach (var segment in bytes)
            hasher.Append(segment.Span);
        return hasher.GetCurrentHashAsUInt64();
    }
}
