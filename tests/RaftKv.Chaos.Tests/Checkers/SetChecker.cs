using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// No acknowledged write lost, for the set workload: clients add unique elements (<see cref="OpKind.Add"/>) and the set
/// is read whole (<see cref="OpKind.ReadAll"/>), at least once after the run has healed. Per set key, every successful
/// read must
/// <list type="bullet">
/// <item>contain every element whose add was acknowledged before the read was invoked (an acknowledged write is
/// durable);</item>
/// <item>contain every element an earlier read (completed before this one was invoked) returned (elements are never
/// removed, so a vanished one was lost even if its add had an unknown outcome);</item>
/// <item>contain only elements whose add was attempted, not failed, and invoked before the read completed.</item>
/// </list>
/// Adds of unknown outcome may appear or not. A set without a successful read is <see cref="Verdict.Unknown"/>.
/// </summary>
public sealed class SetChecker : IHistoryChecker
{
    private const int ElementsShown = 5;

    public string Name => "set-acknowledged-writes";

    public CheckResult Check(IReadOnlyList<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var problems = new List<string>();
        var offending = new List<Operation>();
        var summaries = new List<string>();
        string? unreadSet = null;
        var keys = history.Where(static o => o.Kind is OpKind.Add or OpKind.ReadAll).Select(static o => o.Key).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var adds = history.Where(o => o.Kind == OpKind.Add && o.Key == key).ToList();
            var reads = history.Where(o => o.Kind == OpKind.ReadAll && o.Key == key && o.Outcome == Outcome.Ok).ToList();
            if (reads.Count == 0)
            {
                unreadSet ??= key;
                continue;
            }

            summaries.Add(CheckSet(key, adds, reads, problems, offending));
        }

        if (problems.Count > 0)
            return CheckResult.Invalid(Name, string.Join("; ", problems), offending.Distinct().Take(12));
        if (unreadSet is not null)
            return CheckResult.Unknown(Name, $"set '{unreadSet}' was never read successfully");
        if (summaries.Count == 0)
            return CheckResult.Unknown(Name, "no set operations in the history");
        return CheckResult.Valid(Name, string.Join("; ", summaries));
    }

    private static string CheckSet(string key, List<Operation> adds, List<Operation> reads, List<string> problems, List<Operation> offending)
    {
        var addOf = new Dictionary<string, Operation>(StringComparer.Ordinal);
        foreach (var add in adds.Where(static a => a.Value is not null))
        {
            // Elements are unique by contract; should one be added twice, the earliest invocation is the one that counts.
            if (!addOf.TryGetValue(add.Value!, out var earlier) || add.InvokeTime < earlier.InvokeTime)
                addOf[add.Value!] = add;
        }

        var acked = adds.Where(static a => a.Outcome == Outcome.Ok && a.Value is not null).OrderBy(static a => a.CompleteTime).ToList();
        var readsByCompletion = reads.OrderBy(static r => r.CompleteTime).ToList();
        var seenBefore = new Dictionary<string, Operation>(StringComparer.Ordinal);
        int ackedDone = 0, readsDone = 0;
        foreach (var read in reads.OrderBy(static r => r.InvokeTime).ThenBy(static r => r.Id))
        {
            var found = new HashSet<string>(read.Values ?? [], StringComparer.Ordinal);
            while (ackedDone < acked.Count && acked[ackedDone].CompleteTime < read.InvokeTime)
                ackedDone++;

            for (; readsDone < readsByCompletion.Count && readsByCompletion[readsDone].CompleteTime < read.InvokeTime; readsDone++)
            {
                foreach (var element in readsByCompletion[readsDone].Values ?? [])
                    seenBefore.TryAdd(element, readsByCompletion[readsDone]);
            }

            var lost = acked.Take(ackedDone).Where(a => !found.Contains(a.Value!)).ToList();
            if (lost.Count > 0)
            {
                problems.Add($"set '{key}': {lost.Count} acknowledged adds missing from {read}: {Elements(lost.Select(static a => a.Value!))}");
                offending.Add(read);
                offending.AddRange(lost.Take(ElementsShown));
            }

            var vanished = seenBefore.Where(s => !found.Contains(s.Key)).ToList();
            if (vanished.Count > 0)
            {
                problems.Add($"set '{key}': {vanished.Count} elements read earlier are missing from {read}: {Elements(vanished.Select(static v => v.Key))}");
                offending.Add(vanished[0].Value);
                offending.Add(read);
            }

            foreach (var element in found.Order(StringComparer.Ordinal))
            {
                var problem = !addOf.TryGetValue(element, out var add) ? "was never added"
                    : add.Outcome == Outcome.Fail ? $"was added by {add}, which failed"
                    : add.InvokeTime > read.CompleteTime ? $"was added only later, by {add}"
                    : null;
                if (problem is null)
                    continue;
                problems.Add($"set '{key}': {read} returned '{element}', which {problem}");
                offending.Add(read);
                if (add is not null)
                    offending.Add(add);
                if (problems.Count > 20)
                    break;
            }
        }

        var final = reads.MaxBy(static r => (r.InvokeTime, r.Id))!;
        var finalFound = new HashSet<string>(final.Values ?? [], StringComparer.Ordinal);
        var unknown = adds.Where(static a => a.Outcome == Outcome.Info && a.Value is not null).ToList();
        var unverified = acked.Count(a => a.CompleteTime >= final.InvokeTime);
        var text = string.Create(CultureInfo.InvariantCulture,
            $"set '{key}': {acked.Count} acknowledged adds, {unknown.Count(a => finalFound.Contains(a.Value!))} of {unknown.Count} unknown adds present, final read has {finalFound.Count} elements");
        return unverified == 0 ? text : text + $" ({unverified} adds acknowledged after the final read began were not required in it)";
    }

    private static string Elements(IEnumerable<string> elements)
    {
        var list = elements.Order(StringComparer.Ordinal).ToList();
        var shown = string.Join(", ", list.Take(ElementsShown).Select(static e => "'" + e + "'"));
        return list.Count > ElementsShown ? shown + $", … ({list.Count - ElementsShown} more)" : shown;
    }
}
