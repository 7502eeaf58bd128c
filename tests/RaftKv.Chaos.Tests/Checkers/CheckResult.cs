using System.Text.Json.Serialization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>A checker's verdict. Only <see cref="Valid"/> passes: <see cref="Unknown"/> is not evidence of safety.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Verdict>))]
public enum Verdict
{
    /// <summary>The property holds on this history.</summary>
    Valid,

    /// <summary>The history violates the property; <see cref="CheckResult.Offending"/> shows where.</summary>
    Invalid,

    /// <summary>The checker could not decide (a time or search cap, missing data).</summary>
    Unknown,
}

/// <summary>
/// What one checker concluded: the verdict, a sentence or two a person can act on, and the few operations that show
/// the violation (empty unless <see cref="Verdict.Invalid"/>).
/// </summary>
public sealed record CheckResult(string Checker, Verdict Verdict, string Explanation)
{
    /// <summary>The operations that make the history invalid, as few as show the problem.</summary>
    public IReadOnlyList<Operation> Offending { get; init; } = [];

    public static CheckResult Valid(string checker, string explanation) => new(checker, Verdict.Valid, explanation);

    public static CheckResult Invalid(string checker, string explanation, IEnumerable<Operation> offending) =>
        new(checker, Verdict.Invalid, explanation) { Offending = [.. offending] };

    public static CheckResult Unknown(string checker, string reason) => new(checker, Verdict.Unknown, reason);

    /// <summary>Invalid beats Unknown beats Valid: the verdict of several results taken together.</summary>
    public static Verdict Worst(IEnumerable<Verdict> verdicts)
    {
        var worst = Verdict.Valid;
        foreach (var verdict in verdicts)
        {
            if (verdict == Verdict.Invalid)
                return Verdict.Invalid;
            if (verdict == Verdict.Unknown)
                worst = Verdict.Unknown;
        }

        return worst;
    }

    public override string ToString() => $"{Checker}: {Verdict} — {Explanation}";
}

/// <summary>
/// A checker over a whole history. Each checker uses the operation kinds its property is about and ignores the others,
/// so one history can go to every checker; give it only the keys of its workload when workloads share kinds
/// (the register and the counter both read).
/// </summary>
public interface IHistoryChecker
{
    /// <summary>A short stable name, used in reports (<c>linearizable-register</c>, <c>lock-safety</c>).</summary>
    string Name { get; }

    CheckResult Check(IReadOnlyList<Operation> history);
}
