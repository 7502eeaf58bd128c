using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>
/// Hand-made histories for the checker tests. Times are given in milliseconds (stored as nanoseconds, as the recorder
/// does), so a test reads like a timeline; ids follow the order operations are added.
/// </summary>
internal sealed class HistoryBuilder
{
    private const long Nanos = 1_000_000;

    private readonly List<Operation> operations = [];

    public IReadOnlyList<Operation> Operations => operations;

    public Operation Read(int process, string key, string? output, long from, long to, Outcome outcome = Outcome.Ok) =>
        Add(new Operation { Id = 0, Process = process, Kind = OpKind.Read, Key = key, Output = outcome == Outcome.Ok ? output : null, Outcome = outcome, InvokeTime = from * Nanos, CompleteTime = to * Nanos });

    public Operation Write(int process, string key, string value, long from, long to, Outcome outcome = Outcome.Ok) =>
        Add(new Operation { Id = 0, Process = process, Kind = OpKind.Write, Key = key, Value = value, Outcome = outcome, InvokeTime = from * Nanos, CompleteTime = to * Nanos });

    public Operation Cas(int process, string key, string expected, string value, long from, long to, Outcome outcome = Outcome.Ok) =>
        Add(new Operation { Id = 0, Process = process, Kind = OpKind.Cas, Key = key, Expected = expected, Value = value, Outcome = outcome, InvokeTime = from * Nanos, CompleteTime = to * Nanos });

    public Operation Incr(int process, string key, long? result, long from, long to, Outcome outcome = Outcome.Ok, long? by = null) =>
        Add(new Operation
        {
            Id = 0, Process = process, Kind = OpKind.Incr, Key = key, Value = by?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Output = outcome == Outcome.Ok ? result?.ToString(System.Globalization.CultureInfo.InvariantCulture) : null,
            Outcome = outcome, InvokeTime = from * Nanos, CompleteTime = to * Nanos,
        });

    public Operation ReadCounter(int process, string key, long? output, long from, long to) =>
        Read(process, key, output?.ToString(System.Globalization.CultureInfo.InvariantCulture), from, to);

    public Operation Acquire(int process, string key, string owner, long from, long to, Outcome outcome = Outcome.Ok, long? ttlMs = null, long? token = null,
        LockMode? mode = null, int? permits = null) =>
        Add(new Operation
        {
            Id = 0, Process = process, Kind = OpKind.Acquire, Key = key, Value = owner, Ttl = ttlMs is { } ttl ? TimeSpan.FromMilliseconds(ttl) : null,
            FencingToken = outcome == Outcome.Ok ? token : null, Outcome = outcome, InvokeTime = from * Nanos, CompleteTime = to * Nanos,
            Mode = mode, Permits = permits,
        });

    /// <summary>A <c>LOCK.INFO</c> read that saw <paramref name="waiters"/> (tokens, first in line first) and <paramref name="holders"/>.</summary>
    public Operation LockInfo(int process, string key, IReadOnlyList<string> waiters, long from, long to, Outcome outcome = Outcome.Ok,
        IReadOnlyList<string>? holders = null) =>
        Add(new Operation
        {
            Id = 0, Process = process, Kind = OpKind.LockInfo, Key = key, Values = outcome == Outcome.Ok ? waiters : null,
            Holders = outcome == Outcome.Ok ? holders ?? [] : null, Outcome = outcome,
            InvokeTime = from * Nanos, CompleteTime = to * Nanos,
        });

    public Operation Release(int process, string key, string owner, long from, long to, Outcome outcome = Outcome.Ok) =>
        Add(new Operation { Id = 0, Process = process, Kind = OpKind.Release, Key = key, Value = owner, Outcome = outcome, InvokeTime = from * Nanos, CompleteTime = to * Nanos });

    public Operation AddElement(int process, string key, string element, long from, long to, Outcome outcome = Outcome.Ok) =>
        Add(new Operation { Id = 0, Process = process, Kind = OpKind.Add, Key = key, Value = element, Outcome = outcome, InvokeTime = from * Nanos, CompleteTime = to * Nanos });

    public Operation ReadAll(int process, string key, IReadOnlyList<string> elements, long from, long to) =>
        Add(new Operation { Id = 0, Process = process, Kind = OpKind.ReadAll, Key = key, Values = elements, Outcome = Outcome.Ok, InvokeTime = from * Nanos, CompleteTime = to * Nanos });

    private Operation Add(Operation operation)
    {
        var numbered = operation with { Id = operations.Count };
        operations.Add(numbered);
        return numbered;
    }
}
