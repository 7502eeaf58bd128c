using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// "FIFO among waiters that were queued", for every kind of lock, from <see cref="OpKind.Acquire"/> operations (the
/// token is <see cref="Operation.Value"/>) and the <see cref="OpKind.LockInfo"/> reads that saw who waited.
/// <para>
/// Evidence that waiter A was queued ahead of acquisition B of the same lock: (1) one read lists A before B among the
/// waiters; or (2) a read that lists A completed before B was invoked — A's enqueue was committed before B reached any
/// node, so B's entry follows A's in the log. A read may be stale (a follower's) and still be evidence: what it shows
/// was committed state.
/// </para>
/// <para>
/// What the history can prove from there: a waiter leaves the queue only by a grant, by its WAIT ending (a nil reply:
/// <see cref="Outcome.Fail"/>), by a release (its client releases only after the acquire's reply) or by its connection
/// closing (an unknown outcome: <see cref="Outcome.Info"/>). So when A's acquisition returned a fencing token, A stayed
/// queued until it was granted; B cannot have been granted while A waited ahead of it (FIFO never overtakes, for
/// readers, writers and semaphore holders alike). Tokens are given at the grant and strictly increase in grant order,
/// so when both returned one, token(A) &lt; token(B); anything else is a violation. A's wait or lease running out does
/// not excuse it: a waiter whose wait ended got nil, not a token, and a lease starts only at the grant. Acquisitions
/// whose outcome is unknown or that got nil prove nothing here, and a token named by two acquisitions of one lock (a
/// retry keeps its place in the queue) is left out: which of them a read saw cannot be told.
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

        var problems = new List<string>();
        var offending = new List<Operation>();
        var judged = new HashSet<(long A, long B)>();

        Operation? Granted(string key, string token)
            => acquisitions.TryGetValue((key, token), out var a) && a.Outcome == Outcome.Ok && a.FencingToken is not null ? a : null;

        void Judge(Operation ahead, Operation behind, Operation read, string evidence)
        {
            if (!judged.Add((ahead.Id, behind.Id)) || ahead.FencingToken < behind.FencingToken)
                return;
            problems.Add($"lock '{ahead.Key}' granted out of queue order: {ahead} was queued ahead of {behind} ({read} {evidence}), " +
                         "yet its fencing token is not the smaller");
            offending.Add(read);
            offending.Add(ahead);
            offending.Add(behind);
        }

        // (1) Order within one read.
        foreach (var read in reads)
        {
            var waiters = read.Values!.Distinct(StringComparer.Ordinal).Select(t => Granted(read.Key, t)).ToList();
            for (var i = 0; i < waiters.Count; i++)
            {
                if (waiters[i] is not { } ahead)
                    continue;
                for (var j = i + 1; j < waiters.Count; j++)
                {
                    if (waiters[j] is { } behind)
                        Judge(ahead, behind, read, "listed both, the first ahead");
                }
            }
        }

        // (2) Known queued before the other was invoked: the earliest read that saw each waiter, against every
        // acquisition of the lock invoked after that read completed.
        var firstSeen = new Dictionary<long, Operation>();
        foreach (var read in reads)
        {
            foreach (var token in read.Values!)
            {
                if (Granted(read.Key, token) is { } waiter && (!firstSeen.TryGetValue(waiter.Id, out var seen) || read.CompleteTime < seen.CompleteTime))
                    firstSeen[waiter.Id] = read;
            }
        }

        foreach (var perKey in acquisitions.Values.Where(static a => a.Outcome == Outcome.Ok && a.FencingToken is not null).GroupBy(static a => a.Key, StringComparer.Ordinal))
        {
            var byInvocation = perKey.OrderBy(static a => a.InvokeTime).ThenBy(static a => a.Id).ToList();
            foreach (var ahead in byInvocation.Where(a => firstSeen.ContainsKey(a.Id)))
            {
                var read = firstSeen[ahead.Id];
                foreach (var behind in byInvocation.Where(b => b.InvokeTime > read.CompleteTime && b.Id != ahead.Id))
                    Judge(ahead, behind, read, "saw it queued before the second was invoked");
            }
        }

        return Leases.Verdict(Name, problems, offending, () => string.Create(CultureInfo.InvariantCulture,
            $"{judged.Count} pairs of granted acquisitions with one known queued ahead of the other were granted in queue order " +
            $"({firstSeen.Count} waiters seen queued by {reads.Count} LOCK.INFO reads, then granted)"));
    }
}
