using System.Globalization;
using System.Text;
using System.Text.Json;
using RaftKv.Chaos.Tests.Checkers;

namespace RaftKv.Chaos.Tests.History;

/// <summary>How many operations ended each way.</summary>
public sealed record OutcomeCounts(int Ok, int Fail, int Info)
{
    public int Total => Ok + Fail + Info;

    public static OutcomeCounts Of(IEnumerable<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        int ok = 0, fail = 0, info = 0;
        foreach (var operation in history)
        {
            switch (operation.Outcome)
            {
                case Outcome.Ok: ok++; break;
                case Outcome.Fail: fail++; break;
                default: info++; break;
            }
        }

        return new OutcomeCounts(ok, fail, info);
    }
}

/// <summary>
/// The outcome of one chaos run: the seed that replays it, how its operations ended, the faults injected and every
/// checker's verdict. Written as JSON next to the history, and as one <see cref="Summary"/> line in the test output;
/// a run that is not <see cref="Verdict.Valid"/> says how to replay it.
/// </summary>
public sealed record RunReport
{
    public required long Seed { get; init; }

    /// <summary>The workload or profile that ran (<c>register</c>, <c>lock</c>, <c>short</c>, <c>soak</c>).</summary>
    public string? Name { get; init; }

    public TimeSpan Duration { get; init; }

    public required OutcomeCounts Operations { get; init; }

    public required IReadOnlyList<Fault> Faults { get; init; }

    public required IReadOnlyList<CheckResult> Checks { get; init; }

    /// <summary>How to replay this run (a command line); the summary falls back to naming the seed.</summary>
    public string? Replay { get; init; }

    /// <summary>The worst verdict of the checks; a run that checked nothing is <see cref="Verdict.Unknown"/>.</summary>
    public Verdict Verdict => Checks.Count == 0 ? Verdict.Unknown : CheckResult.Worst(Checks.Select(static c => c.Verdict));

    public static RunReport Create(long seed, IReadOnlyList<Operation> history, IReadOnlyList<Fault> faults, IReadOnlyList<CheckResult> checks,
        string? name = null, TimeSpan duration = default, string? replay = null) => new()
        {
            Seed = seed,
            Name = name,
            Duration = duration,
            Operations = OutcomeCounts.Of(history),
            Faults = faults,
            Checks = checks,
            Replay = replay,
        };

    /// <summary>
    /// One line: <c>chaos register seed 42: INVALID — 1200 ops (ok 1000, fail 150, info 50), 6 faults (kill 2, pause 4);
    /// linearizable-register INVALID, lock-safety valid; first problem: ...; replay: ...</c>.
    /// </summary>
    public string Summary()
    {
        var line = new StringBuilder("chaos");
        if (Name is not null)
            line.Append(' ').Append(Name);
        line.Append(CultureInfo.InvariantCulture, $" seed {Seed}: {Word(Verdict)}");
        if (Duration > TimeSpan.Zero)
            line.Append(CultureInfo.InvariantCulture, $" in {Duration.TotalSeconds:0.0} s");
        line.Append(CultureInfo.InvariantCulture, $" — {Operations.Total} ops (ok {Operations.Ok}, fail {Operations.Fail}, info {Operations.Info}), {Faults.Count} faults");
        if (Faults.Count > 0)
        {
            var byKind = Faults.GroupBy(static f => f.Kind, StringComparer.Ordinal).Select(static g => $"{g.Key} {g.Count()}");
            line.Append(" (").AppendJoin(", ", byKind).Append(')');
        }

        line.Append("; ").AppendJoin(", ", Checks.Select(static c => $"{c.Checker} {Word(c.Verdict)}"));
        if (Verdict != Verdict.Valid)
        {
            var first = Checks.FirstOrDefault(static c => c.Verdict == Verdict.Invalid) ?? Checks.FirstOrDefault(static c => c.Verdict != Verdict.Valid);
            if (first is not null)
                line.Append(CultureInfo.InvariantCulture, $"; {first.Checker}: {Truncate(first.Explanation, 240)}");
            line.Append("; replay: ").Append(Replay ?? $"seed {Seed.ToString(CultureInfo.InvariantCulture)}");
        }

        return line.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(this, IndentedOptions);

    public static RunReport FromJson(string json) =>
        JsonSerializer.Deserialize<RunReport>(json, HistoryJson.Options) ?? throw new JsonException("null run report");

    public Task WriteAsync(string path, CancellationToken cancellationToken) => File.WriteAllTextAsync(path, ToJson(), cancellationToken);

    private static readonly JsonSerializerOptions IndentedOptions = new(HistoryJson.Options) { WriteIndented = true };

    // Valid in lower case, anything else shouts: the eye should land on it.
    private static string Word(Verdict verdict) => verdict == Verdict.Valid ? "valid" : verdict.ToString().ToUpperInvariant();

    private static string Truncate(string text, int length)
    {
        var flat = text.ReplaceLineEndings(" ");
        return flat.Length <= length ? flat : flat[..length] + "…";
    }
}
