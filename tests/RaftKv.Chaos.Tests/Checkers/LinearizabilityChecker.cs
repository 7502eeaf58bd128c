using System.Diagnostics;
using System.Globalization;
using System.Text;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>
/// Caps on <see cref="LinearizabilityChecker{TState}"/>'s search, which is exponential in the worst case. Hitting any
/// of them makes the verdict <see cref="Verdict.Unknown"/>, never <see cref="Verdict.Valid"/>.
/// </summary>
public sealed record LinearizabilityOptions
{
    /// <summary>Wall-clock time for the whole history (all keys together).</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Search steps for the whole history; a deterministic cap, for tests.</summary>
    public long MaxSteps { get; init; } = long.MaxValue;

    /// <summary>Approximate memory of one key's memo (each entry holds a bitset over the key's operations): bounds
    /// what one pathological key can take.</summary>
    public long MaxMemoBytes { get; init; } = 512L << 20;
}

/// <summary>
/// Decides whether a history is linearizable with respect to a sequential <see cref="IModel{TState}"/>: whether every
/// operation can be given one instant between its invocation and its completion at which it takes effect atomically,
/// such that the model, applying them in that order, produces every recorded output.
/// <para>
/// The algorithm is Wing and Gong's, with Lowe's memoization, as Porcupine implements it. Operations are checked per
/// key (linearizability is compositional: a history is linearizable iff each key's sub-history is), keys with fewest
/// operations first. For one key, each operation becomes a call entry at its invocation time and a return entry at its
/// completion time, in one time-ordered doubly linked list (calls before returns at equal times, so operations that
/// touch count as concurrent). A depth-first search walks the list from the front: at a call entry, it tries to
/// linearize that operation next — if the model accepts it from the current state, the operation's two entries are
/// unlinked ("lifted"), the old state pushed on a stack, and the walk restarts from the front; at a return entry, the
/// operation it ends would have had to take effect already, so the search backtracks: pop the last linearized
/// operation, relink it, and try the call entry after it. The list empties exactly when a linearization exists; the
/// stack empties when none does.
/// </para>
/// <para>
/// Lowe's memo: two search paths that have linearized the same set of operations and reached equal model states have
/// the same future, so each (set, state) pair is explored once. The set is a bitset over the key's operations with an
/// incrementally maintained Zobrist hash; this turns the factorial search into one bounded by 2^concurrency × states.
/// </para>
/// <para>
/// Outcomes: a <see cref="Outcome.Fail"/> operation did not happen and is dropped. An <see cref="Outcome.Info"/>
/// operation may take effect at any time after its invocation or never: its return entry is placed at +∞ (after every
/// other entry), and when the walk reaches a return entry at +∞, every operation still unlinearized is such an
/// operation, so omitting them all completes a valid linearization. A read-only operation of unknown outcome tells
/// nothing and is dropped up front, and the model may drop more (<see cref="IModel{TState}.Simplify"/>: the register
/// drops unknown writes whose value nobody observed). Unknown-outcome operations are what make the search expensive:
/// each stays pending for the rest of the key's history. Workloads keep them cheap by writing unique values and by
/// moving to a fresh key every few hundred operations, as Jepsen's independent keys do.
/// </para>
/// <para>
/// Symmetry: unknown-outcome operations with equal inputs (kind, value, expected value) are interchangeable — the
/// model cannot tell them apart, since their outputs are unknown, and neither has a completion that constrains it. If
/// a linearization uses some of them, then one also exists that uses the earliest-invoked ones instead, in invocation
/// order (each takes the place of one invoked no earlier, so its real-time constraints still hold). So the search only
/// ever linearizes the earliest-invoked not yet linearized of such a group: k unknown <c>INCR</c>s cost k + 1 memo
/// states instead of 2^k. (<see cref="IModel{TState}.Step"/> must therefore judge an unknown-outcome operation by its
/// inputs alone.)
/// </para>
/// <para>
/// When no linearization exists, the explanation reports the deepest point the search reached: the longest
/// linearizable prefix, the model state after it, and the operation whose return could not be passed together with
/// the operations that were pending then — the place a person should look.
/// </para>
/// </summary>
public sealed class LinearizabilityChecker<TState>(IModel<TState> model, LinearizabilityOptions? options = null) : IHistoryChecker
{
    private const long Infinity = long.MaxValue;
    private const int PrefixShown = 3;
    private const int PendingShown = 8;

    // A memo entry besides its bitset: the array header, the hash set's slot and the state, roughly.
    private const int MemoOverheadBytes = 64;

    private readonly LinearizabilityOptions options = options ?? new LinearizabilityOptions();

    public string Name => "linearizable-" + model.Name;

