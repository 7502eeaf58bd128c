using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// <c>SLOWLOG GET|LEN|RESET|HELP</c> and <c>LATENCY</c>, with redis-server 7.0's replies, and the <c>INFO</c> sections
/// they go with (<c>commandstats</c>, <c>errorstats</c>, <c>cpu</c>). RaftKv has no latency monitor: <c>LATENCY</c>
/// answers as Redis does with <c>latency-monitor-threshold 0</c> and <c>latency-tracking no</c>.
/// </summary>
public sealed class DiagnosticCommands(SlowLog slowLog, CommandStats stats)
{
    private const long DefaultSlowLogCount = 10;

    /// <summary>Runs <c>SLOWLOG</c> (arity checked: at least a subcommand).</summary>
    public Reply SlowLog(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var sub = argv[1].Span;
        if (Ascii.EqualsIgnoreCase(sub, "get"u8) && argv.Length <= 3)
        {
            var count = DefaultSlowLogCount;
            if (argv.Length == 3 && (!long.TryParse(Encoding.ASCII.GetString(argv[2].Span), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out count) || count < -1))
                return NodeReplies.SlowLogCount;
            return Reply.FromArray([.. slowLog.Newest(count).Select(Commands.SlowLog.ToReply)]);
        }

        if (argv.Length == 2 && Ascii.EqualsIgnoreCase(sub, "len"u8))
            return Reply.FromInteger(slowLog.Count);
        if (argv.Length == 2 && Ascii.EqualsIgnoreCase(sub, "reset"u8))
        {
            slowLog.Reset();
            return Reply.Ok;
        }

        if (argv.Length == 2 && Ascii.EqualsIgnoreCase(sub, "help"u8))
            return SlowLogHelp;
        if (Ascii.EqualsIgnoreCase(sub, "get"u8))
            return Reply.Error($"ERR unknown subcommand or wrong number of arguments for '{Encoding.UTF8.GetString(sub)}'. Try SLOWLOG HELP.");
        return ArityOrUnknown("slowlog", argv);
    }

    /// <summary>Runs <c>LATENCY</c> (arity checked: at least a subcommand).</summary>
    public Reply Latency(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var sub = argv[1].Span;
        if (argv.Length == 2 && Ascii.EqualsIgnoreCase(sub, "latest"u8))
            return Reply.EmptyArray;
        if (argv.Length == 3 && Ascii.EqualsIgnoreCase(sub, "history"u8))
            return Reply.EmptyArray;
        if (argv.Length == 3 && Ascii.EqualsIgnoreCase(sub, "graph"u8))
            return Reply.Error($"ERR No samples available for event '{Encoding.UTF8.GetString(argv[2].Span)}'");
        if (argv.Length >= 2 && Ascii.EqualsIgnoreCase(sub, "reset"u8))
            return Reply.FromInteger(0);
        if (argv.Length >= 2 && Ascii.EqualsIgnoreCase(sub, "histogram"u8))
            return Reply.FromMap([]);
        if (argv.Length == 2 && Ascii.EqualsIgnoreCase(sub, "doctor"u8))
            return Reply.FromVerbatim(LatencyDisabled);
        if (argv.Length == 2 && Ascii.EqualsIgnoreCase(sub, "help"u8))
            return LatencyHelp;
        return ArityOrUnknown("latency", argv);
    }

    /// <summary><c>INFO commandstats</c>: Redis's <c>cmdstat_*</c> lines since the last <c>CONFIG RESETSTAT</c>.</summary>
    public void WriteCommandStats(StringBuilder text)
    {
        foreach (var stat in stats.Snapshot(sinceReset: true))
        {
            var perCall = stat.Calls == 0 ? 0 : (double)stat.Microseconds / stat.Calls;
            text.Append(CultureInfo.InvariantCulture,
                $"cmdstat_{stat.Name}:calls={stat.Calls},usec={stat.Microseconds},usec_per_call={perCall:0.00},rejected_calls={stat.RejectedCalls},failed_calls={stat.FailedCalls}\r\n");
        }
    }

    /// <summary><c>INFO errorstats</c>: Redis's <c>errorstat_*</c> lines since the last <c>CONFIG RESETSTAT</c>.</summary>
    public void WriteErrorStats(StringBuilder text)
    {
        foreach (var (prefix, count) in stats.ErrorSnapshot(sinceReset: true))
            text.Append(CultureInfo.InvariantCulture, $"errorstat_{prefix}:count={count}\r\n");
    }

