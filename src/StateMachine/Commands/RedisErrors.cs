using System.Text;

namespace RaftKv.StateMachine.Commands;

/// <summary>Redis 7.0's error replies for the string and keyspace commands, word for word.</summary>
internal static class RedisErrors
{
    public static Reply NotAnInteger => CommandParser.NotAnInteger;

    public static Reply NotAFloat { get; } = Reply.Error("ERR value is not a valid float");

    public static Reply IncrementOverflow { get; } = Reply.Error("ERR increment or decrement would overflow");

    public static Reply DecrementOverflow { get; } = Reply.Error("ERR decrement would overflow");

    public static Reply NotFinite { get; } = Reply.Error("ERR increment would produce NaN or Infinity");

    public static Reply StringTooLong { get; } = Reply.Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");

    public static Reply OffsetOutOfRange { get; } = Reply.Error("ERR offset is out of range");

    public static Reply NoSuchKey { get; } = Reply.Error("ERR no such key");

    public static Reply SameObject { get; } = Reply.Error("ERR source and destination objects are the same");

    public static Reply Int32OutOfRange { get; } = Reply.Error(RedisNumbers.Int32OutOfRange);

    public static Reply InvalidExpireTime(string command) => KeyValueStore.InvalidExpireTime(command);

    /// <summary>
    /// True when <paramref name="argument"/> names <paramref name="option"/> (ASCII, case-insensitive). Redis compares
    /// options as C strings, so the argument counts only up to its first NUL byte.
    /// </summary>
    public static bool IsOption(ReadOnlySpan<byte> argument, ReadOnlySpan<byte> option)
        => Ascii.EqualsIgnoreCase(CString(argument), option);

    /// <summary>An argument as Redis's <c>%s</c> prints it in an error: up to its first NUL byte.</summary>
    public static string Printable(ReadOnlySpan<byte> argument) => Encoding.UTF8.GetString(CString(argument));

    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> argument)
        => argument.IndexOf((byte)0) is var nul and >= 0 ? argument[..nul] : argument;
}

/// <summary>
/// A write whose result can grow a stored string (<c>APPEND</c>, <c>SETRANGE</c>). Redis refuses a string longer than
/// <c>proto-max-bulk-len</c>, a node setting; so the limit is taken from the proposing node's configuration and
/// travels in the log with the command, and every replica enforces the one the leader accepted the write under.
/// </summary>
public interface IStringLengthLimited
{
    /// <summary>Redis's default <c>proto-max-bulk-len</c>: 512 MB.</summary>
    const long DefaultMaxLength = 512L * 1024 * 1024;

    /// <summary>The longest string the command may produce, in bytes.</summary>
    long MaxLength { get; }

    /// <summary>A copy of the command that enforces <paramref name="maxLength"/>.</summary>
    WriteCommand WithMaxLength(long maxLength);
}

/// <summary>Expiry arithmetic shared by the commands that set a time to live.</summary>
internal static class ExpiryTime
{
    /// <summary>
    /// The stored form of an absolute expiry. <see cref="ClusterTime.NoExpiry"/> (<c>long.MaxValue</c>) marks a key
    /// without one, so an expiry at exactly that millisecond — 292 million years away — is kept one millisecond
    /// earlier: the key still has a TTL, as in Redis.
    /// </summary>
    public static long Stored(long expireAt) => expireAt == ClusterTime.NoExpiry ? ClusterTime.NoExpiry - 1 : expireAt;

    /// <summary>The expiry as Redis reports it: -1 for none.</summary>
    public static long Reported(in Keyspace.Entry entry) => entry.HasExpiry ? entry.ExpireAt : -1;
}
