using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>The node's slow log settings (<c>RaftKv:SlowLog</c>), changed at run time by <c>CONFIG SET</c>.</summary>
public sealed class SlowLogOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "RaftKv:SlowLog";

    /// <summary><c>slowlog-log-slower-than</c> in microseconds: -1 records nothing, 0 every command.</summary>
    public long LogSlowerThan { get; set; } = 10_000;

    /// <summary><c>slowlog-max-len</c>: the entries kept, newest first.</summary>
    public long MaxLength { get; set; } = 128;
}

/// <summary>One slow log entry, as <c>SLOWLOG GET</c> shows it.</summary>
public sealed record SlowLogEntry(long Id, long UnixSeconds, long Microseconds, IReadOnlyList<byte[]> Arguments, string ClientAddress, string ClientName);

/// <summary>
/// Redis's slow log: commands whose handling took at least <c>slowlog-log-slower-than</c> microseconds, the newest
/// <c>slowlog-max-len</c> of them, with arguments cut as Redis cuts them (32 arguments, 128 bytes each). The time is
/// the dispatcher's (see <see cref="CommandStats"/>): for a write, proposal and commit included.
/// </summary>
public sealed class SlowLog(IOptions<SlowLogOptions> options, TimeProvider time)
{
    /// <summary>Redis's <c>SLOWLOG_ENTRY_MAX_ARGC</c>.</summary>
    public const int MaxArguments = 32;

    /// <summary>Redis's <c>SLOWLOG_ENTRY_MAX_STRING</c>.</summary>
    public const int MaxArgumentBytes = 128;

    private readonly LinkedList<SlowLogEntry> entries = new();
    private long logSlowerThan = options.Value.LogSlowerThan;
    private long maxLength = options.Value.MaxLength;
    private long nextId;

    /// <summary><c>slowlog-log-slower-than</c>, in microseconds; negative is off.</summary>
    public long LogSlowerThan
    {
        get => Interlocked.Read(ref logSlowerThan);
        set => Interlocked.Exchange(ref logSlowerThan, value);
    }

    /// <summary><c>slowlog-max-len</c>; lowering it drops the oldest entries at once, as Redis does.</summary>
    public long MaxLength
    {
        get => Interlocked.Read(ref maxLength);
        set
        {
            lock (entries)
            {
                maxLength = value;
                Trim();
            }
        }
    }

    /// <summary>True when a command that took <paramref name="microseconds"/> is to be recorded.</summary>
    public bool IsSlow(long microseconds) => LogSlowerThan is var threshold && threshold >= 0 && microseconds >= threshold;

    /// <summary>True when a command still running may be slow enough to record, so its arguments must be kept.</summary>
    public bool IsOn => LogSlowerThan >= 0 && MaxLength > 0;

    /// <summary>The number of entries (<c>SLOWLOG LEN</c>).</summary>
    public int Count
    {
        get
        {
            lock (entries)
                return entries.Count;
        }
    }

