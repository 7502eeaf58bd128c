using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// Bounds on a counter (<see cref="OpKind.Incr"/> with non-negative amounts, <see cref="OpKind.Read"/>), per key. Every
/// observed value — a successful read's output, or a successful INCR's new value — must lie within
/// <list type="bullet">
/// <item>at least the initial value plus every increment acknowledged before the observation was invoked (plus the
/// INCR's own amount): no acknowledged increment is lost;</item>
/// <item>at most the initial value plus every increment acknowledged or of unknown outcome that was invoked before the
/// observation completed: nothing is counted that was not attempted, nor a failed increment.</item>
/// </list>
/// So the final read (after healing, when every increment has ended) lies in [acked, acked + unknown]. Further, values
/// observed in real-time order never decrease, and no two successful INCRs return the same value (each increment is
/// applied once). Weaker than <see cref="LinearizabilityChecker{TState}"/> with <see cref="CounterModel"/>, but linear
/// in the history's size, so it decides histories too large or too concurrent for the search.
/// </summary>
public sealed class CounterChecker(long initial = 0) : IHistoryChecker
{
    private const int ProblemsShown = 3;

    public string Name => "counter-bounds";

    public CheckResult Check(IReadOnlyList<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var problems = new List<string>();
        var offending = new List<Operation>();
        var summaries = new List<string>();
        foreach (var perKey in history.Where(static o => o.Kind is OpKind.Incr or OpKind.Read).GroupBy(static o => o.Key, StringComparer.Ordinal).OrderBy(static g => g.Key, StringComparer.Ordinal))
        {
            var summary = CheckCounter(perKey.Key, [.. perKey], problems, offending);
            if (summary is not null)
                summaries.Add(summary);
        }

        if (problems.Count > 0)
        {
            var more = problems.Count > ProblemsShown ? $"; and {problems.Count - ProblemsShown} more" : "";
            return CheckResult.Invalid(Name, string.Join("; ", problems.Take(ProblemsShown)) + more, offending.Distinct().Take(ProblemsShown * 2));
        }

        return summaries.Count == 0
            ? CheckResult.Unknown(Name, "no counter value was observed")
            : CheckResult.Valid(Name, string.Join("; ", summaries));
    }

    private sealed record Observation(Operation Operation, long Value, long OwnAmount);

    private string? CheckCounter(string key, List<Operation> operations, List<string> problems, List<Operation> offending)
    {
        var amounts = new Dictionary<Operation, long>(ReferenceEqualityComparer.Instance);
        foreach (var incr in operations.Where(static o => o.Kind == OpKind.Incr))
        {
            if (!CounterModel.TryRead(incr.Value, 1, out var amount) || amount < 0)
                throw new ArgumentException($"{incr}: the counter checker needs a non-negative integer amount.", nameof(operations));
            amounts[incr] = amount;
        }

        var observations = new List<Observation>();
        foreach (var operation in operations.Where(static o => o.Outcome == Outcome.Ok && (o.Kind == OpKind.Read || o.Output is not null)))
        {
            if (!CounterModel.TryRead(operation.Output, initial, out var value))
            {
                problems.Add($"counter '{key}': {operation} returned a value that is not an integer");
                offending.Add(operation);
                continue;
            }

            observations.Add(new Observation(operation, value, operation.Kind == OpKind.Incr ? amounts[operation] : 0));
        }

        if (observations.Count == 0)
            return null;

        // Prefix sums: acknowledged amounts by completion time (lower bound), possible amounts by invocation (upper).
        var acked = amounts.Where(static a => a.Key.Outcome == Outcome.Ok).OrderBy(static a => a.Key.CompleteTime).ToList();
        var possible = amounts.Where(static a => a.Key.Outcome != Outcome.Fail).OrderBy(static a => a.Key.InvokeTime).ToList();
        var ackedTimes = acked.Select(static a => a.Key.CompleteTime).ToArray();
        var possibleTimes = possible.Select(static a => a.Key.InvokeTime).ToArray();
        var ackedSums = PrefixSums(acked.Select(static a => a.Value));
        var possibleSums = PrefixSums(possible.Select(static a => a.Value));

        foreach (var observation in observations)
        {
            var operation = observation.Operation;
            var lower = initial + ackedSums[CountBefore(ackedTimes, operation.InvokeTime)] + observation.OwnAmount;
            var upper = initial + possibleSums[CountBefore(possibleTimes, operation.CompleteTime)];
            if (observation.Value < lower)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"counter '{key}': {operation} is below {lower}, the value acknowledged increments had reached before it began (an acknowledged increment was lost)"));
                offending.Add(operation);
            }
            else if (observation.Value > upper)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"counter '{key}': {operation} is above {upper}, all the increments (acknowledged or of unknown outcome) begun before it ended"));
                offending.Add(operation);
            }
        }

        CheckMonotonic(key, observations, problems, offending);

        foreach (var same in observations.Where(static o => o.Operation.Kind == OpKind.Incr && o.OwnAmount > 0).GroupBy(static o => o.Value).Where(static g => g.Count() > 1))
        {
            problems.Add($"counter '{key}': {same.Count()} increments returned {same.Key}: {string.Join("; ", same.Select(static o => o.Operation))}");
            offending.AddRange(same.Select(static o => o.Operation));
        }

        var final = observations.MaxBy(static o => (o.Operation.InvokeTime, o.Operation.Id))!;
        var unknown = amounts.Count(static a => a.Key.Outcome == Outcome.Info);
        return string.Create(CultureInfo.InvariantCulture,
            $"counter '{key}': {acked.Count} acknowledged and {unknown} unknown increments, last observed value {final.Value}, {observations.Count} observations in bounds");
    }

    // Values observed one after the other in real time must not decrease.
    private static void CheckMonotonic(string key, List<Observation> observations, List<string> problems, List<Operation> offending)
    {
        var byCompletion = observations.OrderBy(static o => o.Operation.CompleteTime).ToList();
        var done = 0;
        Observation? highest = null;
        foreach (var observation in observations.OrderBy(static o => o.Operation.InvokeTime).ThenBy(static o => o.Operation.Id))
        {
            for (; done < byCompletion.Count && byCompletion[done].Operation.CompleteTime < observation.Operation.InvokeTime; done++)
            {
                if (highest is null || byCompletion[done].Value > highest.Value)
                    highest = byCompletion[done];
            }

            if (highest is not null && observation.Value < highest.Value)
            {
                problems.Add($"counter '{key}': went backwards: {highest.Operation} completed before {observation.Operation} began");
                offending.Add(highest.Operation);
                offending.Add(observation.Operation);
            }
        }
    }

    private static long[] PrefixSums(IEnumerable<long> values)
    {
        var sums = new List<long> { 0 };
        foreach (var value in values)
            sums.Add(sums[^1] + value);
        return [.. sums];
    }

    // How many of the sorted times are strictly before the given time.
    private static int CountBefore(long[] sortedTimes, long time)
    {
        int low = 0, high = sortedTimes.Length;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (sortedTimes[middle] < time)
                low = middle + 1;
            else
                high = middle;
        }

        return low;
    }
}
