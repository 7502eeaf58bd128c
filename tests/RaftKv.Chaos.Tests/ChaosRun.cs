using System.Diagnostics;
using System.Globalization;
using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;
using RaftKv.Chaos.Tests.Workloads;
using RaftKv.Client;

namespace RaftKv.Chaos.Tests;

/// <summary>
/// How long a run lasts and how hard it pushes. <paramref name="LockServiceClients"/> clients queue on each of the lock
/// service's queued mutex, reader-writer lock and semaphore (with one observer reading their waiters when any do).
/// </summary>
internal sealed record ChaosProfile(
    string Name, TimeSpan Duration, int RegisterClients, int CounterClients, int SetClients, int LockClients, int ClientLibraryLockers,
    int LockServiceClients, IReadOnlyList<FaultKind> Faults)
{
    /// <summary>
    /// RESP over TLS only, mutual TLS between the nodes and a password for the default user (<c>local-cluster.sh</c> with
    /// <c>RAFTKV_TLS=1</c> and <c>RAFTKV_REQUIREPASS</c>); every workload client connects with the CA and the client
    /// certificate and authenticates.
    /// </summary>
    public bool Secure { get; init; }

    /// <summary>This profile with TLS and a password on, named <c>NAME-tls</c>.</summary>
    public ChaosProfile WithSecurity() => this with { Name = Name + "-tls", Secure = true };

    /// <summary>The profile CI runs: short, every workload, every fault (killing all three nodes at once included).</summary>
    public static ChaosProfile Ci { get; } = new("ci", TimeSpan.FromSeconds(40), RegisterClients: 4, CounterClients: 2, SetClients: 2, LockClients: 4, ClientLibraryLockers: 2, LockServiceClients: 3, Enum.GetValues<FaultKind>());

    /// <summary>The soak profile (<c>RAFTKV_CHAOS_PROFILE=soak</c>): longer runs, more clients, every fault.</summary>
    public static ChaosProfile Soak { get; } = new("soak", TimeSpan.FromMinutes(5), RegisterClients: 6, CounterClients: 3, SetClients: 3, LockClients: 6, ClientLibraryLockers: 3, LockServiceClients: 4, Enum.GetValues<FaultKind>());

    /// <summary>This profile with the faults named in <c>RAFTKV_CHAOS_FAULTS</c> (comma-separated <see cref="FaultKind"/> names), if set.</summary>
    public ChaosProfile WithFaultsFromEnvironment()
        => Environment.GetEnvironmentVariable("RAFTKV_CHAOS_FAULTS") is { Length: > 0 } names
            ? this with { Faults = [.. names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(static n => Enum.Parse<FaultKind>(n, ignoreCase: true))] }
            : this;
}

/// <summary>
/// One chaos run: a fresh three-node cluster of real processes in network namespaces, the workloads running against
/// any node while the nemesis injects faults, then every fault healed, final reads, and every checker over the
/// history. Writes the history (JSON Lines) and the report (JSON) next to each other.
/// </summary>
internal static class ChaosRun
{
    /// <summary>The clock skew the nemesis may give a node, and lock users allow for.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMilliseconds(200);

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(3);

    public static async Task<RunReport> ExecuteAsync(ChaosProfile profile, long seed, string outputDirectory, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        var history = new HistoryRecorder();
        var rng = new Random((int)seed);
        var checks = new List<CheckResult>();
        await using (var cluster = await LocalCluster.StartAsync(isolatedNetworks: true, secure: profile.Secure))
        {
            await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(30));
            var workloads = new Workloads.Workloads(cluster, history, RequestTimeout);
            await using var client = await RaftKvConnection.ConnectAsync(cluster.ClientOptions());
            var nemesis = new Nemesis(cluster, history, new Random(rng.Next()), MaxClockSkew, profile.Faults);

            using (var stop = new CancellationTokenSource(profile.Duration))
            {
                var clients = new List<Task>();
                for (var i = 0; i < profile.RegisterClients; i++)
                    clients.Add(workloads.RegisterAsync(new Random(rng.Next()), stop.Token));
                for (var i = 0; i < profile.CounterClients; i++)
                    clients.Add(workloads.CounterAsync(new Random(rng.Next()), stop.Token));
                for (var i = 0; i < profile.SetClients; i++)
                    clients.Add(workloads.SetAsync(new Random(rng.Next()), stop.Token));
                for (var i = 0; i < profile.LockClients; i++)
                    clients.Add(workloads.LockAsync(new Random(rng.Next()), fenced: i % 2 == 0, stop.Token));
                for (var i = 0; i < profile.ClientLibraryLockers; i++)
                    clients.Add(workloads.ClientLockAsync(client, new Random(rng.Next()), stop.Token));
                foreach (var kind in Enum.GetValues<QueuedLockKind>())
                {
                    for (var i = 0; i < profile.LockServiceClients; i++)
                        clients.Add(workloads.QueuedLockAsync(kind, new Random(rng.Next()), stop.Token));
                }

                if (profile.LockServiceClients > 0)
                    clients.Add(workloads.LockObserverAsync(new Random(rng.Next()), stop.Token));

                await nemesis.RunAsync(stop.Token);
                await Task.WhenAll(clients);
            }

            log($"workload done after {clock.Elapsed.TotalSeconds:0.0} s; healing");
            await nemesis.HealAllAsync();
            await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(60));

