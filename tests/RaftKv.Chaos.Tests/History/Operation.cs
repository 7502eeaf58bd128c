using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace RaftKv.Chaos.Tests.History;

/// <summary>What a client asked for. The checkers pick the kinds their model understands and ignore the rest.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OpKind>))]
public enum OpKind
{
    /// <summary><c>GET key</c>: <see cref="Operation.Output"/> is the value read, <see langword="null"/> for nil
    /// (a counter read as nil counts as 0).</summary>
    Read,

    /// <summary><c>SET key value</c>: <see cref="Operation.Value"/> is the value written.</summary>
    Write,

    /// <summary>Compare-and-set by EVAL: set <see cref="Operation.Value"/> if the key holds <see cref="Operation.Expected"/>.
    /// Ok means it swapped; a mismatch (the script answered 0) is recorded as <see cref="Outcome.Fail"/>.</summary>
    Cas,

    /// <summary><c>INCR key</c> (or <c>INCRBY key n</c> with n in <see cref="Operation.Value"/>):
    /// <see cref="Operation.Output"/> is the new value.</summary>
    Incr,

    /// <summary>Lock acquisition (<c>SET key owner NX PX ttl</c>, <c>LOCK.ACQUIRE</c>, <c>RWLOCK.ACQUIRE</c>,
    /// <c>SEMAPHORE.ACQUIRE</c>, or the client's lock API): <see cref="Operation.Value"/> is the owner value (the token),
    /// <see cref="Operation.Ttl"/> the lease, <see cref="Operation.FencingToken"/> the token when the API gives one,
    /// <see cref="Operation.Mode"/> and <see cref="Operation.Permits"/> what a reader-writer lock or a semaphore was asked
    /// for. Ok means acquired; "taken by someone else" (or a WAIT that ended) is <see cref="Outcome.Fail"/>.</summary>
    Acquire,

    /// <summary>Lock release (the seed's compare-and-delete EVAL, or disposing the handle): <see cref="Operation.Value"/>
    /// is the owner value of the acquisition it ends.</summary>
    Release,

    /// <summary>One unique write of the set workload: <see cref="Operation.Value"/> is the element.</summary>
    Add,

    /// <summary>A read of the whole set: <see cref="Operation.Values"/> are the elements found.</summary>
    ReadAll,

    /// <summary><c>LOCK.INFO key</c>: <see cref="Operation.Values"/> are the tokens of the lock's waiters, first in line
    /// first, <see cref="Operation.Holders"/> those of its holders (both empty when nothing holds or waits). The FIFO
    /// checker reads it as evidence of who was queued ahead of whom.</summary>
    LockInfo,
}

/// <summary>How an acquisition of a reader-writer lock asked to hold.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LockMode>))]
public enum LockMode
{
    /// <summary>A writer: excludes every other holder.</summary>
    Write,

    /// <summary>A reader: shares with other readers, never with a writer.</summary>
    Read,
}

/// <summary>How an operation ended, in Jepsen's three-valued sense.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Outcome>))]
public enum Outcome
{
    /// <summary>It took effect, with the recorded output.</summary>
    Ok,

    /// <summary>It definitely did not take effect (a definite error, a CAS mismatch, a lock already taken).</summary>
    Fail,

    /// <summary>Unknown: a timeout, a dropped connection, a lost leader. It may take effect at any time after its
    /// invocation, or never.</summary>
    Info,
}

/// <summary>
/// One completed operation of a history. Times are nanoseconds on one monotonic clock (the recorder's), so two
/// operations are ordered in real time exactly when one's <see cref="CompleteTime"/> is before the other's
/// <see cref="InvokeTime"/>. An <see cref="Outcome.Info"/> operation's <see cref="CompleteTime"/> is when the client
/// gave up; checkers treat it as open-ended.
/// </summary>
public sealed record Operation
{
    /// <summary>Unique within a history, in invocation order when recorded by <see cref="HistoryRecorder"/>.</summary>
    public required long Id { get; init; }

    /// <summary>The client (logical process) that issued it; one process has at most one operation in flight.</summary>
    public required int Process { get; init; }

    public required OpKind Kind { get; init; }

