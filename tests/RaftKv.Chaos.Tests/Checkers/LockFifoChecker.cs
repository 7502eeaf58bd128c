using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// "FIFO among waiters that were queued", for every kind of lock, from <see cref="OpKind.Acquire"/> operations (the
/// token is <see cref="Operation.Value"/>) and the <see cref="OpKind.LockInfo"/> reads that saw who held and who waited.
/// <para>
/// Evidence that waiter A was queued ahead of acquisition B of the same lock: (1) one read lists A before B among the
/// waiters; or (2) a read that lists A completed before B was invoked — A's enqueue was committed before B reached any
/// node, so B's entry follows A's in the log. A read may be stale (a follower's) and still be evidence: what it shows
/// was committed state. Only tokens named by one acquisition of the lock count: a retry with the same token keeps its
/// place in the queue, and which of the two a read saw cannot be told.
/// </para>
/// <para>
/// What follows, for readers, writers and semaphore holders alike (FIFO never overtakes): B may not hold while A still
/// waits ahead of it, so a read that shows B among the holders and A among the waiters is a violation, whatever became
/// of A later. And a waiter leaves the queue only by a grant, by its WAIT ending (a nil reply:
/// <see cref="Outcome.Fail"/>), by a release (its client releases only after the acquire's reply) or by its connection
/// closing (an unknown outcome: <see cref="Outcome.Info"/>); so when A's acquisition returned a fencing token, A stayed
/// queued until it was granted, before B. Tokens are given at the grant and strictly increase in grant order, so when
/// both returned one, token(A) &lt; token(B). A's wait or lease running out does not excuse it: a waiter whose wait
/// ended got nil, not a token, and a lease starts only at the grant. Acquisitions whose outcome is unknown or that got
/// nil prove nothing about grant order.
/// </para>
/// </summary>
public sealed class LockFifoChecker : IHistoryChecker
{
    public string Name => "lock-fifo";

