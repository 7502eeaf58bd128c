using System.Text;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// A store driven the way the node drives it: <see cref="CommandParser.Parse(ReadOnlySpan{ReadOnlyMemory{byte}})"/> first; a parse error is the reply,
/// a write is applied in a one-command batch stamped <c>now</c>, a read runs with the local clock at <c>now</c>.
/// </summary>
internal sealed class Redis
{
    private long logIndex;

    public KeyValueStore Store { get; } = new();

    /// <summary>The log index the next applied batch gets (each write is its own entry, as on a quiet cluster).</summary>
    public long NextLogIndex => logIndex + 1;

    public Reply Exec(long now, params string[] argv) => Exec(now, Args(argv));

    public Reply Exec(long now, params byte[][] argv)
    {
        var parsed = Parse(argv);
        return parsed.Outcome switch
        {
            ParseOutcome.Error => parsed.Error!,
            ParseOutcome.Write => Store.Apply(new CommandBatch { Timestamp = now, Commands = [parsed.Write!] }, ++logIndex).Single(),
            ParseOutcome.Read => Store.Read(parsed.Read!, now),
            _ => throw new InvalidOperationException($"Not a state machine command: {Encoding.UTF8.GetString(argv[0])}"),
        };
    }

    /// <summary>
    /// Stores <paramref name="count"/> filler keys that expire at <paramref name="expireAt"/>, in one batch at
    /// <paramref name="now"/>. The sweep reclaims soonest expiry first and a little per batch, so a key that expires
    /// after the fillers stays stored (expired, unswept) for the next few batches.
    /// </summary>
    public void AddSweepFillers(long now, long expireAt, int count = 200)
    {
        var fillers = Enumerable.Range(0, count)
            .Select(i => Parse("SET", $"filler:{i}", "x", "PXAT", expireAt.ToString(System.Globalization.CultureInfo.InvariantCulture)).Write!)
            .ToArray();
        Store.Apply(new CommandBatch { Timestamp = now, Commands = fillers }, ++logIndex);
    }

    /// <summary>Runs a read command on a node whose local clock shows <paramref name="localClockMs"/>.</summary>
    public Reply Read(long localClockMs, params string[] argv)
    {
        var parsed = Parse(argv);
        Assert.Equal(ParseOutcome.Read, parsed.Outcome);
        return Store.Read(parsed.Read!, localClockMs);
    }

    /// <summary>The stored entry of <paramref name="key"/>, live or expired-but-unswept; null when nothing is stored.</summary>
    public Keyspace.Entry? StoredEntry(string key) => StoredEntry(Encoding.UTF8.GetBytes(key));

    public Keyspace.Entry? StoredEntry(byte[] key)
    {
        foreach (var (storedKey, entry) in Store.Keyspace.Entries)
        {
            if (storedKey.AsSpan().SequenceEqual(key))
                return entry;
        }

        return null;
    }

    /// <summary>The absolute expiry stored for <paramref name="key"/>; fails when the key is not stored at all.</summary>
    public long ExpireAtOf(string key)
        => StoredEntry(key) is { } entry ? entry.ExpireAt : throw new InvalidOperationException($"'{key}' is not stored.");

    public static ParsedCommand Parse(params string[] argv) => Parse(Args(argv));

    public static ParsedCommand Parse(params byte[][] argv)
        => CommandParser.Parse(argv.Select(static a => (ReadOnlyMemory<byte>)a).ToArray());

    public static byte[][] Args(params string[] argv) => [.. argv.Select(Encoding.UTF8.GetBytes)];
}

/// <summary>Short names for expected replies.</summary>
internal static class Replies
{
    public static Reply Ok => Reply.Ok;

    public static Reply Nil => Reply.NullBulk;

    public static Reply Bulk(string value) => Reply.FromBulk(value);

    public static Reply Bulk(byte[] value) => Reply.FromBulk(value);

    public static Reply Int(long value) => Reply.FromInteger(value);

    public static Reply Err(string text) => Reply.Error(text);

    public static Reply SyntaxError => Err("ERR syntax error");

    public static Reply NotAnInteger => Err("ERR value is not an integer or out of range");

    public static Reply InvalidExpireTime => Err("ERR invalid expire time in 'set' command");

    public static Reply WrongArity(string command) => Err($"ERR wrong number of arguments for '{command}' command");
}
