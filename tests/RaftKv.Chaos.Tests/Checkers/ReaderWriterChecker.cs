using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// "No reader with a writer, at most one writer" for reader-writer locks, and their fencing, per lock, from the
/// <see cref="OpKind.Acquire"/> operations that carry a <see cref="Operation.Mode"/> and the <see cref="OpKind.Release"/>
/// operations. Holders are judged by the lease model of <see cref="LockSafetyChecker"/> (an acquisition of unknown
/// outcome is not a holder). A writer whose interval shares an instant with any other holder's is a violation; readers
/// may overlap each other. Tokens are checked as <see cref="LockSafetyChecker"/> checks them: distinct, and in
/// real-time order, readers' and writers' alike.
/// </summary>
public sealed class ReaderWriterChecker(LockSafetyOptions? options = null) : IHistoryChecker
{
    private readonly LockSafetyOptions options = options ?? new LockSafetyOptions();

    public string Name => "rwlock-exclusion";

    public CheckResult Check(IReadOnlyList<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var acquired = history.Where(static o => IsReaderWriter(o) && o.Outcome == Outcome.Ok).ToList();
        var releases = Leases.Releases(history);
        var unknown = history.Count(static o => IsReaderWriter(o) && o.Outcome == Outcome.Info);
        var attempted = history.Count(static o => IsReaderWriter(o));
        if (attempted > 0 && acquired.Count == 0)
        {
            // Refused every time (a command the nodes do not know?): passing would hide that nothing was checked.
            return CheckResult.Unknown(Name, $"none of {attempted} reader-writer lock acquisitions succeeded: no holder to check");
        }

        var problems = new List<string>();
        var offending = new List<Operation>();
        var mostReaders = 0;
        var locks = 0;
        foreach (var perKey in acquired.GroupBy(static o => o.Key, StringComparer.Ordinal).OrderBy(static g => g.Key, StringComparer.Ordinal))
        {
            locks++;
            var key = perKey.Key;
            Leases.Sweep(perKey.Select(a => Leases.Hold(a, releases, options.ClockSkewAllowance)), (holder, active) =>
            {
                var writing = holder.Acquire.Mode == LockMode.Write;
                var conflicting = writing ? active : [.. active.Where(static h => h.Acquire.Mode == LockMode.Write)];
                if (conflicting.Count == 0)
                {
                    if (!writing)
                        mostReaders = Math.Max(mostReaders, active.Count + 1);
                    return;
                }

                var what = writing && conflicting.All(static h => h.Acquire.Mode == LockMode.Read) ? "a writer with readers"
                    : writing ? "two writers" : "a reader with a writer";
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"rwlock '{key}' held by {what} at {Operation.Milliseconds(holder.Start)} ms: {holder.Acquire} acquired it while " +
                    $"{string.Join("; ", conflicting.Select(static h => $"{h.Acquire} held it until {h.Until()}"))}"));
                offending.AddRange(conflicting.Select(static h => h.Acquire));
                offending.Add(holder.Acquire);
            });
            Leases.CheckFencing(key, [.. perKey.Where(static a => a.FencingToken is not null)], problems, offending);
        }

        var writers = acquired.Count(static a => a.Mode == LockMode.Write);
        return Leases.Verdict(Name, problems, offending, () =>
            $"{acquired.Count} acquisitions of {locks} reader-writer locks ({writers} writers) never put a writer with another holder " +
            $"(up to {mostReaders} readers at once; tokens in order); {unknown} acquisitions of unknown outcome are not holders");
    }

    private static bool IsReaderWriter(Operation o) => o.Kind == OpKind.Acquire && o.Mode is not null;
}