    public CheckResult Check(IReadOnlyList<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var partitions = new Dictionary<string, List<Operation>>(StringComparer.Ordinal);
        var unknownOutcomes = 0;
        foreach (var operation in history)
        {
            if (!model.Handles(operation.Kind) || operation.Outcome == Outcome.Fail || (operation.Outcome == Outcome.Info && model.IsReadOnly(operation)))
                continue;
            if (operation.Outcome == Outcome.Ok && operation.CompleteTime < operation.InvokeTime)
                throw new ArgumentException($"{operation} completes before it is invoked.", nameof(history));
            if (!partitions.TryGetValue(operation.Key, out var operations))
                partitions.Add(operation.Key, operations = []);
            operations.Add(operation);
            if (operation.Outcome == Outcome.Info)
                unknownOutcomes++;
        }

        var budget = new Budget(options);
        var invalid = new List<(string Key, KeyVerdict Verdict)>();
        (string Key, KeyVerdict Verdict)? undecided = null;
        var linearizable = 0;
        foreach (var (key, operations) in partitions.OrderBy(static p => p.Value.Count).ThenBy(static p => p.Key, StringComparer.Ordinal))
        {
            var verdict = new Search(model, key, model.Simplify(operations), budget, options.MaxMemoBytes).Run();
            switch (verdict.Verdict)
            {
                case Verdict.Valid: linearizable++; break;
                case Verdict.Invalid: invalid.Add((key, verdict)); break;
                default: undecided ??= (key, verdict); break;
            }
        }

        var total = partitions.Sum(static p => p.Value.Count);
        var searched = string.Create(CultureInfo.InvariantCulture, $"{budget.Steps} search steps in {budget.Elapsed.TotalSeconds:0.00} s");
        if (invalid.Count > 0)
        {
            var (key, first) = invalid[0];
            var others = invalid.Count == 1 ? "" : $"{invalid.Count} of {partitions.Count} keys are not linearizable ({string.Join(", ", invalid.Select(static i => Quote(i.Key)))}). ";
            return CheckResult.Invalid(Name, others + first.Explanation, first.Offending);
        }

        if (undecided is { } open)
        {
            return CheckResult.Unknown(Name,
                $"could not decide key {Quote(open.Key)} ({partitions[open.Key].Count} ops): {open.Verdict.Explanation}; " +
                $"{linearizable} of {partitions.Count} keys linearizable; {searched}");
        }

        return CheckResult.Valid(Name, $"{Count(partitions.Count, "key")}, {Count(total, "operation")} ({unknownOutcomes} of unknown outcome) linearizable; {searched}");
    }

    private static string Quote(string key) => "'" + key + "'";

    private static string Count(int count, string noun) => string.Create(CultureInfo.InvariantCulture, $"{count} {noun}{(count == 1 ? "" : "s")}");

    private sealed record KeyVerdict(Verdict Verdict, string Explanation, IReadOnlyList<Operation> Offending);

    /// <summary>The caps, shared by every key of one check.</summary>
    private sealed class Budget(LinearizabilityOptions options)
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();

        public long Steps { get; private set; }

        public TimeSpan Elapsed => clock.Elapsed;

        public string? Exhausted { get; private set; }

