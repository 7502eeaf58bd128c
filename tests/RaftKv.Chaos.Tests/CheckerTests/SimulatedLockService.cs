using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>A fault planted in <see cref="SimulatedLockService"/>, for showing that the checkers catch it.</summary>
internal enum PlantedLockBug
{
    None,

    /// <summary>Grants the waiter at the tail of the queue, not the head.</summary>
    GrantsNewestWaiter,

    /// <summary>A semaphore admits one holder more than its max-count.</summary>
    OnePermitTooMany,

    /// <summary>A reader is granted while a writer holds.</summary>
    ReaderJoinsWriter,
}

/// <summary>
/// Clients against one simulated lock of the lock service (a mutex, a reader-writer lock or a semaphore) with the
/// contract's semantics: FIFO queue with WAIT deadlines, leases, fencing tokens given at the grant, releases that
/// also leave the queue, nil when the wait ends. Messages take 0–2 ms each way; some clients drop their connection while
/// waiting (unknown outcome; the server takes the waiter out), some grants' replies are lost (unknown outcome), some
/// holders overstay their lease (the server expires them and grants the next), and an observer reads the waiters every
/// few milliseconds as <c>LOCK.INFO</c> does. Deterministic per seed; times are milliseconds, recorded as nanoseconds.
/// </summary>
internal sealed class SimulatedLockService
{
    private const long Nanos = 1_000_000;
    private const long Ttl = 100;

    private sealed record Holder(string Token, LockMode Mode, long ExpireAt);

    private sealed record Waiter(string Token, LockMode Mode, long Deadline, Action<long?> Answer);

    private readonly Random random;
    private readonly int? permits;
    private readonly bool readerWriter;
    private readonly PlantedLockBug bug;
    private readonly List<Holder> holders = [];
    private readonly List<Waiter> waiters = [];
    private readonly PriorityQueue<Action, (long Time, long Seq)> events = new();
    private readonly List<Operation> history = [];
    private long now;
    private long seq;
    private long fencing = 100;

    private SimulatedLockService(Random random, int? permits, bool readerWriter, PlantedLockBug bug)
    {
        this.random = random;
        this.permits = permits;
        this.readerWriter = readerWriter;
        this.bug = bug;
    }

    public const string Key = "L";

    /// <summary>Runs <paramref name="clients"/> clients for <paramref name="durationMs"/> and returns the history, by id.</summary>
    public static IReadOnlyList<Operation> Run(int seed, int clients, int? permits = null, bool readerWriter = false,
        PlantedLockBug bug = PlantedLockBug.None, long durationMs = 3_000)
    {
        var simulation = new SimulatedLockService(new Random(seed), permits, readerWriter, bug);
        for (var client = 1; client <= clients; client++)
        {
            var process = client;
            simulation.At(simulation.random.Next(5), () => simulation.Acquire(process, 0));
        }

        simulation.At(1, simulation.Observe);
        while (simulation.events.TryDequeue(out var action, out var when) && when.Time <= durationMs)
        {
            simulation.now = when.Time;
            simulation.Expire();
            action();
        }

        return [.. simulation.history.Select(o => o.CompleteTime == long.MaxValue ? o with { CompleteTime = durationMs * Nanos } : o)];
    }

    private void At(long delay, Action action) => events.Enqueue(action, (now + delay, seq++));

    private long Delay() => random.Next(3);