    /// <summary>
    /// Keeps what an entry needs of <paramref name="argv"/> in one array (the request's buffers are reused by the
    /// connection's next request): at most <see cref="MaxArguments"/> arguments of at most
    /// <see cref="MaxArgumentBytes"/> bytes each, with what was cut.
    /// </summary>
    public static byte[] Capture(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var kept = Math.Min(argv.Length, MaxArguments);
        var size = 4;
        for (var i = 0; i < kept; i++)
            size += 8 + Math.Min(argv[i].Length, MaxArgumentBytes);

        var buffer = new byte[size];
        BinaryPrimitives.WriteInt32LittleEndian(buffer, argv.Length);
        var at = 4;
        for (var i = 0; i < kept; i++)
        {
            var argument = argv[i].Span;
            var length = Math.Min(argument.Length, MaxArgumentBytes);
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at), argument.Length);
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at + 4), length);
            argument[..length].CopyTo(buffer.AsSpan(at + 8));
            at += 8 + length;
        }

        return buffer;
    }

    /// <summary>Records a command that took <paramref name="microseconds"/>; <paramref name="captured"/> is from <see cref="Capture"/>.</summary>
    public void Add(byte[] captured, long microseconds, string clientAddress, string clientName)
    {
        var arguments = Decode(captured);
        Redact(arguments);
        lock (entries)
        {
            if (maxLength <= 0)
                return;
            entries.AddFirst(new SlowLogEntry(nextId++, time.GetUtcNow().ToUnixTimeSeconds(), microseconds, arguments, clientAddress, clientName));
            Trim();
        }
    }

    /// <summary>The newest <paramref name="count"/> entries (all for a negative count), newest first.</summary>
    public IReadOnlyList<SlowLogEntry> Newest(long count)
    {
        lock (entries)
            return [.. count < 0 ? entries : entries.Take((int)Math.Min(count, int.MaxValue))];
    }

    /// <summary><c>SLOWLOG RESET</c>: drops every entry (ids go on from where they were, as in Redis).</summary>
    public void Reset()
    {
        lock (entries)
            entries.Clear();
    }

    private void Trim()
    {
        while (entries.Count > 0 && entries.Count > maxLength)
            entries.RemoveLast();
    }

    // Redis's slowlogCreateEntry: the 32nd slot says how many more arguments there were, a long string how many more bytes.
    private static List<byte[]> Decode(byte[] captured)
    {
        var total = BinaryPrimitives.ReadInt32LittleEndian(captured);
        var shown = total > MaxArguments ? MaxArguments - 1 : total;
        var arguments = new List<byte[]>(Math.Min(total, MaxArguments));
        var at = 4;
        for (var i = 0; i < shown; i++)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(captured.AsSpan(at));
            var kept = BinaryPrimitives.ReadInt32LittleEndian(captured.AsSpan(at + 4));
            var bytes = captured.AsSpan(at + 8, kept);
            arguments.Add(length > kept
                ? [.. bytes, .. Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"... ({length - kept} more bytes)"))]
                : bytes.ToArray());
            at += 8 + kept;
        }

        if (total > MaxArguments)
            arguments.Add(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"... ({total - shown} more arguments)")));
        return arguments;
    }

    // Passwords never reach the log: AUTH's arguments, HELLO's AUTH pair, ACL SETUSER's rules, CONFIG SET requirepass's value.
    private static void Redact(List<byte[]> arguments)
    {
        var redacted = "(redacted)"u8.ToArray();
        var name = arguments[0];
        if (Ascii.EqualsIgnoreCase(name, "auth"u8))
        {
            for (var i = 1; i < arguments.Count; i++)
                arguments[i] = redacted;
        }
        else if (Ascii.EqualsIgnoreCase(name, "hello"u8))
        {
            for (var i = 2; i + 2 < arguments.Count; i++)
            {
                if (Ascii.EqualsIgnoreCase(arguments[i], "auth"u8))
                {
                    arguments[i + 1] = redacted;
                    arguments[i + 2] = redacted;
                }
            }
        }
        else if (arguments.Count > 3 && Ascii.EqualsIgnoreCase(name, "acl"u8) && Ascii.EqualsIgnoreCase(arguments[1], "setuser"u8))
        {
            for (var i = 3; i < arguments.Count; i++)
                arguments[i] = redacted;
        }
        else if (Ascii.EqualsIgnoreCase(name, "config"u8) && arguments.Count > 3 && Ascii.EqualsIgnoreCase(arguments[1], "set"u8))
        {
            for (var i = 2; i + 1 < arguments.Count; i += 2)
            {
                if (Ascii.EqualsIgnoreCase(arguments[i], "requirepass"u8))
                    arguments[i + 1] = redacted;
            }
        }
    }

    /// <summary>One entry as Redis replies it: id, Unix time, microseconds, arguments, client address, client name.</summary>
    public static Reply ToReply(SlowLogEntry entry) => Reply.FromArray(
    [
        Reply.FromInteger(entry.Id),
        Reply.FromInteger(entry.UnixSeconds),
        Reply.FromInteger(entry.Microseconds),
        Reply.FromArray([.. entry.Arguments.Select(Reply.FromBulk)]),
        Reply.FromBulk(entry.ClientAddress),
        Reply.FromBulk(entry.ClientName),
    ]);
}
