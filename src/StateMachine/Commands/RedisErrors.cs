using System.Text;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// Redis 7.0's error replies for the string and keyspace commands, word for word, and RaftKv's own refusals of a write
/// that fails <see cref="WriteCommand.Validate"/>.
/// </summary>
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

    /// <summary>Redis's refusal of a write while used memory is over <c>maxmemory</c> (see <see cref="WriteCommand.Apply"/>).</summary>
    public static Reply OutOfMemory { get; } = Reply.Error("OOM command not allowed when used memory > 'maxmemory'.");

    public static Reply InvalidExpireTime(string command) => KeyValueStore.InvalidExpireTime(command);

    // RaftKv's own refusals of a write that no parser of ours produces (see WriteCommand.Validate): decoded from a log
    // entry or a peer, it is answered with one of these on every replica alike and changes nothing.

    /// <summary>The prefix of every <see cref="InvalidCommand"/> reply.</summary>
    public const string InvalidCommandPrefix = "ERR invalid command: ";

    /// <summary><c>ERR invalid command: &lt;command&gt;: &lt;problem&gt;</c>.</summary>
    public static Reply InvalidCommand(string command, string problem) => Reply.Error($"{InvalidCommandPrefix}{command}: {problem}");

    /// <summary>The part of an <see cref="InvalidCommand"/> text after its prefix (a wrapper quotes its inner command's).</summary>
    public static string WithoutInvalidCommandPrefix(string text)
        => text.StartsWith(InvalidCommandPrefix, StringComparison.Ordinal) ? text[InvalidCommandPrefix.Length..] : text;

    /// <summary><c>ERR invalid command: null command</c>: a batch position that decoded to no command (nil, or a union tag this version does not know).</summary>
    public static Reply NullCommand { get; } = Reply.Error(InvalidCommandPrefix + "null command");

    /// <summary><c>ERR invalid command batch: Databases does not match Commands</c>.</summary>
    public static Reply DatabasesMismatch { get; } = Reply.Error("ERR invalid command batch: Databases does not match Commands");

    /// <summary>A required field is nil: <c>&lt;field&gt; is null</c>.</summary>
    public static Reply? Required(string command, string field, object? value)
        => value is null ? InvalidCommand(command, field + " is null") : null;

    /// <summary>
    /// A required array of byte strings: non-null, with no null element, and at least <paramref name="minimum"/> long.
    /// </summary>
    public static Reply? RequiredArguments(string command, string field, byte[][]? values, int minimum = 0)
    {
        if (values is null)
            return InvalidCommand(command, field + " is null");
        if (values.Length < minimum)
            return InvalidCommand(command, values.Length == 0 ? field + " is empty" : $"{field} has fewer than {minimum} elements");
        return Array.IndexOf(values, null) is var i and >= 0 ? InvalidCommand(command, $"{field}[{i}] is null") : null;
    }

    /// <summary>A number outside what the command's parser accepts: <c>&lt;field&gt; is out of range</c>.</summary>
    public static Reply? InRange(string command, string field, bool inRange)
        => inRange ? null : InvalidCommand(command, field + " is out of range");

    /// <summary>An enum field holding a value with no name (the log may hold any byte).</summary>
    public static Reply? Defined<TEnum>(string command, string field, TEnum value)
        where TEnum : struct, Enum
        => Enum.IsDefined(value) ? null : InvalidCommand(command, field + " is not a known value");

    /// <summary>A <see cref="IStringLengthLimited.MaxLength"/> outside 0 to <see cref="IStringLengthLimited.MaxLengthCeiling"/>.</summary>
    public static Reply? StringLimit(string command, string field, long maxLength)
        => InRange(command, field, maxLength is >= 0 and <= IStringLengthLimited.MaxLengthCeiling);

    /// <summary>A database index outside 0 to <see cref="KeyValueStore.DatabaseCount"/> - 1.</summary>
    public static Reply? Database(string command, string field, int database)
        => InRange(command, field, (uint)database < KeyValueStore.DatabaseCount);

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

    /// <summary>
    /// The largest <see cref="MaxLength"/> a command may carry: <see cref="Array.MaxLength"/> (2,147,483,591), the
    /// longest byte array .NET can allocate, so no limit above it could ever be reached. Bounding it keeps the length
    /// arithmetic of APPEND and SETRANGE within what an array can hold; a node's <c>proto-max-bulk-len</c> must not
    /// exceed it.
    /// </summary>
    /// <remarks>A constant because <see cref="Array.MaxLength"/> is a property; a test pins the two equal.</remarks>
    const long MaxLengthCeiling = 0x7FFF_FFC7;

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