    private void Acquire(int process, int n)
    {
        var token = string.Create(CultureInfo.InvariantCulture, $"p{process}-{n}");
        var mode = readerWriter && random.Next(3) == 0 ? LockMode.Write : readerWriter ? LockMode.Read : LockMode.Write;
        var wait = random.Next(4) == 0 ? 0 : random.Next(20, 80);
        var op = Invoke(new Operation
        {
            Id = 0, Process = process, Kind = OpKind.Acquire, Key = Key, Value = token, Ttl = TimeSpan.FromMilliseconds(Ttl),
            Mode = readerWriter ? mode : null, Permits = permits, Outcome = Outcome.Info, InvokeTime = now * Nanos, CompleteTime = long.MaxValue,
        });
        var done = false;
        void Finish(Outcome outcome, long? fence = null)
        {
            done = true;
            Complete(op, outcome, fence);
        }

        void Next() => At(random.Next(0, 10), () => Acquire(process, n + 1));
        var replyLost = random.Next(20) == 0;
        At(Delay(), () => Arrive(token, mode, wait, granted => At(Delay(), () =>
        {
            if (done)
                return;
            if (granted is { } fence && !replyLost)
            {
                Finish(Outcome.Ok, fence);
                // Most leave well within the lease; some overstay it and the server moves on without them.
                var hold = random.Next(10) == 0 ? Ttl + random.Next(10, 60) : random.Next(5, 40);
                At(hold, () => Release(process, token, Next));
            }
            else if (granted is null)
            {
                Finish(Outcome.Fail);
                Next();
            }
            else
            {
                Finish(Outcome.Info);
                Release(process, token, Next);
            }
        })));

        // Some clients give up while queued: their connection closes and the server takes them out of the queue.
        if (wait > 0 && random.Next(15) == 0)
        {
            At(random.Next(1, wait), () =>
            {
                if (done)
                    return;
                Finish(Outcome.Info);
                At(Delay(), () => waiters.RemoveAll(w => w.Token == token));
                Release(process, token, Next);
            });
        }
    }

    private void Release(int process, string token, Action next)
    {
        var op = Invoke(new Operation
        {
            Id = 0, Process = process, Kind = OpKind.Release, Key = Key, Value = token, Outcome = Outcome.Info,
            InvokeTime = now * Nanos, CompleteTime = long.MaxValue,
        });
        At(Delay(), () =>
        {
            var held = holders.RemoveAll(h => h.Token == token) + waiters.RemoveAll(w => w.Token == token);
            Grant();
            At(Delay(), () =>
            {
                Complete(op, held > 0 ? Outcome.Ok : Outcome.Fail);
                next();
            });
        });
    }

    // Operations are recorded at their invocation, as the recorder does; one still in flight at the end is unknown.
    private int Invoke(Operation operation)
    {
        history.Add(operation with { Id = history.Count });
        return history.Count - 1;
    }

    private void Complete(int index, Outcome outcome, long? fence = null)
        => history[index] = history[index] with { Outcome = outcome, FencingToken = fence, CompleteTime = now * Nanos };

    // The server side: an acquire arrives. FIFO: one that finds waiters queued never overtakes them.
    private void Arrive(string token, LockMode mode, int wait, Action<long?> answer)
    {
        if (waiters.Count == 0 && Compatible(mode))
        {
            answer(Give(token, mode));
        }
        else if (wait == 0)
        {
            answer(null);
        }
        else
        {
            waiters.Add(new Waiter(token, mode, now + wait, answer));
        }
    }

    private long Give(string token, LockMode mode)
    {
        holders.Add(new Holder(token, mode, now + Ttl));
        return ++fencing;
    }

    private bool Compatible(LockMode mode)
    {
        if (permits is { } max)
            return holders.Count < (bug == PlantedLockBug.OnePermitTooMany ? max + 1 : max);
        if (mode == LockMode.Read)
            return bug == PlantedLockBug.ReaderJoinsWriter || holders.All(static h => h.Mode == LockMode.Read);
        return holders.Count == 0;
    }

    private void Grant()
    {
        while (waiters.Count > 0)
        {
            var index = bug == PlantedLockBug.GrantsNewestWaiter ? waiters.Count - 1 : 0;
            var waiter = waiters[index];
            if (!Compatible(waiter.Mode))
                return;
            waiters.RemoveAt(index);
            waiter.Answer(Give(waiter.Token, waiter.Mode));
        }
    }

    // Leases and waits end in server time, before anything else happens at that instant.
    private void Expire()
    {
        var expired = holders.RemoveAll(h => h.ExpireAt <= now);
        foreach (var waiter in waiters.Where(w => w.Deadline <= now).ToList())
        {
            waiters.Remove(waiter);
            waiter.Answer(null);
        }

        if (expired > 0)
            Grant();
    }

    private void Observe()
    {
        Invoke(new Operation
        {
            Id = 0, Process = 0, Kind = OpKind.LockInfo, Key = Key, Values = [.. waiters.Select(static w => w.Token)],
            Holders = [.. holders.Where(h => h.ExpireAt > now).Select(static h => h.Token)],
            Outcome = Outcome.Ok, InvokeTime = (now - 1) * Nanos, CompleteTime = (now + 1) * Nanos,
        });
        At(3, Observe);
    }
}