        /// <summary>Counts one step; false once a cap is hit (the clock is read every 1024 steps).</summary>
        public bool Spend()
        {
            if (Exhausted is not null)
                return false;
            Steps++;
            if (Steps > options.MaxSteps)
                Exhausted = string.Create(CultureInfo.InvariantCulture, $"step limit of {options.MaxSteps} reached");
            else if ((Steps & 1023) == 0 && clock.Elapsed > options.TimeLimit)
                Exhausted = string.Create(CultureInfo.InvariantCulture, $"time limit of {options.TimeLimit.TotalSeconds:0.###} s reached");
            return Exhausted is null;
        }
    }

    /// <summary>An entry of the time-ordered list: an operation's call or its return.</summary>
    private sealed class Entry(Operation? operation, int index, long time, bool isCall)
    {
        public Operation? Operation { get; } = operation;

        public int Index { get; } = index;

        public long Time { get; } = time;

        public bool IsCall { get; } = isCall;

        public Entry? Match { get; set; }

        public Entry? Previous { get; set; }

        public Entry? Next { get; set; }
    }

    /// <summary>A memo key: the set of linearized operations and the model state they led to.</summary>
    private readonly record struct Memo(ulong[] Linearized, TState State, int Hash);

    private sealed class MemoComparer(IEqualityComparer<TState> states) : IEqualityComparer<Memo>
    {
        public bool Equals(Memo x, Memo y) =>
            x.Hash == y.Hash && states.Equals(x.State, y.State) && x.Linearized.AsSpan().SequenceEqual(y.Linearized);

        public int GetHashCode(Memo memo) => memo.Hash;
    }

    /// <summary>The search over one key's operations.</summary>
    private sealed class Search
    {
        private readonly IModel<TState> model;
        private readonly string key;
        private readonly IReadOnlyList<Operation> operations;
        private readonly Budget budget;
        private readonly long maxMemoEntries;
        private readonly long maxMemoBytes;
        private readonly IEqualityComparer<TState> states;
        private readonly Entry head = new(null, -1, long.MinValue, isCall: false);
        private readonly ulong[] linearized;
        private readonly ulong[] zobrist;
        private readonly HashSet<Memo> cache;
        private readonly List<(Entry Call, TState State)> calls = [];

        // Unknown-outcome operations with equal inputs ("twins"): their class (-1: none), rank by invocation within it,
        // and how many of each class are linearized — always the earliest-invoked ones.
        private readonly int[] twinClass;
        private readonly int[] twinRank;
        private readonly int[] twinsLinearized;
        private ulong linearizedHash;

        // The deepest point the search reached, for the explanation.
        private int deepest = -1;
        private Operation? stuck;
        private TState? stateAtDeepest;
        private List<Operation> prefixAtDeepest = [];
        private List<Operation> pendingAtDeepest = [];

        public Search(IModel<TState> model, string key, IReadOnlyList<Operation> operations, Budget budget, long maxMemoBytes)
        {
            this.model = model;
            this.key = key;
            this.operations = operations;
            this.budget = budget;
            this.maxMemoBytes = maxMemoBytes;
            states = model.Comparer;
            cache = new HashSet<Memo>(new MemoComparer(states));
            linearized = new ulong[(operations.Count + 63) / 64];
            maxMemoEntries = maxMemoBytes / (linearized.Length * sizeof(ulong) + MemoOverheadBytes);
            zobrist = new ulong[operations.Count];
            for (var i = 0; i < zobrist.Length; i++)
                zobrist[i] = SplitMix(i);
            (twinClass, twinRank, twinsLinearized) = FindTwins(operations);
            BuildList();
        }

        public KeyVerdict Run()
        {
            var state = model.Init();
            var entry = head.Next;
            while (head.Next is not null)
            {
                if (!budget.Spend())
                    return new KeyVerdict(Verdict.Unknown, budget.Exhausted!, []);

                if (entry!.IsCall)
                {
                    if (IsEligible(entry.Index) && model.Step(state, entry.Operation!, out var next) && Remember(entry.Index, next))
                    {
                        if (cache.Count > maxMemoEntries)
                            return new KeyVerdict(Verdict.Unknown, string.Create(CultureInfo.InvariantCulture, $"memo limit of {maxMemoBytes >> 20} MB ({maxMemoEntries} entries) reached"), []);
                        calls.Add((entry, state));
                        state = next;
                        Lift(entry);
                        if (twinClass[entry.Index] >= 0)
                            twinsLinearized[twinClass[entry.Index]]++;
                        entry = head.Next;
                    }
                    else
                    {
                        entry = entry.Next;
                    }
                }
                else
                {
                    // Only unknown-outcome operations are left unlinearized: let them never take effect.
                    if (entry.Time == Infinity)
                        return new KeyVerdict(Verdict.Valid, "", []);

                    NoteDeadEnd(entry, state);
                    if (calls.Count == 0)
                        return Explain();
                    var (call, previous) = calls[^1];
                    calls.RemoveAt(calls.Count - 1);
                    state = previous;
                    Toggle(call.Index);
                    Unlift(call);
                    if (twinClass[call.Index] >= 0)
                        twinsLinearized[twinClass[call.Index]]--;
                    entry = call.Next;
                }
            }

            return new KeyVerdict(Verdict.Valid, "", []);
        }

        /// <summary>An unknown-outcome operation may be linearized only when it is the earliest-invoked of its twins
        /// not yet linearized (see the class documentation); any other operation always may.</summary>
        private bool IsEligible(int index) => twinClass[index] < 0 || twinRank[index] == twinsLinearized[twinClass[index]];

        private static (int[] Class, int[] Rank, int[] Linearized) FindTwins(IReadOnlyList<Operation> operations)
        {
            var classOf = new int[operations.Count];
            var rank = new int[operations.Count];
            Array.Fill(classOf, -1);
            var classes = new Dictionary<(OpKind, string?, string?), List<int>>();
            for (var i = 0; i < operations.Count; i++)
            {
                var operation = operations[i];
                if (operation.Outcome != Outcome.Info)
                    continue;
                var inputs = (operation.Kind, operation.Value, operation.Expected);
                if (!classes.TryGetValue(inputs, out var members))
                    classes.Add(inputs, members = []);
                members.Add(i);
            }

            var count = 0;
            foreach (var members in classes.Values.Where(static m => m.Count > 1))
            {
                // The same order as the list's call entries: by invocation time, then index.
                members.Sort((a, b) => operations[a].InvokeTime != operations[b].InvokeTime
                    ? operations[a].InvokeTime.CompareTo(operations[b].InvokeTime)
                    : a.CompareTo(b));
                for (var r = 0; r < members.Count; r++)
                {
                    classOf[members[r]] = count;
                    rank[members[r]] = r;
                }

                count++;
            }

            return (classOf, rank, new int[count]);
        }

        private void BuildList()
        {
            var entries = new List<Entry>(operations.Count * 2);
            for (var i = 0; i < operations.Count; i++)
            {
                var operation = operations[i];
                var call = new Entry(operation, i, operation.InvokeTime, isCall: true);
                var end = new Entry(operation, i, operation.Outcome == Outcome.Info ? Infinity : operation.CompleteTime, isCall: false);
                call.Match = end;
                entries.Add(call);
                entries.Add(end);
            }

            entries.Sort(static (a, b) =>
                a.Time != b.Time ? a.Time.CompareTo(b.Time)
                : a.IsCall != b.IsCall ? (a.IsCall ? -1 : 1)
                : a.Index.CompareTo(b.Index));

            var last = head;
            foreach (var entry in entries)
            {
                last.Next = entry;
                entry.Previous = last;
                last = entry;
            }
        }

        /// <summary>Adds operation <paramref name="index"/> to the linearized set with state <paramref name="next"/>;
        /// false (and the set unchanged) if that pair was explored before.</summary>
        private bool Remember(int index, TState next)
        {
            Toggle(index);
            var hash = HashCode.Combine(linearizedHash, next is null ? 0 : states.GetHashCode(next));
            if (cache.Contains(new Memo(linearized, next, hash)))
            {
                Toggle(index);
                return false;
            }

            cache.Add(new Memo([.. linearized], next, hash));
            return true;
        }

        private void Toggle(int index)
        {
            linearized[index >> 6] ^= 1UL << (index & 63);
            linearizedHash ^= zobrist[index];
        }

        // Unlinks a call and its return; the entries keep their own links, so Unlift can put them back.
        private static void Lift(Entry call)
        {
            call.Previous!.Next = call.Next;
            call.Next!.Previous = call.Previous;
            var match = call.Match!;
            match.Previous!.Next = match.Next;
            if (match.Next is not null)
                match.Next.Previous = match.Previous;
        }

        private static void Unlift(Entry call)
        {
            var match = call.Match!;
            match.Previous!.Next = match;
            if (match.Next is not null)
                match.Next.Previous = match;
            call.Previous!.Next = call;
            call.Next!.Previous = call;
        }

        private void NoteDeadEnd(Entry returnEntry, TState state)
        {
            if (calls.Count <= deepest)
                return;
            deepest = calls.Count;
            stuck = returnEntry.Operation;
            stateAtDeepest = state;
            prefixAtDeepest = [.. calls.Skip(Math.Max(0, calls.Count - PrefixShown)).Select(static c => c.Call.Operation!)];
            pendingAtDeepest = [];
            for (var entry = head.Next; entry is not null && entry != returnEntry; entry = entry.Next)
            {
                if (entry.IsCall)
                    pendingAtDeepest.Add(entry.Operation!);
            }
        }

        private KeyVerdict Explain()
        {
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"key {Quote(key)} ({operations.Count} ops) is not linearizable: ");
            if (deepest == 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"from the initial state {model.Describe(model.Init())}");
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"the longest linearizable prefix has {deepest} ops, ending with ");
                text.AppendJoin("; ", prefixAtDeepest);
                text.Append(CultureInfo.InvariantCulture, $", and leaves {model.Describe(stateAtDeepest!)}");
            }

            var others = pendingAtDeepest.Where(p => p != stuck).ToList();
            var pending = others.Take(PendingShown - 1).Prepend(stuck!).ToList();
            if (others.Count == 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"; then {stuck} cannot take effect");
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"; then {stuck} returned, but neither it nor any of the {others.Count} other ops pending then can take effect next: ");
                text.AppendJoin("; ", pending.Skip(1));
                if (others.Count > pending.Count - 1)
                    text.Append(CultureInfo.InvariantCulture, $"; and {others.Count - (pending.Count - 1)} more");
            }

            return new KeyVerdict(Verdict.Invalid, text.ToString(), [.. prefixAtDeepest, .. pending]);
        }

        // SplitMix64 of the index: a fixed random bit pattern per operation for the Zobrist hash of the set.
        private static ulong SplitMix(int index)
        {
            var z = (ulong)index * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