    /// <summary>
    /// <c>INFO cpu</c>: the process's CPU time. RaftKv has no main thread (commands run on the thread pool), so the
    /// <c>_main_thread</c> fields repeat the process's; it starts no children.
    /// </summary>
    public static void WriteCpu(StringBuilder text)
    {
        using var process = Process.GetCurrentProcess();
        var system = process.PrivilegedProcessorTime.TotalSeconds;
        var user = process.UserProcessorTime.TotalSeconds;
        Seconds(text, "used_cpu_sys", system);
        Seconds(text, "used_cpu_user", user);
        Seconds(text, "used_cpu_sys_children", 0);
        Seconds(text, "used_cpu_user_children", 0);
        Seconds(text, "used_cpu_sys_main_thread", system);
        Seconds(text, "used_cpu_user_main_thread", user);
    }

    /// <summary>The totals <c>INFO stats</c> shows: <c>total_commands_processed</c>, <c>total_error_replies</c>.</summary>
    public void WriteStatTotals(StringBuilder text)
    {
        text.Append(CultureInfo.InvariantCulture, $"total_commands_processed:{stats.TotalCalls(sinceReset: true)}\r\n");
        text.Append(CultureInfo.InvariantCulture, $"total_error_replies:{stats.TotalErrorReplies(sinceReset: true)}\r\n");
    }

    private static void Seconds(StringBuilder text, string name, double seconds)
        => text.Append(name).Append(':').Append(seconds.ToString("0.000000", CultureInfo.InvariantCulture)).Append("\r\n");

    // A known subcommand with the wrong number of arguments, or an unknown one.
    private static Reply ArityOrUnknown(string command, ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var name = Encoding.UTF8.GetString(argv[1].Span);
        var parent = CommandTable.Find(command)!;
        return CommandTable.FindSubcommand(parent, argv[1].Span) is not null
            ? NodeReplies.SubcommandArity(name.ToLowerInvariant(), command)
            : NodeReplies.UnknownSubcommand(name, command.ToUpperInvariant());
    }

    private const string LatencyDisabled =
        "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";

    private static readonly Reply SlowLogHelp = Reply.FromArray(
    [
        Reply.Status("SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
        Reply.Status("GET [<count>]"),
        Reply.Status("    Return top <count> entries from the slowlog (default: 10, -1 mean all)."),
        Reply.Status("    Entries are made of:"),
        Reply.Status("    id, timestamp, time in microseconds, arguments array, client IP and port,"),
        Reply.Status("    client name"),
        Reply.Status("LEN"),
        Reply.Status("    Return the length of the slowlog."),
        Reply.Status("RESET"),
        Reply.Status("    Reset the slowlog."),
        Reply.Status("HELP"),
        Reply.Status("    Prints this help."),
    ]);

    private static readonly Reply LatencyHelp = Reply.FromArray(
    [
        Reply.Status("LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
        Reply.Status("DOCTOR"),
        Reply.Status("    Return a human readable latency analysis report."),
        Reply.Status("GRAPH <event>"),
        Reply.Status("    Return an ASCII latency graph for the <event> class."),
        Reply.Status("HISTORY <event>"),
        Reply.Status("    Return time-latency samples for the <event> class."),
        Reply.Status("LATEST"),
        Reply.Status("    Return the latest latency samples for all events."),
        Reply.Status("RESET [<event> ...]"),
        Reply.Status("    Reset latency data of one or more <event> classes."),
        Reply.Status("    (default: reset all data for all event classes)"),
        Reply.Status("HISTOGRAM [COMMAND ...]"),
        Reply.Status("    Return a cumulative distribution of latencies in the format of a histogram for the specified command names."),
        Reply.Status("    If no commands are specified then all histograms are replied."),
        Reply.Status("HELP"),
        Reply.Status("    Prints this help."),
    ]);
}

/// <summary>Registers the command statistics, the slow log and <c>CONFIG REWRITE</c>'s file writer.</summary>
public static class DiagnosticServiceCollectionExtensions
{
    /// <summary>Adds <see cref="CommandStats"/>, <see cref="SlowLog"/> (from <c>RaftKv:SlowLog</c>), <see cref="DiagnosticCommands"/>, <see cref="ConfigFileRewriter"/>.</summary>
    public static IServiceCollection AddCommandDiagnostics(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<SlowLogOptions>(configuration.GetSection(SlowLogOptions.Section));
        return services
            .AddSingleton<CommandStats>()
            .AddSingleton<SlowLog>()
            .AddSingleton<DiagnosticCommands>()
            .AddSingleton<ConfigFileRewriter>();
    }
}