    /// <summary>The key (register, counter, lock or set name). Linearizability is checked per key.</summary>
    public required string Key { get; init; }

    /// <summary>Value written, CAS new value, lock owner value, set element, or INCRBY amount.</summary>
    public string? Value { get; init; }

    /// <summary>The value a CAS compares against.</summary>
    public string? Expected { get; init; }

    /// <summary>The value returned: a read's value (<see langword="null"/> is nil), an INCR's new value.</summary>
    public string? Output { get; init; }

    /// <summary>The elements returned by a <see cref="OpKind.ReadAll"/>, the waiters' tokens a <see cref="OpKind.LockInfo"/> saw.</summary>
    public IReadOnlyList<string>? Values { get; init; }

    /// <summary>The holders' tokens a <see cref="OpKind.LockInfo"/> saw.</summary>
    public IReadOnlyList<string>? Holders { get; init; }

    /// <summary>The fencing token an acquisition returned.</summary>
    public long? FencingToken { get; init; }

    /// <summary>The lease an acquisition asked for; <see langword="null"/> for a lock without expiry.</summary>
    public TimeSpan? Ttl { get; init; }

    /// <summary>The mode a reader-writer lock's acquisition asked for; <see langword="null"/> for other locks.</summary>
    public LockMode? Mode { get; init; }

    /// <summary>A semaphore acquisition's max-count (at most this many holders at once); <see langword="null"/> for other locks.</summary>
    public int? Permits { get; init; }

    public required Outcome Outcome { get; init; }

    /// <summary>Nanoseconds, taken just before the request left the client.</summary>
    public required long InvokeTime { get; init; }

    /// <summary>Nanoseconds, taken just after the reply (or the failure) reached the client.</summary>
    public required long CompleteTime { get; init; }

    /// <summary>The error text of a failed or unknown operation, for people reading the history.</summary>
    public string? Error { get; init; }

    /// <summary>A compact line for explanations: <c>#12 p3 Cas reg1 'a'→'b' ok [1.200–1.450 ms]</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"#{Id} p{Process} {Kind} {Key}");
        switch (Kind)
        {
            case OpKind.Cas:
                text.Append(CultureInfo.InvariantCulture, $" {Show(Expected)}→{Show(Value)}");
                break;
            case OpKind.Read or OpKind.Incr:
                if (Kind == OpKind.Incr && Value is not null)
                    text.Append(CultureInfo.InvariantCulture, $" by {Value}");
                if (Outcome == Outcome.Ok)
                    text.Append(CultureInfo.InvariantCulture, $" → {Show(Output)}");
                break;
            case OpKind.ReadAll:
                if (Values is not null)
                    text.Append(CultureInfo.InvariantCulture, $" → {Values.Count} elements");
                break;
            case OpKind.LockInfo:
                if (Holders is not null)
                    text.Append(" holders [").AppendJoin(", ", Holders).Append(']');
                if (Values is not null)
                    text.Append(" waiters [").AppendJoin(", ", Values).Append(']');
                break;
            default:
                if (Value is not null)
                    text.Append(CultureInfo.InvariantCulture, $" {Show(Value)}");
                break;
        }

        if (Mode is { } mode)
            text.Append(' ').Append(mode.ToString().ToLowerInvariant());
        if (Permits is { } permits)
            text.Append(CultureInfo.InvariantCulture, $" of {permits}");
        if (Ttl is { } ttl)
            text.Append(CultureInfo.InvariantCulture, $" ttl {ttl.TotalMilliseconds} ms");
        if (FencingToken is { } token)
            text.Append(CultureInfo.InvariantCulture, $" token {token}");
        text.Append(' ').Append(Outcome.ToString().ToLowerInvariant());
        var end = Outcome == Outcome.Info ? "?" : Milliseconds(CompleteTime);
        text.Append(CultureInfo.InvariantCulture, $" [{Milliseconds(InvokeTime)}–{end} ms]");
        return text.ToString();
    }

    /// <summary>Nanoseconds as milliseconds with microsecond precision, the unit explanations use.</summary>
    public static string Milliseconds(long nanos) => (nanos / 1e6).ToString("0.000", CultureInfo.InvariantCulture);

    private static string Show(string? value) => value is null ? "nil" : "'" + value + "'";
}
