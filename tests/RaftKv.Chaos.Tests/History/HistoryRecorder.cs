namespace RaftKv.Chaos.Tests.History;

/// <summary>
/// Records the history of a chaos run: many workload tasks call <see cref="Invoke"/> just before sending a request and
/// complete the returned <see cref="PendingOperation"/> just after the reply (or the failure) arrives; the nemesis
/// calls <see cref="RecordFault"/>. Every time comes from one monotonic clock (<see cref="TimeProvider.GetTimestamp"/>,
/// a <see cref="System.Diagnostics.Stopwatch"/> on the system provider), as nanoseconds since the recorder was made,
/// so real-time order between clients is exact. Thread-safe.
/// </summary>
public sealed class HistoryRecorder
{
    private readonly TimeProvider time;
    private readonly long start;
    private readonly Lock gate = new();
    private readonly Dictionary<long, PendingOperation> inFlight = [];
    private readonly List<Operation> completed = [];
    private readonly List<Fault> faults = [];
    private long nextId;

    public HistoryRecorder(TimeProvider? time = null)
    {
        this.time = time ?? TimeProvider.System;
        start = this.time.GetTimestamp();
    }

    /// <summary>Nanoseconds since the recorder was made (100 ns resolution: a <see cref="TimeSpan"/> tick).</summary>
    public long Now => time.GetElapsedTime(start).Ticks * 100;

    /// <summary>Operations in flight now (invoked, not completed).</summary>
    public int InFlight
    {
        get
        {
            lock (gate)
                return inFlight.Count;
        }
    }

    /// <summary>Marks the invocation of an operation; call it just before the request leaves the client.</summary>
    public PendingOperation Invoke(int process, OpKind kind, string key, string? value = null, string? expected = null, TimeSpan? ttl = null,
        LockMode? mode = null, int? permits = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (gate)
        {
            // Id and time are taken under one lock, so ids follow invocation order.
            var operation = new Operation
            {
                Id = nextId++,
                Process = process,
                Kind = kind,
                Key = key,
                Value = value,
                Expected = expected,
                Ttl = ttl,
                Mode = mode,
                Permits = permits,
                Outcome = Outcome.Info,
                InvokeTime = Now,
                CompleteTime = long.MaxValue,
            };
            var pending = new PendingOperation(this, operation);
            inFlight.Add(operation.Id, pending);
            return pending;
        }
    }

    /// <summary>Records a fault the nemesis injected (or healed) now, on the history's clock.</summary>
    public Fault RecordFault(string kind, string target)
    {
        lock (gate)
        {
            var fault = new Fault(Now, kind, target);
            faults.Add(fault);
            return fault;
        }
    }

    /// <summary>The faults recorded so far, in time order.</summary>
    public IReadOnlyList<Fault> Faults
    {
        get
        {
            lock (gate)
                return [.. faults];
        }
    }

    /// <summary>
    /// The history so far, ordered by id. Operations still in flight appear as <see cref="Outcome.Info"/> completed
    /// now: nobody saw their outcome, so they may have taken effect or not.
    /// </summary>
    public IReadOnlyList<Operation> Snapshot()
    {
        lock (gate)
        {
            var now = Now;
            var history = new List<Operation>(completed.Count + inFlight.Count);
            history.AddRange(completed);
            history.AddRange(inFlight.Values.Select(p => p.Invoked with { CompleteTime = now, Error = "in flight when the history was taken" }));
            history.Sort(static (a, b) => a.Id.CompareTo(b.Id));
            return history;
        }
    }

    internal Operation Complete(PendingOperation pending, Func<long, Operation> finish)
    {
        lock (gate)
        {
            if (!inFlight.Remove(pending.Id))
                throw new InvalidOperationException($"Operation #{pending.Id} was already completed.");
            var operation = finish(Now);
            completed.Add(operation);
            return operation;
        }
    }
}

/// <summary>
/// An operation that has been invoked and awaits its outcome. Complete it exactly once, with <see cref="Ok"/> when it
/// took effect, <see cref="Fail"/> when it definitely did not, and <see cref="Info"/> when nobody knows (timeout,
/// dropped connection, "no leader" after the request may have been proposed). When in doubt, it is Info: a wrong Fail
/// makes the checkers report false violations, a wrong Ok hides real ones.
/// </summary>
public sealed class PendingOperation
{
    private readonly HistoryRecorder recorder;

    internal PendingOperation(HistoryRecorder recorder, Operation invoked)
    {
        this.recorder = recorder;
        Invoked = invoked;
    }

    public long Id => Invoked.Id;

    /// <summary>The operation as invoked (outcome not yet known).</summary>
    public Operation Invoked { get; }

    /// <summary>It took effect: <paramref name="output"/> is a read's value or an INCR's result, <paramref name="values"/>
    /// a set read's elements (or the waiters a <c>LOCK.INFO</c> saw, with the <paramref name="holders"/>),
    /// <paramref name="fencingToken"/> an acquisition's token.</summary>
    public Operation Ok(string? output = null, long? fencingToken = null, IReadOnlyList<string>? values = null, IReadOnlyList<string>? holders = null) =>
        recorder.Complete(this, now => Invoked with
        {
            Outcome = Outcome.Ok,
            Output = output,
            FencingToken = fencingToken,
            Values = values,
            Holders = holders,
            CompleteTime = now,
        });

    /// <summary>It definitely did not take effect.</summary>
    public Operation Fail(string? error = null) =>
        recorder.Complete(this, now => Invoked with { Outcome = Outcome.Fail, Error = error, CompleteTime = now });

    /// <summary>Its outcome is unknown: it may take effect at any time from its invocation on, or never.</summary>
    public Operation Info(string? error = null) =>
        recorder.Complete(this, now => Invoked with { Outcome = Outcome.Info, Error = error, CompleteTime = now });
}
