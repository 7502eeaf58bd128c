using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace RaftKv.Testing;

/// <summary>
/// Which seeds a fuzzer runs, and for how long. By default (CI) a fixed list of seeds, stopped early by a time cap so a
/// slow machine cannot stall the suite; <c>RAFTKV_FUZZ_SECONDS=600</c> runs fresh random seeds for that long;
/// <c>RAFTKV_FUZZ_SEED=n</c> replays the run of seed <c>n</c> alone, with no cap. Every failure names its seed.
/// </summary>
/// <remarks>
/// The cap bounds a run's length; it is never an assertion: a run that stops at the cap passes. Shared by the fuzzers
/// of RaftKv.Node.Tests (through this project) and RaftKv.StateMachine.Tests (which compiles this file in, so as not
/// to depend on the node).
/// </remarks>
public sealed class FuzzBudget
{
    public const string SeedVariable = "RAFTKV_FUZZ_SEED";
    public const string SecondsVariable = "RAFTKV_FUZZ_SECONDS";

    private readonly Stopwatch clock = Stopwatch.StartNew();

    private FuzzBudget(string mode, int firstSeed, int? runs, TimeSpan cap)
    {
        Mode = mode;
        FirstSeed = firstSeed;
        Runs = runs;
        Cap = cap;
    }

    /// <summary>ci, long or replay.</summary>
    public string Mode { get; }

    public int FirstSeed { get; }

    /// <summary>How many seeds at most; null for as many as the cap allows.</summary>
    public int? Runs { get; }

    public TimeSpan Cap { get; }

    /// <summary>True when the cap ended the seeds before <see cref="Runs"/> did.</summary>
    public bool StoppedByCap { get; private set; }

    public TimeSpan Elapsed => clock.Elapsed;

    /// <summary>The budget the environment asks for: replay, a long run, or CI's <paramref name="ciRuns"/> seeds.</summary>
    public static FuzzBudget FromEnvironment(int ciFirstSeed, int ciRuns, TimeSpan ciCap)
    {
        if (Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } seed)
            return new FuzzBudget("replay", int.Parse(seed, CultureInfo.InvariantCulture), 1, TimeSpan.MaxValue);
        if (Environment.GetEnvironmentVariable(SecondsVariable) is { Length: > 0 } seconds)
        {
            return new FuzzBudget("long", RandomNumberGenerator.GetInt32(1, int.MaxValue / 2), null,
                TimeSpan.FromSeconds(double.Parse(seconds, CultureInfo.InvariantCulture)));
        }

        return new FuzzBudget("ci", ciFirstSeed, ciRuns, ciCap);
    }

    /// <summary>The seeds to run, consecutive from <see cref="FirstSeed"/>, while the budget lasts.</summary>
    public IEnumerable<int> Seeds()
    {
        for (var i = 0; Runs is not { } runs || i < runs; i++)
        {
            if (clock.Elapsed >= Cap)
            {
                StoppedByCap = true;
                yield break;
            }

            yield return FirstSeed + i;
        }
    }

    /// <summary>Where <see cref="Report"/> appends its line: set by <c>run-tests.sh</c>, which prints the file in its summary.</summary>
    public const string ReportVariable = "RAFTKV_FUZZ_OUT";

    /// <summary>Records one fuzzer's case counts for the suite's summary (a no-op outside <c>run-tests.sh</c>).</summary>
    public static void Report(string fuzzer, string line)
    {
        if (Environment.GetEnvironmentVariable(ReportVariable) is not { Length: > 0 } file)
            return;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        File.AppendAllText(file, $"{fuzzer}: {line}{Environment.NewLine}");
    }

    /// <summary>How to run seed <paramref name="seed"/> again, for a failure message.</summary>
    public static string Replay(int seed, string testClass)
        => $"replay: {SeedVariable}={seed} dotnet test -c Release --filter FullyQualifiedName~{testClass}";

    public string Describe(int seedsRun) => Mode switch
    {
        "replay" => $"replayed seed {FirstSeed}",
        _ => $"{Mode} mode: seeds {FirstSeed}..{FirstSeed + seedsRun - 1} ({seedsRun} runs{(StoppedByCap ? $", stopped by the {Cap.TotalSeconds:F0} s cap" : "")})",
    };
}

/// <summary>A fuzz invariant that did not hold; the message names the seed and the step.</summary>
public sealed class FuzzFailure(string message) : Exception(message);
