using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// One acquisition that returned OK, as a holder: it holds from <see cref="Start"/> (its acquire's completion, when it
/// learned it holds) until <see cref="End"/> (its release's invocation, or its lease's end), in history nanoseconds.
/// </summary>
internal sealed record Holder(Operation Acquire, Operation? Release, long Start, long End)
{
    public string Until() => Release is not null && Release.InvokeTime == End
        ? $"its release #{Release.Id} at {Operation.Milliseconds(End)} ms"
        : End == Leases.Infinity ? "the end of the run" : $"its lease ended at {Operation.Milliseconds(End)} ms";

    /// <summary>An interval that ends before it begins (a lease that ran out before the reply came) holds nothing.</summary>
    public bool Holds => End > Start;
}

/// <summary>
/// The lease model every lock checker shares (see <see cref="LockSafetyChecker"/> for why it is what a correct client can
/// rely on): holders' intervals, and the fencing-token order of one lock's acquisitions.
/// </summary>
internal static class Leases
{
    public const long Infinity = long.MaxValue;

    /// <summary>How many problems an explanation lists before it counts the rest.</summary>
    public const int ViolationsShown = 3;

    /// <summary>Every release, by the lock and the owner value it names, in invocation order.</summary>
    public static Dictionary<(string Key, string? Value), List<Operation>> Releases(IReadOnlyList<Operation> history)
        => history.Where(static o => o.Kind == OpKind.Release)
            .GroupBy(static o => (o.Key, o.Value))
            .ToDictionary(static g => g.Key, static g => g.OrderBy(static r => r.InvokeTime).ToList());

    /// <summary>
    /// The holder an OK acquisition makes: from its completion until the earlier of the first release of the same key
    /// and owner value invoked after it, and its lease counted from its invocation less the clock skew allowance. A
    /// queued acquisition's lease began at its grant, later than its invocation: counting from the invocation can only
    /// shorten the interval, so never makes a false overlap.
    /// </summary>
    public static Holder Hold(Operation acquire, Dictionary<(string Key, string? Value), List<Operation>> releases, TimeSpan clockSkewAllowance)
    {
        var end = Infinity;
        if (acquire.Ttl is { } ttl)
        {
            // Nanoseconds; a lease shorter than the skew allowance ends before it began, so makes no holder.
            var lease = (ttl - clockSkewAllowance).Ticks;
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

    /// <summary>
    /// Sweeps one lock's holders by start: for each holder that holds, <paramref name="conflict"/> sees it and the holders
    /// whose intervals contain its start (intervals that only touch do not), and reports a problem when they may not
    /// hold together. Any set of intervals that all intersect has a common point at the latest start among them, so
    /// checking at every start finds every such set.
    /// </summary>
    public static void Sweep(IEnumerable<Holder> holders, Action<Holder, IReadOnlyList<Holder>> conflict)
    {
        var active = new List<Holder>();
        foreach (var holder in holders.Where(static h => h.Holds).OrderBy(static h => h.Start).ThenBy(static h => h.Acquire.Id))
        {
            active.RemoveAll(h => h.End <= holder.Start);
            conflict(holder, active);
            active.Add(holder);
        }
    }

    /// <summary>
    /// Fencing of one lock: tokens of OK acquisitions must be distinct, and must follow real-time order — when
    /// acquisition A completed before acquisition B was invoked, token(A) &lt; token(B). Concurrent acquisitions may carry
    /// tokens in either order.
    /// </summary>
    public static void CheckFencing(string key, List<Operation> fenced, List<string> problems, List<Operation> offending)
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

    /// <summary>Invalid with the first few problems when there are any, else valid with <paramref name="summary"/>.</summary>
    public static CheckResult Verdict(string checker, List<string> problems, List<Operation> offending, Func<string> summary)
    {
        if (problems.Count == 0)
            return CheckResult.Valid(checker, summary());
        var shown = problems.Take(ViolationsShown).ToList();
        var more = problems.Count > shown.Count ? string.Create(CultureInfo.InvariantCulture, $"; and {problems.Count - shown.Count} more") : "";
        return CheckResult.Invalid(checker, string.Join("; ", shown) + more, offending.Distinct().Take(ViolationsShown * 3));
    }
}
