using System.Diagnostics;
using System.Globalization;
using System.Text;
using Medallion.Threading;
using Medallion.Threading.Redis;
using RaftKv.Client;
using RaftKv.Client.Locks;
using StackExchange.Redis;

// Issue 17's lock benchmark, one run, three locks side by side:
//   raftkv-queued   RaftKv.Client's provider: waiters queue on the server (LOCK.ACQUIRE ... WAIT), granted by the
//                   apply of the release — no polling;
//   raftkv-polling  RaftKv.Client's lock in polling mode: LOCK.ACQUIRE, then random sleeps of 10–800 ms;
//   redis           DistributedLock.Redis's RedisDistributedLock on one redis-server (SET NX PX, busy-wait 10–800 ms).
// Hand-off latency: a holder releases while one waiter waits; the time from calling release to the waiter's acquire
// returning. Throughput: N clients loop acquire → release on one lock for a fixed time; grants per second.
// Usage: LockBench --raftkv host:port[,host:port...] --redis host:port [--handoffs 200] [--seconds 5] [--clients 1,10,100]
var arguments = Arguments.Parse(args);
var report = new StringBuilder();
var raftkv = await RaftKvConnection.ConnectAsync(new RaftKvClientOptions { Endpoints = { }, OperationTimeout = TimeSpan.FromSeconds(30) }.With(arguments.RaftKv));
var redis = await ConnectionMultiplexer.ConnectAsync(arguments.Redis + ",abortConnect=false,syncTimeout=30000,asyncTimeout=30000");
var expiry = TimeSpan.FromSeconds(30);
var queued = new RaftKvDistributedSynchronizationProvider(raftkv, new RaftKvLockOptions { Expiry = expiry });
var polling = new RaftKvDistributedSynchronizationProvider(raftkv, new RaftKvLockOptions { Expiry = expiry, Queued = false });
var redisProvider = new RedisDistributedSynchronizationProvider(redis.GetDatabase(), o => o.Expiry(expiry));
var systems = new (string Name, Func<string, IDistributedLock> Create)[]
{
    ("raftkv-queued", name => queued.CreateLock(name)),
    ("raftkv-polling", name => polling.CreateLock(name)),
    ("redis (DistributedLock.Redis)", name => redisProvider.CreateLock(name)),
};

var run = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
report.AppendLine(CultureInfo.InvariantCulture, $"## Hand-off latency (release → next holder's acquire returns), {arguments.Handoffs} hand-offs each");
report.AppendLine();
report.AppendLine("| lock | p50 ms | p99 ms | max ms | ratio p50 vs redis |");
report.AppendLine("|---|---|---|---|---|");
var handoffs = new List<(string Name, double P50, double P99, double Max)>();
foreach (var (name, create) in systems)
{
    var samples = await HandOffsAsync(create, $"bench:handoff:{run}:{handoffs.Count}", arguments.Handoffs);
    handoffs.Add((name, Percentile(samples, 0.50), Percentile(samples, 0.99), samples.Max()));
    Console.Error.WriteLine($"hand-off {name}: p50 {handoffs[^1].P50:F1} ms, p99 {handoffs[^1].P99:F1} ms");
}

foreach (var (name, p50, p99, max) in handoffs)
    report.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {p50:F1} | {p99:F1} | {max:F1} | {p50 / handoffs[^1].P50:F2} |");

report.AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"## Throughput: N clients contending for one lock, {arguments.Seconds} s each (grants per second)");
report.AppendLine();
report.AppendLine("Each cell: grants per second, then the fewest and most grants one client got (fairness: with a fair lock every");
report.AppendLine("client gets about the same share).");
report.AppendLine();
report.AppendLine("| clients | " + string.Join(" | ", systems.Select(static s => s.Name)) + " | queued / redis | queued / polling |");
report.AppendLine("|---|" + string.Concat(systems.Select(static _ => "---|")) + "---|---|");
foreach (var clients in arguments.Clients)
{
    var rates = new List<double>();
    var cells = new List<string>();
    foreach (var (name, create) in systems)
    {
        var (rate, fewest, most) = await ThroughputAsync(create, $"bench:throughput:{run}:{clients}:{rates.Count}", clients, TimeSpan.FromSeconds(arguments.Seconds));
        rates.Add(rate);
        cells.Add(string.Create(CultureInfo.InvariantCulture, $"{rate:F1} ({fewest}–{most})"));
        Console.Error.WriteLine($"throughput {name}, {clients} clients: {rate:F1}/s, per client {fewest}–{most}");
    }

    report.AppendLine(CultureInfo.InvariantCulture,
        $"| {clients} | {string.Join(" | ", cells)} | {rates[0] / rates[2]:F2} | {rates[0] / rates[1]:F2} |");
}

Console.WriteLine(report);
await raftkv.DisposeAsync();
await redis.DisposeAsync();

// One holder, one waiter that starts waiting, then the release; the waiter's acquire returning ends the sample.
static async Task<List<double>> HandOffsAsync(Func<string, IDistributedLock> create, string name, int count)
{
    var samples = new List<double>(count);
    var holderLock = create(name);
    var waiterLock = create(name);
    for (var i = 0; i < count; i++)
    {
        var holder = await holderLock.AcquireAsync(TimeSpan.FromSeconds(30));
        var acquired = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiter = Task.Run(async () =>
        {
            var handle = await waiterLock.AcquireAsync(TimeSpan.FromSeconds(60));
            acquired.SetResult(Stopwatch.GetTimestamp());
            return handle;
        });

        // Long enough for the waiter to be queued (or asleep in its busy-wait) before the release.
        await Task.Delay(100);
        var released = Stopwatch.GetTimestamp();
        await holder.DisposeAsync();
        var granted = await acquired.Task.WaitAsync(TimeSpan.FromSeconds(60));
        samples.Add(Stopwatch.GetElapsedTime(released, granted).TotalMilliseconds);
        await (await waiter).DisposeAsync();
    }

    return samples;
}

static async Task<(double Rate, long Fewest, long Most)> ThroughputAsync(Func<string, IDistributedLock> create, string name, int clients, TimeSpan duration)
{
    var stop = DateTime.UtcNow + duration;
    var grants = new long[clients];
    var started = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
    {
        var lockObject = create(name);
        while (DateTime.UtcNow < stop)
        {
            await using var handle = await lockObject.TryAcquireAsync(stop - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero);
            if (handle is not null)
                grants[client]++;
        }
    })));
    return (grants.Sum() / Stopwatch.GetElapsedTime(started).TotalSeconds, grants.Min(), grants.Max());
}

static double Percentile(List<double> samples, double q)
{
    var sorted = samples.Order().ToArray();
    return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}

internal sealed record Arguments(string[] RaftKv, string Redis, int Handoffs, int Seconds, int[] Clients)
{
    public static Arguments Parse(string[] args)
    {
        string Value(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        return new Arguments(
            Value("--raftkv", "127.0.0.1:6381,127.0.0.1:6382,127.0.0.1:6383").Split(','),
            Value("--redis", "127.0.0.1:6400"),
            int.Parse(Value("--handoffs", "200"), CultureInfo.InvariantCulture),
            int.Parse(Value("--seconds", "5"), CultureInfo.InvariantCulture),
            [.. Value("--clients", "1,10,100").Split(',').Select(static c => int.Parse(c, CultureInfo.InvariantCulture))]);
    }
}

internal static class OptionsExtensions
{
    public static RaftKvClientOptions With(this RaftKvClientOptions options, IEnumerable<string> endpoints)
    {
        foreach (var endpoint in endpoints)
            options.Endpoints.Add(endpoint);
        return options;
    }
}
