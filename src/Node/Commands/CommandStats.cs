using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>One command's counters, as <c>INFO commandstats</c> shows them.</summary>
/// <param name="Name">The command, <c>parent|sub</c> for a subcommand (<c>config|get</c>), as Redis names it.</param>
/// <param name="Calls">Times it ran (refused ones are not calls).</param>
/// <param name="Microseconds">Time spent from dispatch until its reply was ready, summed over the calls.</param>
/// <param name="RejectedCalls">Refused before it ran: wrong arity, NOAUTH, an ACL denial, OOM.</param>
/// <param name="FailedCalls">Ran and answered an error.</param>
public readonly record struct CommandStat(string Name, long Calls, long Microseconds, long RejectedCalls, long FailedCalls);

/// <summary>
/// Per-command and per-error counters of this node (<c>INFO commandstats</c>, <c>errorstats</c>, the totals of
/// <c>INFO stats</c>). The counters only grow: <c>CONFIG RESETSTAT</c> moves a baseline that <c>INFO</c> subtracts, so
/// an exporter reading <see cref="Snapshot"/> with <c>sinceReset: false</c> sees monotonic counters.
/// </summary>
/// <remarks>
/// Counting a command costs one array slot found by reference (the command table's own entry), a few
/// <see cref="Interlocked"/> adds and no allocation. Error prefixes are counted up to <see cref="MaxErrorPrefixes"/>
/// distinct ones, as Redis caps its error table (a reply's prefix comes from RaftKv's own texts, but some carry a word
/// of user input); later new prefixes count only in the total.
/// </remarks>
public sealed class CommandStats
{
    /// <summary>How many distinct error prefixes <c>errorstats</c> tracks (Redis's <c>ERROR_STATS_NUMBER</c>).</summary>
    public const int MaxErrorPrefixes = 128;

    private readonly Dictionary<CommandSpec, int> slots = new(ReferenceEqualityComparer.Instance);
    private readonly CommandSpec[] specs;
    private readonly Counters[] counters;
    private readonly Counters[] baseline;
    private readonly ConcurrentDictionary<string, StrongBox<long>> errors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> errorBaseline = new(StringComparer.Ordinal);
    private long errorReplies;
    private long errorRepliesBaseline;

    /// <summary>Counters for every command of <see cref="CommandTable.All"/> and their subcommands.</summary>
    public CommandStats()
    {
        specs = [.. CommandTable.All.SelectMany(static spec => spec.Subcommands.Prepend(spec))];
        for (var i = 0; i < specs.Length; i++)
            slots[specs[i]] = i;
        counters = new Counters[specs.Length];
        baseline = new Counters[specs.Length];
    }

    /// <summary>
    /// The entry a request is counted under: the subcommand for a command with subcommands (<c>config|get</c>), the
    /// command itself when it has none or is sent without one; null for an unknown command or subcommand, which counts
    /// only as an error, as in Redis.
    /// </summary>
    public static CommandSpec? Resolve(CommandSpec? spec, ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (spec is null || spec.Subcommands.Count == 0 || argv.Length < 2)
            return spec;
        return CommandTable.FindSubcommand(spec, argv[1].Span);
    }

    /// <summary>Counts a request refused before it ran; <paramref name="spec"/> null for an unknown command.</summary>
    public void Rejected(CommandSpec? spec, Reply error)
    {
        if (spec is not null && slots.TryGetValue(spec, out var slot))
            Interlocked.Increment(ref counters[slot].Rejected);
        CountError(error);
    }

    /// <summary>Counts a call that took <paramref name="elapsedTicks"/> (<see cref="Stopwatch"/> ticks) and answered <paramref name="reply"/>.</summary>
    public void Called(CommandSpec spec, long elapsedTicks, Reply reply)
    {
        if (!slots.TryGetValue(spec, out var slot))
            return;
        ref var entry = ref counters[slot];
        Interlocked.Increment(ref entry.Calls);
        Interlocked.Add(ref entry.Ticks, elapsedTicks);
        if (reply.IsError)
        {
            Interlocked.Increment(ref entry.Failed);
            CountError(reply);
        }
    }

