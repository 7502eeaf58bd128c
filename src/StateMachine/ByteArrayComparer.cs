using System.IO.Hashing;

namespace RaftKv.StateMachine;

/// <summary>
/// Content equality for binary keys with a hash that is the same in every process. <see cref="HashCode"/> is seeded
/// per process, which would make dictionary iteration order (and so KEYS/SCAN order) differ between replicas.
/// </summary>
public sealed class ByteArrayComparer
    : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>, IComparer<byte[]>
{
    /// <summary>The shared instance.</summary>
    public static ByteArrayComparer Instance { get; } = new();

    /// <inheritdoc/>
    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    /// <inheritdoc/>
    public int GetHashCode(byte[] obj) => (int)XxHash3.HashToUInt64(obj);

    /// <inheritdoc/>
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    /// <inheritdoc/>
    public int GetHashCode(ReadOnlySpan<byte> alternate) => (int)XxHash3.HashToUInt64(alternate);

    /// <inheritdoc/>
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    /// <summary>Bytewise (memcmp) order, as Redis sorts binary strings.</summary>
    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);

    /// <summary>A stable 64-bit hash of <paramref name="bytes"/>.</summary>
    public static ulong Hash64(ReadOnlySpan<byte> bytes) => XxHash3.HashToUInt64(bytes);
}
