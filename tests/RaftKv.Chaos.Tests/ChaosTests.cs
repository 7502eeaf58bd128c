using System.Globalization;
using RaftKv.Chaos.Tests.Checkers;
using Xunit.Abstractions;

namespace RaftKv.Chaos.Tests;

/// <summary>
/// Jepsen-style runs against real node processes: workloads with many clients, a seeded nemesis (kill -9, pause,
/// partition, clock skew, kill-all), and checkers over the recorded history. The CI profile runs a few short runs;
/// <c>RAFTKV_CHAOS_PROFILE=soak</c> (with <c>RAFTKV_CHAOS_MINUTES</c>, default 20) runs long ones; <c>RAFTKV_CHAOS_SEED</c>
/// replays one seed; <c>RAFTKV_CHAOS_FAULTS</c> (e.g. <c>KillLeader,PartitionRandom</c>) picks the fault kinds. Histories
/// and reports go to <c>RAFTKV_CHAOS_OUT</c> (default <c>data/chaos</c>, git-ignored). CI's second run has TLS and a
/// password on (profile <c>ci-tls</c>), in place of a second plaintext one; <c>RAFTKV_CHAOS_TLS=1</c> puts every run
/// under TLS and a password (a replay of a <c>-tls</c> run needs it), <c>RAFTKV_CHAOS_TLS=0</c> none.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class ChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Histories_under_faults_are_linearizable_locks_are_safe_and_replicas_converge()
    {
        var soak = Environment.GetEnvironmentVariable("RAFTKV_CHAOS_PROFILE") == "soak";
        var profile = (soak ? ChaosProfile.Soak : ChaosProfile.Ci).WithFaultsFromEnvironment();
        var budget = soak
            ? TimeSpan.FromMinutes(double.Parse(Environment.GetEnvironmentVariable("RAFTKV_CHAOS_MINUTES") ?? "20", CultureInfo.InvariantCulture))
            : TimeSpan.FromSeconds(3 * profile.Duration.TotalSeconds);
        var fixedSeed = Environment.GetEnvironmentVariable("RAFTKV_CHAOS_SEED");
        var tls = Environment.GetEnvironmentVariable("RAFTKV_CHAOS_TLS");
        var outputDirectory = Environment.GetEnvironmentVariable("RAFTKV_CHAOS_OUT") ?? Path.Combine(LocalCluster.RepositoryRoot, "data", "chaos");

        var spent = TimeSpan.Zero;
        var reports = new List<History.RunReport>();
        do
        {
            var seed = fixedSeed is not null ? long.Parse(fixedSeed, CultureInfo.InvariantCulture) : Random.Shared.Next();
            var secure = tls == "1" || (tls is null && !soak && fixedSeed is null && reports.Count % 2 == 1);
            var report = await ChaosRun.ExecuteAsync(secure ? profile.WithSecurity() : profile, seed, outputDirectory, Log);
            reports.Add(report);
            spent += report.Duration;
            Log(report.Summary());
            Directory.CreateDirectory(outputDirectory);
            await File.AppendAllTextAsync(Path.Combine(outputDirectory, "summaries.log"), report.Summary() + "\n");
            Assert.True(report.Verdict == Verdict.Valid, report.Summary());
            // Valid but empty would pass a cluster no client could reach (a TLS or AUTH mistake): some must succeed.
            Assert.True(report.Operations.Ok > 0, "no operation succeeded: " + report.Summary());
        }
        // CI makes two runs (as its budget usually allowed before), the second one with TLS and a password.
        while (fixedSeed is null && (spent + profile.Duration < budget || (!soak && tls is null && reports.Count < 2)));

        Log($"chaos {profile.Name}: {reports.Count} runs, {reports.Sum(static r => r.Operations.Total)} operations, " +
            $"{reports.Sum(static r => r.Faults.Count)} faults, {spent.TotalMinutes:0.0} min, all valid; reports in {outputDirectory}");
    }

    private void Log(string line)
    {
        output.WriteLine(line);
        Console.WriteLine(line);
    }
}

/// <summary>Tests that start real node processes on the fixed ports run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessCollection
{
    public const string Name = "Node processes";
}