    public CheckResult Check(IReadOnlyList<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var acquisitions = history.Where(static o => o.Kind == OpKind.Acquire && o.Value is not null)
            .GroupBy(static o => (o.Key, Token: o.Value!))
            .Where(static g => g.Count() == 1)
            .ToDictionary(static g => g.Key, static g => g.Single());
        var reads = history.Where(static o => o.Kind == OpKind.LockInfo && o.Outcome == Outcome.Ok && o.Values is not null).ToList();
        var attempted = history.Count(static o => o.Kind == OpKind.LockInfo);
        if (attempted > 0 && reads.Count == 0)
        {
            // Every read failed (or its reply could not be read): passing would hide that nothing was checked.
            return CheckResult.Unknown(Name, $"none of {attempted} LOCK.INFO reads succeeded: nothing shows who was queued");
        }

        // (1) Listed ahead in one read, and (2) the earliest read that saw each waiter.
        var listed = new Dictionary<(string Key, string Ahead, string Behind), Operation>();
        var firstSeen = new Dictionary<(string Key, string Token), Operation>();
        foreach (var read in reads)
        {
            var waiters = read.Values!.Where(t => acquisitions.ContainsKey((read.Key, t))).Distinct(StringComparer.Ordinal).ToList();
            for (var i = 0; i < waiters.Count; i++)
            {
                if (!firstSeen.TryGetValue((read.Key, waiters[i]), out var seen) || read.CompleteTime < seen.CompleteTime)
                    firstSeen[(read.Key, waiters[i])] = read;
                for (var j = i + 1; j < waiters.Count; j++)
                    listed.TryAdd((read.Key, waiters[i], waiters[j]), read);
            }
        }

        // The read that shows A was queued ahead of B (and whether it listed both), or null.
        (Operation Read, bool Both)? Ahead(string key, string ahead, string behind)
        {
            if (ahead == behind || !acquisitions.TryGetValue((key, behind), out var later))
                return null;
            if (listed.TryGetValue((key, ahead, behind), out var both))
                return (both, true);
            return firstSeen.TryGetValue((key, ahead), out var seen) && seen.CompleteTime < later.InvokeTime ? (seen, false) : null;
        }

        static string Why((Operation Read, bool Both) evidence)
            => evidence.Both ? $"{evidence.Read} listed both, the first ahead" : $"{evidence.Read} saw the first queued before the second was invoked";

        var problems = new List<string>();
        var offending = new List<Operation>();

        // B held while A, queued ahead of it, still waited.
        foreach (var read in reads.Where(static r => r.Holders is { Count: > 0 }))
        {
            foreach (var holder in read.Holders!)
            {
                foreach (var waiter in read.Values!)
                {
                    if (!acquisitions.ContainsKey((read.Key, waiter)) || Ahead(read.Key, waiter, holder) is not { } evidence)
                        continue;
                    problems.Add($"lock '{read.Key}': {read} shows '{holder}' holding while '{waiter}', queued ahead of it, still waits ({Why(evidence)})");
                    offending.Add(read);
                    offending.Add(acquisitions[(read.Key, waiter)]);
                    offending.Add(acquisitions[(read.Key, holder)]);
                }
            }
        }

        // Both granted: the one ahead has the smaller token. Of the acquisitions invoked after a read saw A queued, only
        // the smallest token matters (a suffix minimum in invocation order), so a long run costs n log n, not n².
        var judged = 0L;
        void OutOfOrder(Operation ahead, Operation behind, (Operation Read, bool Both) evidence)
        {
            problems.Add($"lock '{ahead.Key}' granted out of queue order: {ahead} was queued ahead of {behind} ({Why(evidence)}), " +
                         "yet its fencing token is not the smaller");
            offending.Add(evidence.Read);
            offending.Add(ahead);
            offending.Add(behind);
        }

        var behindListed = listed.GroupBy(static p => (p.Key.Key, p.Key.Ahead))
            .ToDictionary(static g => g.Key, static g => g.Select(static p => (p.Key.Behind, Read: p.Value)).ToList());
        foreach (var perKey in acquisitions.Values.Where(static a => a.Outcome == Outcome.Ok && a.FencingToken is not null).GroupBy(static a => a.Key, StringComparer.Ordinal))
        {
            var byInvocation = perKey.OrderBy(static a => a.InvokeTime).ThenBy(static a => a.Id).ToArray();
            var invoked = byInvocation.Select(static a => a.InvokeTime).ToArray();
            var smallest = new Operation[byInvocation.Length];
            for (var i = byInvocation.Length - 1; i >= 0; i--)
                smallest[i] = i + 1 < byInvocation.Length && smallest[i + 1].FencingToken < byInvocation[i].FencingToken ? smallest[i + 1] : byInvocation[i];

            foreach (var ahead in byInvocation)
            {
                // A read sees a token only after its acquisition was invoked, so A is never among those after its read.
                if (!firstSeen.TryGetValue((perKey.Key, ahead.Value!), out var seen) || ahead.InvokeTime > seen.CompleteTime)
                    continue;
                var from = UpperBound(invoked, seen.CompleteTime);
                judged += byInvocation.Length - from;
                if (from < byInvocation.Length && smallest[from].FencingToken <= ahead.FencingToken)
                    OutOfOrder(ahead, smallest[from], (seen, false));

                foreach (var (behind, read) in behindListed.GetValueOrDefault((perKey.Key, ahead.Value!)) ?? [])
                {
                    // Those invoked after A's first read were judged just above.
                    if (acquisitions[(perKey.Key, behind)] is not { Outcome: Outcome.Ok, FencingToken: { } token } later || later.InvokeTime > seen.CompleteTime)
                        continue;
                    judged++;
                    if (token <= ahead.FencingToken)
                        OutOfOrder(ahead, later, (read, true));
                }
            }
        }

        return Leases.Verdict(Name, problems, offending, () => string.Create(CultureInfo.InvariantCulture,
            $"{judged} pairs of granted acquisitions with one known queued ahead of the other were granted in queue order, " +
            $"and no read showed a holder that had overtaken a waiter ({firstSeen.Count} waiters seen queued by {reads.Count} LOCK.INFO reads)"));
    }

    // The first index whose time is after `time` in an ascending array.
    private static int UpperBound(long[] times, long time)
    {
        int low = 0, high = times.Length;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (times[middle] <= time)
                low = middle + 1;
            else
                high = middle;
        }

        return low;
    }
}
