using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace RaftKv.StateMachine;

/// <summary>
/// Content equality for binary keys, for hash tables whose order nothing observes: keyed hashing (SipHash-1-3 under a
/// 128-bit seed), so a client who does not know the seed cannot choose keys that collide.
/// </summary>
/// <remarks>
/// <para>
/// Keys come from clients. With an unkeyed hash (this class once used XXH3 with seed 0) anyone can compute colliding
/// keys offline: every 32-byte key whose first 8 bytes equal XXH3's first secret word hashes alike, whatever its
/// next 8 bytes, so 40,000 such keys made one <see cref="Dictionary{TKey,TValue}"/> chain, loaded quadratically on
/// every replica and again at every snapshot restore. .NET protects only string keys with the default comparer from
/// that (it switches to randomized hashing); for a custom comparer the seed is the defence. SipHash is the keyed
/// hash built for it (Redis keys its dictionaries with SipHash and a random seed too); a seeded XXH3 is not enough,
/// since its 17–240-byte path has seed-independent collisions.
/// </para>
/// <para>
/// The seed can differ per process, and should: the node draws a random one (<c>RaftStateMachine</c>). That is safe
/// only because the order of a dictionary keyed by this comparer is never observed — <see cref="Dictionary{TKey,TValue}"/>
/// enumerates in the order of its inserts and removals, not by hash — and what must be identical on every replica
/// (KEYS, SCAN and RANDOMKEY order, SCAN cursors) comes from <see cref="Hash64"/>, a stable unkeyed hash, through an
/// ordered index (<see cref="Keyspace"/>). The state machine draws no randomness itself: the seed is handed in.
/// </para>
/// </remarks>
public sealed class ByteArrayComparer
    : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>, IComparer<byte[]>
{
    // SipHash-1-3: one compression round per 8-byte block, three finalization rounds (as Rust's HashMap and CPython).
    private const int CompressionRounds = 1;
    private const int FinalizationRounds = 3;

    private readonly ulong key0;
    private readonly ulong key1;

    private ByteArrayComparer(UInt128 seed)
    {
        key0 = (ulong)seed;
        key1 = (ulong)(seed >> 64);
    }

    /// <summary>A comparer hashing under <paramref name="seed"/> (the SipHash key: low 64 bits k0, high 64 bits k1).</summary>
    /// <remarks>Comparers with equal seeds hash alike; a seed an attacker can guess gives no protection.</remarks>
    public static ByteArrayComparer Create(UInt128 seed) => new(seed);

    /// <inheritdoc/>
    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    /// <inheritdoc/>
    public int GetHashCode(byte[] obj) => (int)SipHash(key0, key1, obj, CompressionRounds, FinalizationRounds);

    /// <inheritdoc/>
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    /// <inheritdoc/>
    public int GetHashCode(ReadOnlySpan<byte> alternate) => (int)SipHash(key0, key1, alternate, CompressionRounds, FinalizationRounds);

    /// <inheritdoc/>
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    /// <summary>Bytewise (memcmp) order, as Redis sorts binary strings.</summary>
    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);

    /// <summary>
    /// A stable 64-bit hash of <paramref name="bytes"/>, the same in every process and every version: what orders keys
    /// for KEYS, SCAN and RANDOMKEY. Unkeyed, so anyone can make it collide: order by it in a tree (where a tie costs a
    /// key comparison), never bucket by it in a hash table.
    /// </summary>
    public static ulong Hash64(ReadOnlySpan<byte> bytes) => XxHash3.HashToUInt64(bytes);

    /// <summary>SipHash-c-d of <paramref name="data"/> under the key (<paramref name="k0"/>, <paramref name="k1"/>).</summary>
    /// <remarks>Round counts are parameters so that tests can check the code against SipHash-2-4's published vectors.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SipHash(ulong k0, ulong k1, ReadOnlySpan<byte> data, int compressionRounds, int finalizationRounds)
    {
        var v0 = 0x736f6d6570736575UL ^ k0;
        var v1 = 0x646f72616e646f6dUL ^ k1;
        var v2 = 0x6c7967656e657261UL ^ k0;
        var v3 = 0x7465646279746573UL ^ k1;

        var blocks = data.Length & ~7;
        for (var offset = 0; offset < blocks; offset += 8)
        {
            var m = BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]);
            v3 ^= m;
            for (var r = 0; r < compressionRounds; r++)
                Round(ref v0, ref v1, ref v2, ref v3);
            v0 ^= m;
        }

        // The last block: the 0-7 remaining bytes, little-endian, with the length's low byte on top.
        var last = (ulong)data.Length << 56;
        var tail = data[blocks..];
        for (var i = 0; i < tail.Length; i++)
            last |= (ulong)tail[i] << (8 * i);

        v3 ^= last;
        for (var r = 0; r < compressionRounds; r++)
            Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= last;

        v2 ^= 0xff;
        for (var r = 0; r < finalizationRounds; r++)
            Round(ref v0, ref v1, ref v2, ref v3);
        return v0 ^ v1 ^ v2 ^ v3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}
