using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>Settings of <see cref="LockSafetyChecker"/>.</summary>
public sealed record LockSafetyOptions
{
    /// <summary>
    /// Taken off every lease before checking: the clock skew between nodes a lock user must allow for (DESIGN.md,
    /// "TTL safety across failover rests on bounded clock skew"). Zero holds the raw <c>SET NX PX</c> lock to its full
    /// TTL; set it to the cluster's <c>maxClockSkew</c> when the nemesis skews clocks.
    /// </summary>
    public TimeSpan ClockSkewAllowance { get; init; } = TimeSpan.Zero;
}

/// <summary>
/// Mutual exclusion and fencing of mutexes (plain <c>SET NX</c> locks, <c>LOCK.ACQUIRE</c> with or without WAIT, the
/// client's lock), per lock key, from <see cref="OpKind.Acquire"/> operations without a <see cref="Operation.Mode"/> or
/// <see cref="Operation.Permits"/> and <see cref="OpKind.Release"/> operations.
/// <para>
/// Holders. Only an acquisition that returned OK makes a holder: a client whose acquire had an unknown outcome does not
/// know it holds the lock and must not enter the critical section, so it cannot break mutual exclusion (it can only
/// keep others waiting until the lease ends, a liveness matter). A holder holds from its acquire's completion (when it
/// learned it holds) until the earlier of the invocation of its release — the first release of the same key and owner
/// value invoked after the acquire was — and the end of its lease, counted from the acquire's invocation (the server
/// cannot have started the lease earlier) less <see cref="LockSafetyOptions.ClockSkewAllowance"/>. A release's outcome
/// does not matter: the holder stopped using the lock when it began releasing. Two holders of one key whose intervals
/// intersect are a violation; intervals that only touch are not.
/// </para>
/// <para>
/// Fencing. Tokens of OK acquisitions of one key must be distinct, and must follow real-time order: when acquisition A
/// completed before acquisition B was invoked, token(A) &lt; token(B). Concurrent acquisitions may carry tokens in either
/// order. (RaftKv's token is the applying log index, so this also holds across keys; per key is what a fenced
/// resource relies on.) Acquisitions without a token (plain <c>SET NX</c>) are not part of this check.
/// </para>
/// </summary>
public sealed class LockSafetyChecker(LockSafetyOptions? options = null) : IHistoryChecker
{
    private readonly LockSafetyOptions options = options ?? new LockSafetyOptions();

    public string Name => "lock-safety";

    public CheckResult Check(IReadOnlyList<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var acquired = history.Where(static o => IsMutex(o) && o.Outcome == Outcome.Ok).ToList();
        var releases = Leases.Releases(history);
        var unknown = history.Count(static o => IsMutex(o) && o.Outcome == Outcome.Info);

        var problems = new List<string>();
        var offending = new List<Operation>();
        var locks = 0;
        foreach (var perKey in acquired.GroupBy(static o => o.Key, StringComparer.Ordinal).OrderBy(static g => g.Key, StringComparer.Ordinal))
        {
            locks++;
            var holders = perKey.Select(a => Leases.Hold(a, releases, options.ClockSkewAllowance)).ToList();
            CheckExclusion(perKey.Key, holders, problems, offending);
            Leases.CheckFencing(perKey.Key, [.. perKey.Where(static a => a.FencingToken is not null)], problems, offending);
        }

        var fenced = acquired.Count(static a => a.FencingToken is not null);
        return Leases.Verdict(Name, problems, offending, () =>
            $"{acquired.Count} acquisitions of {locks} locks never overlapped ({fenced} fenced, tokens in order); " +
            $"{unknown} acquisitions of unknown outcome are not holders");
    }

    // Reader-writer locks and semaphores may have several holders: ReaderWriterChecker and SemaphoreChecker judge them.
    private static bool IsMutex(Operation o) => o.Kind == OpKind.Acquire && o.Mode is null && o.Permits is null;

    private static void CheckExclusion(string key, List<Holder> holders, List<string> problems, List<Operation> offending)
    {
        // Sweep by start, keeping the holder whose interval reaches furthest: any later start before its end overlaps.
        Holder? reaching = null;
        foreach (var holder in holders.Where(static h => h.Holds).OrderBy(static h => h.Start).ThenBy(static h => h.Acquire.Id))
        {
            if (reaching is not null && holder.Start < reaching.End)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"lock '{key}' held twice: {reaching.Acquire} held it from {Operation.Milliseconds(reaching.Start)} ms until {reaching.Until()}, " +
                    $"but {holder.Acquire} acquired it at {Operation.Milliseconds(holder.Start)} ms"));
                offending.Add(reaching.Acquire);
                if (reaching.Release is not null)
                    offending.Add(reaching.Release);
                offending.Add(holder.Acquire);
            }

            if (reaching is null || holder.End > reaching.End)
                reaching = holder;
        }
    }
}
