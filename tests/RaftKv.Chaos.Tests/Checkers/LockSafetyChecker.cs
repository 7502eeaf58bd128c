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
/// Mutual exclusion and fencing of locks, per lock key, from <see cref="OpKind.Acquire"/> and
/// <see cref="OpKind.Release"/> operations.
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
    private const long Infinity = long.MaxValue;
    private const int ViolationsShown = 3;

    private readonly LockSafetyOptions options = options ?? new LockSafetyOptions();

    public string Name => "lock-safety";

    public CheckResult Check(IReadOnlyList<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var acquired = history.Where(static o => o.Kind == OpKind.Acquire && o.Outcome == Outcome.Ok).ToList();
        var releases = history.Where(static o => o.Kind == OpKind.Release)
            .GroupBy(static o => (o.Key, o.Value))
            .ToDictionary(static g => g.Key, static g => g.OrderBy(static r => r.InvokeTime).ToList());
        var unknown = history.Count(static o => o.Kind == OpKind.Acquire && o.Outcome == Outcome.Info);

        var problems = new List<string>();
        var offending = new List<Operation>();
        var locks = 0;
        foreach (var perKey in acquired.GroupBy(static o => o.Key, StringComparer.Ordinal).OrderBy(static g => g.Key, StringComparer.Ordinal))
        {
            locks++;
            var holders = perKey.Select(a => Hold(a, releases)).ToList();
            CheckExclusion(perKey.Key, holders, problems, offending);
            CheckFencing(perKey.Key, [.. perKey.Where(static a => a.FencingToken is not null)], problems, offending);
        }

        if (problems.Count > 0)
        {
            var shown = problems.Take(ViolationsShown).ToList();
            var more = problems.Count > shown.Count ? $"; and {problems.Count - shown.Count} more" : "";
            return CheckResult.Invalid(Name, string.Join("; ", shown) + more, offending.Distinct().Take(ViolationsShown * 3));
        }

        var fenced = acquired.Count(static a => a.FencingToken is not null);
        return CheckResult.Valid(Name,
            $"{acquired.Count} acquisitions of {locks} locks never overlapped ({fenced} fenced, tokens in order); " +
            $"{unknown} acquisitions of unknown outcome are not holders");
    }

    private sealed record Holder(Operation Acquire, Operation? Release, long Start, long End)
    {
        public string Until() => Release is not null && Release.InvokeTime == End
            ? $"its release #{Release.Id} at {Operation.Milliseconds(End)} ms"
            : End == Infinity ? "the end of the run" : $"its lease ended at {Operation.Milliseconds(End)} ms";
    }

    private Holder Hold(Operation acquire, Dictionary<(string Key, string? Value), List<Operation>> releases)
    {
        var end = Infinity;
        if (acquire.Ttl is { } ttl)
        {
            // Nanoseconds; a lease shorter than the skew allowance ends before it began, so makes no holder.
            var lease = (ttl - options.ClockSkewAllowance).Ticks;
            end = lease >= (Infinity - acquire.InvokeTime) / 100 ? Infinity : acquire.InvokeTime + lease * 100;
        }

        Operation? release = null;
        if (releases.TryGetValue((acquire.Key, acquire.Value), out var candidates))
        {
            release = candidates.FirstOrDefault(r => r.InvokeTime >= acquire.InvokeTime);
            if (release is not null)
                end = Math.Min(end, release.InvokeTime);
        }

        return new Holder(acquire, release, acquire.CompleteTime, end);
    }

    private static void CheckExclusion(string key, List<Holder> holders, List<string> problems, List<Operation> offending)
    {
        // Sweep by start, keeping the holder whose interval reaches furthest: any later start before its end overlaps.
        Holder? reaching = null;
        foreach (var holder in holders.Where(static h => h.End > h.Start).OrderBy(static h => h.Start).ThenBy(static h => h.Acquire.Id))
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

    private static void CheckFencing(string key, List<Operation> fenced, List<string> problems, List<Operation> offending)
    {
        foreach (var same in fenced.GroupBy(static a => a.FencingToken!.Value).Where(static g => g.Count() > 1))
        {
            problems.Add($"lock '{key}': fencing token {same.Key} given to {same.Count()} acquisitions: {string.Join("; ", same)}");
            offending.AddRange(same);
        }

        // For each acquisition in invocation order, the largest token among those that completed before it began.
        var byCompletion = fenced.OrderBy(static a => a.CompleteTime).ToList();
        var done = 0;
        Operation? largest = null;
        foreach (var acquire in fenced.OrderBy(static a => a.InvokeTime).ThenBy(static a => a.Id))
        {
            for (; done < byCompletion.Count && byCompletion[done].CompleteTime < acquire.InvokeTime; done++)
            {
                if (largest is null || byCompletion[done].FencingToken > largest.FencingToken)
                    largest = byCompletion[done];
            }

            // Equal tokens were reported above as duplicates.
            if (largest is not null && largest.FencingToken > acquire.FencingToken)
            {
                problems.Add($"lock '{key}': fencing tokens went backwards: {largest} completed before {acquire} was invoked");
                offending.Add(largest);
                offending.Add(acquire);
            }
        }
    }
}