            // Final reads after healing: the set read back whole, every register and the counter once more.
            var finalRng = new Random(rng.Next());
            for (var attempt = 0; attempt < 20 && !await workloads.ReadSetAsync(finalRng); attempt++)
                await Task.Delay(500);
            await workloads.FinalReadsAsync(finalRng);

            checks.Add(await ConvergenceAsync(cluster));
            if (checks[^1].Verdict != Verdict.Valid)
            {
                // The nodes' logs, write-ahead logs and snapshots are what explains a divergence: keep them.
                cluster.KeepData = true;
                log($"replicas differ: data kept in {cluster.DataPath}");
            }
        }

        var operations = history.Snapshot();
        checks.InsertRange(0, Check(operations));
        var report = RunReport.Create(seed, operations, history.Faults, checks, profile.Name, clock.Elapsed,
            replay: $"{(profile.Secure ? "RAFTKV_CHAOS_TLS=1 " : "")}RAFTKV_CHAOS_SEED={seed.ToString(CultureInfo.InvariantCulture)} ./run-tests.sh --filter Chaos");

        Directory.CreateDirectory(outputDirectory);
        var stem = Path.Combine(outputDirectory, $"chaos-{profile.Name}-{seed.ToString(CultureInfo.InvariantCulture)}");
        await HistoryJson.WriteAsync(stem + ".history.jsonl", operations, CancellationToken.None);
        await report.WriteAsync(stem + ".json", CancellationToken.None);
        return report;
    }

    private static IEnumerable<CheckResult> Check(IReadOnlyList<Operation> history)
    {
        var registers = history.Where(static o => o.Key.StartsWith(Workloads.Workloads.RegisterPrefix, StringComparison.Ordinal)).ToList();
        var counter = history.Where(static o => o.Key.StartsWith(Workloads.Workloads.CounterPrefix, StringComparison.Ordinal)).ToList();
        var options = new LinearizabilityOptions { TimeLimit = TimeSpan.FromSeconds(60) };
        yield return new LinearizabilityChecker<string?>(new RegisterModel(), options).Check(registers);
        yield return new LinearizabilityChecker<long>(new CounterModel(), options).Check(counter);
        yield return new CounterChecker().Check(counter);
        yield return new SetChecker().Check(history);
        var leases = new LockSafetyOptions { ClockSkewAllowance = MaxClockSkew };
        yield return new LockSafetyChecker(leases).Check(history);
        yield return new ReaderWriterChecker(leases).Check(history);
        yield return new SemaphoreChecker(leases).Check(history);
        yield return new LockFifoChecker().Check(history);
    }

    // After healing, every replica must reach the same applied index and digest; keep asking until they agree.
    private static async Task<CheckResult> ConvergenceAsync(LocalCluster cluster)
    {
        var checker = new ReplicaConvergenceChecker();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            CheckResult result;
            try
            {
                var states = new List<ReplicaState>();
                foreach (var node in LocalCluster.Nodes)
                {
                    var digest = await cluster.DigestAsync(node);
                    var colon = digest.IndexOf(':', StringComparison.Ordinal);
                    states.Add(new ReplicaState($"node{node}", long.Parse(digest[..colon], CultureInfo.InvariantCulture), digest[(colon + 1)..]));
                }

                result = checker.Check(states);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
            {
                result = CheckResult.Unknown(checker.Name, "a replica did not answer DEBUG DIGEST: " + e.Message);
            }

            if (result.Verdict == Verdict.Valid || deadline.Elapsed > TimeSpan.FromSeconds(60))
                return result;
            await Task.Delay(250);
        }
    }
}
