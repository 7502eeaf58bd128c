using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// "Never more than N holders" of a counting semaphore, and its fencing, per semaphore, from the
/// <see cref="OpKind.Acquire"/> operations that carry <see cref="Operation.Permits"/> (N) and the
/// <see cref="OpKind.Release"/> operations. Holders are judged by the lease model of <see cref="LockSafetyChecker"/>: an
/// OK acquisition holds from its completion until its release is invoked or its lease (from its invocation, less the
/// clock skew allowance) ends; an acquisition of unknown outcome is not a holder. More than N holders whose intervals
/// share an instant are a violation. A held semaphore keeps the max-count it was created with, so holders that overlap
/// asked for the same N; the largest N among them is used, which can only hide a violation, never invent one. Tokens
/// are checked as <see cref="LockSafetyChecker"/> checks them: distinct, and in real-time order.
/// </summary>
public sealed class SemaphoreChecker(LockSafetyOptions? options = null) : IHistoryChecker
{
    private readonly LockSafetyOptions options = options ?? new LockSafetyOptions();

    public string Name => "semaphore-holders";

    public CheckResult Check(IReadOnlyList<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var acquired = history.Where(static o => IsSemaphore(o) && o.Outcome == Outcome.Ok).ToList();
        var releases = Leases.Releases(history);
        var unknown = history.Count(static o => IsSemaphore(o) && o.Outcome == Outcome.Info);
        var attempted = history.Count(static o => IsSemaphore(o));
        if (attempted > 0 && acquired.Count == 0)
        {
            // Refused every time (a command the nodes do not know?): passing would hide that nothing was checked.
            return CheckResult.Unknown(Name, $"none of {attempted} semaphore acquisitions succeeded: no holder to check");
        }

        var problems = new List<string>();
        var offending = new List<Operation>();
        var most = 0;
        var semaphores = 0;
        foreach (var perKey in acquired.GroupBy(static o => o.Key, StringComparer.Ordinal).OrderBy(static g => g.Key, StringComparer.Ordinal))
        {
            semaphores++;
            var key = perKey.Key;
            Leases.Sweep(perKey.Select(a => Leases.Hold(a, releases, options.ClockSkewAllowance)), (holder, active) =>
            {
                most = Math.Max(most, active.Count + 1);
                var permits = active.Select(static h => h.Acquire.Permits!.Value).Append(holder.Acquire.Permits!.Value).Max();
                if (active.Count + 1 <= permits)
                    return;
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"semaphore '{key}' (max-count {permits}) had {active.Count + 1} holders at {Operation.Milliseconds(holder.Start)} ms: " +
                    $"{holder.Acquire} acquired it while {string.Join("; ", active.Select(static h => $"{h.Acquire} held it until {h.Until()}"))}"));
                offending.AddRange(active.Select(static h => h.Acquire));
                offending.Add(holder.Acquire);
            });
            Leases.CheckFencing(key, [.. perKey.Where(static a => a.FencingToken is not null)], problems, offending);
        }

        return Leases.Verdict(Name, problems, offending, () =>
            $"{acquired.Count} acquisitions of {semaphores} semaphores never exceeded their max-count (at most {most} holders at once; " +
            $"tokens in order); {unknown} acquisitions of unknown outcome are not holders");
    }

    private static bool IsSemaphore(Operation o) => o.Kind == OpKind.Acquire && o.Permits is not null;
}
