using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// A sequential specification for <see cref="LinearizabilityChecker{TState}"/>: the state of one key, and what each
/// operation does to it. States must be immutable values with equality (the search memoizes on them).
/// </summary>
public interface IModel<TState>
{
    /// <summary>Names the checker in reports (<c>linearizable-register</c>).</summary>
    string Name { get; }

    /// <summary>The operation kinds this model specifies; the checker ignores the others.</summary>
    bool Handles(OpKind kind);

    /// <summary>The state of a key nobody has written.</summary>
    TState Init();

    /// <summary>
    /// True when the operation never changes the state. Such an operation with an unknown outcome is dropped before
    /// the search: taking effect or not, it changes nothing and nobody saw its output.
    /// </summary>
    bool IsReadOnly(Operation operation);

    /// <summary>
    /// Applies <paramref name="operation"/> to <paramref name="state"/>. False when the operation cannot take effect in
    /// that state with the output it recorded. An <see cref="Outcome.Info"/> operation's output is unknown: judge it by
    /// its kind, <see cref="Operation.Value"/> and <see cref="Operation.Expected"/> alone (the checker treats unknown
    /// operations with equal inputs as interchangeable).
    /// </summary>
    bool Step(TState state, Operation operation, out TState next);

    /// <summary>
    /// The operations of one key that the search needs: may leave out operations of unknown outcome whose omission
    /// provably cannot change the verdict. Each such operation spared is a factor of two off the worst-case search.
    /// </summary>
    IReadOnlyList<Operation> Simplify(IReadOnlyList<Operation> operations) => operations;

    /// <summary>Equality of states, for the memo.</summary>
    IEqualityComparer<TState> Comparer => EqualityComparer<TState>.Default;

    /// <summary>A state as explanations show it.</summary>
    string Describe(TState state);
}

/// <summary>
/// A read/write register with compare-and-set: <c>GET</c> returns the value (nil while unwritten), <c>SET</c> replaces
/// it, CAS replaces it only if it equals the expected value. A CAS that did not match is a failed (dropped) operation.
/// <para>
/// <see cref="Simplify"/> drops a write or CAS of unknown outcome whose value nobody observed — no read returned it,
/// no CAS expected it. In any linearization, nothing can take effect between such a write and the next write (only a
/// read or CAS of its value could), so removing it leaves every other operation's effect and output unchanged; and
/// an unknown-outcome operation may be left out anyway. Workloads that write unique values get the most from this:
/// the unknown writes that never took effect, usually most of them, cost the search nothing.
/// </para>
/// </summary>
public sealed class RegisterModel(string? initial = null) : IModel<string?>
{
    public string Name => "register";

    public bool Handles(OpKind kind) => kind is OpKind.Read or OpKind.Write or OpKind.Cas;

    public string? Init() => initial;

    public bool IsReadOnly(Operation operation) => operation.Kind == OpKind.Read;

    public bool Step(string? state, Operation operation, out string? next)
    {
        next = state;
        switch (operation.Kind)
        {
            case OpKind.Read:
                return operation.Outcome == Outcome.Info || string.Equals(operation.Output, state, StringComparison.Ordinal);
            case OpKind.Write:
                next = operation.Value;
                return true;
            case OpKind.Cas:
                if (!string.Equals(operation.Expected, state, StringComparison.Ordinal))
                    return false;
                next = operation.Value;
                return true;
            default:
                throw new ArgumentException($"The register model does not specify {operation.Kind}.", nameof(operation));
        }
    }

    public IReadOnlyList<Operation> Simplify(IReadOnlyList<Operation> operations)
    {
        var observed = new HashSet<string>(StringComparer.Ordinal);
        var nilObserved = false;
        foreach (var operation in operations)
        {
            if (operation.Kind == OpKind.Read && operation.Outcome == Outcome.Ok)
                Observe(operation.Output);
            else if (operation.Kind == OpKind.Cas && operation.Outcome != Outcome.Fail)
                Observe(operation.Expected);
        }

        return [.. operations.Where(o =>
            o.Outcome != Outcome.Info || o.Kind == OpKind.Read || (o.Value is null ? nilObserved : observed.Contains(o.Value)))];

        void Observe(string? value)
        {
            if (value is null)
                nilObserved = true;
            else
                observed.Add(value);
        }
    }

    public string Describe(string? state) => state is null ? "nil" : "'" + state + "'";
}

/// <summary>
/// A counter: <c>INCR</c> (or <c>INCRBY n</c>) adds and returns the new value, a read returns the value (nil reads as
/// the initial value, 0). Each INCR's returned value pins where it took effect, so duplicated or skipped increments
/// show up even without reads.
/// </summary>
public sealed class CounterModel(long initial = 0) : IModel<long>
{
    public string Name => "counter";

    public bool Handles(OpKind kind) => kind is OpKind.Incr or OpKind.Read;

    public long Init() => initial;

    public bool IsReadOnly(Operation operation) => operation.Kind == OpKind.Read;

    public bool Step(long state, Operation operation, out long next)
    {
        next = state;
        switch (operation.Kind)
        {
            case OpKind.Read:
                return operation.Outcome == Outcome.Info || (TryRead(operation.Output, initial, out var read) && read == state);
            case OpKind.Incr:
                if (!TryRead(operation.Value, 1, out var delta))
                    return false;
                next = state + delta;
                return operation.Outcome == Outcome.Info || operation.Output is null || (TryRead(operation.Output, initial, out var result) && result == next);
            default:
                throw new ArgumentException($"The counter model does not specify {operation.Kind}.", nameof(operation));
        }
    }

    public string Describe(long state) => state.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses a recorded integer; <see langword="null"/> (nil) stands for <paramref name="absent"/>.</summary>
    internal static bool TryRead(string? text, long absent, out long value)
    {
        if (text is null)
        {
            value = absent;
            return true;
        }

        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }
}