    /// <summary>Counts an error reply that belongs to no command's counters (an unknown command, a queued command's refusal).</summary>
    public void CountError(Reply error)
    {
        Interlocked.Increment(ref errorReplies);
        var prefix = Prefix(error.Text);
        var lookup = errors.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(prefix, out var count))
        {
            Interlocked.Increment(ref count.Value);
            return;
        }

        if (errors.Count < MaxErrorPrefixes)
            Interlocked.Increment(ref errors.GetOrAdd(prefix.ToString(), static _ => new StrongBox<long>()).Value);
    }

    /// <summary>Every command called or refused at least once, in command table order.</summary>
    /// <param name="sinceReset">Counted since the last <c>CONFIG RESETSTAT</c> (what INFO shows), or since start.</param>
    public IReadOnlyList<CommandStat> Snapshot(bool sinceReset)
    {
        var result = new List<CommandStat>();
        for (var i = 0; i < specs.Length; i++)
        {
            var now = Read(counters[i]);
            if (sinceReset)
                now = now.Minus(Read(baseline[i]));
            if (now.Calls > 0 || now.Rejected > 0 || now.Failed > 0)
                result.Add(new(specs[i].Name, now.Calls, TicksToMicroseconds(now.Ticks), now.Rejected, now.Failed));
        }

        return result;
    }

    /// <summary>Error replies by prefix (<c>ERR</c>, <c>WRONGTYPE</c>...), ordered by prefix; zero counts left out.</summary>
    /// <param name="sinceReset">Since the last <c>CONFIG RESETSTAT</c>, or since start.</param>
    public IReadOnlyList<KeyValuePair<string, long>> ErrorSnapshot(bool sinceReset)
        => [.. errors
            .Select(e => KeyValuePair.Create(e.Key, Interlocked.Read(ref e.Value.Value) - (sinceReset ? errorBaseline.GetValueOrDefault(e.Key) : 0)))
            .Where(static e => e.Value > 0)
            .OrderBy(static e => e.Key, StringComparer.Ordinal)];

    /// <summary><c>total_commands_processed</c>: the calls of every command.</summary>
    public long TotalCalls(bool sinceReset)
    {
        long total = 0;
        for (var i = 0; i < specs.Length; i++)
            total += Interlocked.Read(ref counters[i].Calls) - (sinceReset ? Interlocked.Read(ref baseline[i].Calls) : 0);
        return total;
    }

    /// <summary><c>total_error_replies</c>: every error reply counted.</summary>
    public long TotalErrorReplies(bool sinceReset)
        => Interlocked.Read(ref errorReplies) - (sinceReset ? Interlocked.Read(ref errorRepliesBaseline) : 0);

    /// <summary><c>CONFIG RESETSTAT</c>: what <see cref="Snapshot"/> and the totals show since the reset starts from zero.</summary>
    public void Reset()
    {
        for (var i = 0; i < specs.Length; i++)
            baseline[i] = Read(counters[i]);
        foreach (var (prefix, count) in errors)
            errorBaseline[prefix] = Interlocked.Read(ref count.Value);
        Interlocked.Exchange(ref errorRepliesBaseline, Interlocked.Read(ref errorReplies));
    }

    /// <summary>Stopwatch ticks in microseconds.</summary>
    public static long TicksToMicroseconds(long ticks) => (long)(ticks * (1_000_000.0 / Stopwatch.Frequency));

    // The error's first word ("ERR", "WRONGTYPE"), as Redis's afterErrorReply takes it.
    private static ReadOnlySpan<char> Prefix(string? text)
    {
        var span = text.AsSpan();
        var space = span.IndexOf(' ');
        return space < 0 ? span : span[..space];
    }

    private static Counters Read(in Counters counters) => new()
    {
        Calls = Volatile.Read(in counters.Calls),
        Ticks = Volatile.Read(in counters.Ticks),
        Rejected = Volatile.Read(in counters.Rejected),
        Failed = Volatile.Read(in counters.Failed),
    };

    private struct Counters
    {
        public long Calls;
        public long Ticks;
        public long Rejected;
        public long Failed;

        public readonly Counters Minus(Counters other) => new()
        {
            Calls = Calls - other.Calls,
            Ticks = Ticks - other.Ticks,
            Rejected = Rejected - other.Rejected,
            Failed = Failed - other.Failed,
        };
    }
}
