using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>An object simulated clients act on atomically: it makes operations and applies them one at a time.</summary>
internal interface ISimulatedObject
{
    Operation Invoke(long id, int process, long time);

    /// <summary>Applies the operation at its linearization point; returns it completed Ok, or Fail when it had no
    /// effect (a CAS mismatch).</summary>
    Operation Apply(Operation operation);
}

/// <summary>Registers with reads, writes and compare-and-sets; written values are unique when
/// <paramref name="uniqueValues"/>, else drawn from four, so that equal states meet often.</summary>
internal sealed class SimulatedRegister(Random random, int keys = 2, bool uniqueValues = false) : ISimulatedObject
{
    private static readonly string[] Values = ["a", "b", "c", "d"];
    private readonly Dictionary<string, string?> registers = [];
    private readonly List<string> written = [];

    public Operation Invoke(long id, int process, long time)
    {
        var key = "r" + random.Next(keys).ToString(CultureInfo.InvariantCulture);
        var roll = random.Next(100);
        var kind = roll < 40 ? OpKind.Read : roll < 75 ? OpKind.Write : OpKind.Cas;
        return new Operation
        {
            Id = id, Process = process, Kind = kind, Key = key, Outcome = Outcome.Info, InvokeTime = time, CompleteTime = long.MaxValue,
            Value = kind == OpKind.Read ? null : NewValue(id),
            Expected = kind != OpKind.Cas ? null
                : uniqueValues ? registers.GetValueOrDefault(key) ?? (written.Count == 0 ? "none" : written[random.Next(written.Count)])
                : Values[random.Next(Values.Length)],
        };
    }

    public Operation Apply(Operation operation)
    {
        var current = registers.GetValueOrDefault(operation.Key);
        switch (operation.Kind)
        {
            case OpKind.Read:
                return operation with { Outcome = Outcome.Ok, Output = current };
            case OpKind.Write:
                registers[operation.Key] = operation.Value;
                return operation with { Outcome = Outcome.Ok };
            default:
                if (current != operation.Expected)
                    return operation with { Outcome = Outcome.Fail, Error = "mismatch" };
                registers[operation.Key] = operation.Value;
                return operation with { Outcome = Outcome.Ok };
        }
    }

    private string NewValue(long id)
    {
        if (!uniqueValues)
            return Values[random.Next(Values.Length)];
        var value = "v" + id.ToString(CultureInfo.InvariantCulture);
        written.Add(value);
        return value;
    }
}

/// <summary>One counter, incremented and read.</summary>
internal sealed class SimulatedCounter(Random random) : ISimulatedObject
{
    private long value;

    public Operation Invoke(long id, int process, long time) => new()
    {
        Id = id, Process = process, Kind = random.Next(100) < 60 ? OpKind.Incr : OpKind.Read, Key = "c",
        Outcome = Outcome.Info, InvokeTime = time, CompleteTime = long.MaxValue,
    };

    public Operation Apply(Operation operation)
    {
        if (operation.Kind == OpKind.Incr)
            value++;
        return operation with { Outcome = Outcome.Ok, Output = value.ToString(CultureInfo.InvariantCulture) };
    }
}

/// <summary>
/// Simulated clients against one atomic object, for property tests of the checkers. Clients take turns at random: an
/// idle client invokes, an invoked one reaches its linearization point (applies to the object), an applied one
/// completes. Along the way some give up before applying (unknown outcome; half of those still apply later, after the
/// client stopped waiting, the rest never do), some lose the reply after applying (unknown outcome), and some fail
/// definitely before applying. Deterministic per seed.
/// </summary>
internal static class SimulatedClients
{
    private enum Phase { Idle, Invoked, Applied }

    public static IReadOnlyList<Operation> Run(int seed, ISimulatedObject target, int clients = 5, int operations = 150, int unknownPercent = 8)
    {
        var random = new Random(seed);
        var phase = new Phase[clients];
        var current = new Operation?[clients];
        var limbo = new List<Operation>();
        var history = new List<Operation>();
        long time = 0, invoked = 0;
        while (invoked < operations || phase.Any(static p => p != Phase.Idle))
        {
            time += 1 + random.Next(3);
            if (limbo.Count > 0 && random.Next(8) == 0)
            {
                var late = limbo[random.Next(limbo.Count)];
                limbo.Remove(late);
                target.Apply(late);
            }

            var client = random.Next(clients);
            var operation = current[client];
            switch (phase[client])
            {
                case Phase.Idle when invoked < operations:
                    current[client] = target.Invoke(invoked++, client, time);
                    phase[client] = Phase.Invoked;
                    break;
                case Phase.Invoked:
                    var roll = random.Next(100);
                    if (roll < unknownPercent)
                    {
                        history.Add(operation! with { Outcome = Outcome.Info, CompleteTime = time });
                        if (roll % 2 == 0)
                            limbo.Add(operation!);
                        phase[client] = Phase.Idle;
                    }
                    else if (roll < unknownPercent + 3)
                    {
                        history.Add(operation! with { Outcome = Outcome.Fail, CompleteTime = time });
                        phase[client] = Phase.Idle;
                    }
                    else
                    {
                        current[client] = target.Apply(operation!);
                        phase[client] = Phase.Applied;
                    }

                    break;
                case Phase.Applied:
                    history.Add(random.Next(100) < unknownPercent / 2
                        ? operation! with { Outcome = Outcome.Info, Output = null, CompleteTime = time }
                        : operation! with { CompleteTime = time });
                    phase[client] = Phase.Idle;
                    break;
            }
        }

        history.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        return history;
    }
}
