using System.Globalization;
using System.Text;
using RaftKv.Node.Tests.Cluster;

namespace RaftKv.Node.Tests.Differential;

/// <summary>
/// Seeded random command sequences over a handful of keys and four databases, pipelined to a real redis-server and to
/// RaftKv at the same time, replies compared one by one. Every time to live is unique and far from the others, so
/// GT/LT comparisons and TTL readings do not depend on how many milliseconds pass between the two servers. A failure
/// names the seed and the command's position: put the seed alone in <see cref="Seeds"/> to replay it.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RandomDifferentialTests(DifferentialFixture fixture) : IClassFixture<DifferentialFixture>
{
    private const int CommandsPerSeed = 600;
    private const int PipelineDepth = 25;

    public static TheoryData<int> Seeds => [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Random_sequences_get_the_same_replies(int seed)
    {
        await using var runner = await DifferentialRunner.ConnectAsync(fixture);
        await runner.FlushAllAsync();
        var commands = new Generator(seed, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).Generate(CommandsPerSeed);

        for (var start = 0; start < commands.Count; start += PipelineDepth)
        {
            var chunk = commands.Skip(start).Take(PipelineDepth).ToList();
            var offset = start;
            await runner.RunPipelinedAsync(chunk, i => $"seed {seed}, command {offset + i}");
        }

        Assert.True(runner.Mismatches.Count == 0, $"seed {seed}: {runner.Mismatches.Count} mismatches\n" + string.Join('\n', runner.Mismatches.Take(20)));
    }

    [Fact]
    public void The_generator_is_deterministic_for_a_seed_and_time()
    {
        static string Render(List<byte[][]> commands) => string.Join('\n', commands.Select(DifferentialRunner.Show));

        Assert.Equal(Render(new Generator(7, 1_700_000_000_000).Generate(300)), Render(new Generator(7, 1_700_000_000_000).Generate(300)));
        Assert.NotEqual(Render(new Generator(7, 1_700_000_000_000).Generate(300)), Render(new Generator(8, 1_700_000_000_000).Generate(300)));
    }

    private sealed class Generator(int seed, long nowMs)
    {
        private static readonly string[] Keys = ["k1", "k2", "k3", "n", "f", "bin\0key", "e"];

        private static readonly string[] Values =
        [
            "v", "", "hello world", "0", "1", "-1", "10", "007", "-0", "+1", " 1", "1 ", "3.14", "-2.5e3", "1e3", "0x10",
            "inf", "nan", "abc", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "\0\u00ff\r\n",
            "0.1", "1.5", "12345678901234567890",
        ];

        private static readonly string[] Integers =
            ["0", "1", "-1", "5", "-7", "100", "9223372036854775807", "-9223372036854775808", "1.5", "abc", "", "+3", "007"];

        private static readonly string[] Floats =
        [
            "0.1", "-0.1", "1", "10.5", "3.0e-2", "-5e3", "1e308", "5e-324", "0x1p-3", ".5", "5.", "+1", "-0", "1e-20",
            "inf", "nan", "abc", "", " 1", "1e4933", "0.000011444091796875", "123456789.123456789",
        ];

        private static readonly string[] Patterns = ["*", "k*", "k?", "[kn]*", "*e*", "bin*", "[^k]*", "\\k1", "nomatch"];

        private readonly Random rng = new(seed);
        private readonly long baseSeconds = nowMs / 1000;
        private int ttlCounter;

        public List<byte[][]> Generate(int count)
        {
            var commands = new List<byte[][]>(count);
            while (commands.Count < count)
                commands.Add([.. Next().Select(static a => Encoding.Latin1.GetBytes(a))]);
            return commands;
        }

        private string Key() => Keys[rng.Next(Keys.Length)];

        private string Value() => rng.Next(4) == 0 ? "v" + rng.Next(100).ToString(CultureInfo.InvariantCulture) : Values[rng.Next(Values.Length)];

        private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

        // Times to live from disjoint ranges, each used once: relative seconds, relative ms, absolute s, absolute ms;
        // plus times already past, zero and negatives, which are deterministic too.
        private string Seconds() => N(1000 + (7L * ++ttlCounter));

        private string Millis() => N(100_000_000 + (7001L * ++ttlCounter));

        private string AtSeconds() => rng.Next(8) == 0 ? N(rng.Next(2) == 0 ? 1 : baseSeconds - 1000) : N(baseSeconds + 1_000_000 + (13L * ++ttlCounter));

        private string AtMillis() => rng.Next(8) == 0 ? "1" : N(((baseSeconds + 2_000_000) * 1000) + (13_001L * ++ttlCounter));

        private string[] ExpiryOption() => rng.Next(7) switch
        {
            0 => ["EX", Seconds()],
            1 => ["PX", Millis()],
            2 => ["EXAT", AtSeconds()],
            3 => ["PXAT", AtMillis()],
            4 => ["EX", rng.Next(2) == 0 ? "0" : "-3"],
            5 => ["PX", "abc"],
            _ => [],
        };

        private string[] Next() => rng.Next(40) switch
        {
            0 or 1 or 2 => ["SET", Key(), Value(), .. SetOptions()],
            3 or 4 => ["GET", Key()],
            5 => ["GETDEL", Key()],
            6 => ["GETEX", Key(), .. rng.Next(3) == 0 ? ["PERSIST"] : ExpiryOption()],
            7 => ["GETSET", Key(), Value()],
            8 => ["MGET", Key(), Key(), Key()],
            9 => [rng.Next(2) == 0 ? "MSET" : "MSETNX", Key(), Value(), .. rng.Next(2) == 0 ? new[] { Key(), Value() } : []],
            10 => ["SETNX", Key(), Value()],
            11 => [rng.Next(2) == 0 ? "SETEX" : "PSETEX", Key(), rng.Next(6) == 0 ? "0" : rng.Next(2) == 0 ? Seconds() : Millis(), Value()],
            12 or 13 => ["APPEND", Key(), Value()],
            14 => ["STRLEN", Key()],
            15 => ["GETRANGE", Key(), N(rng.Next(-12, 12)), N(rng.Next(-12, 12))],
            16 => ["SETRANGE", Key(), rng.Next(10) == 0 ? "-1" : N(rng.Next(0, 20)), Value()],
            17 or 18 => [rng.Next(2) == 0 ? "INCR" : "DECR", Key()],
            19 => [rng.Next(2) == 0 ? "INCRBY" : "DECRBY", Key(), Integers[rng.Next(Integers.Length)]],
            20 or 21 => ["INCRBYFLOAT", Key(), Floats[rng.Next(Floats.Length)]],
            22 => [rng.Next(2) == 0 ? "DEL" : "UNLINK", Key(), .. rng.Next(2) == 0 ? new[] { Key() } : []],
            23 => ["EXISTS", Key(), Key()],
            24 => ["TYPE", Key()],
            25 or 26 => Expire(),
            27 or 28 => [new[] { "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME" }[rng.Next(4)], Key()],
            29 => ["PERSIST", Key()],
            30 => [rng.Next(2) == 0 ? "RENAME" : "RENAMENX", Key(), Key()],
            31 => ["COPY", Key(), Key(), .. rng.Next(2) == 0 ? new[] { "DB", N(rng.Next(4)) } : [], .. rng.Next(2) == 0 ? new[] { "REPLACE" } : []],
            32 => ["KEYS", Patterns[rng.Next(Patterns.Length)]],
            33 => ["DBSIZE"],
            34 => ["RANDOMKEY"],
            35 => ["SELECT", N(rng.Next(4))],
            36 => ["SWAPDB", N(rng.Next(4)), N(rng.Next(4))],
            37 => rng.Next(10) == 0 ? ["FLUSHALL"] : rng.Next(5) == 0 ? ["FLUSHDB"] : ["GET", Key()],
            _ => ["SET", Key(), Value()],
        };

        private string[] SetOptions()
        {
            var options = new List<string>();
            if (rng.Next(3) == 0)
                options.Add(rng.Next(2) == 0 ? "NX" : "XX");
            if (rng.Next(4) == 0)
                options.Add("GET");
            options.AddRange(rng.Next(5) == 0 ? ["KEEPTTL"] : ExpiryOption());
            return [.. options.OrderBy(_ => rng.Next())];
        }

        private string[] Expire()
        {
            var (name, time) = rng.Next(4) switch
            {
                0 => ("EXPIRE", rng.Next(8) == 0 ? "-1" : Seconds()),
                1 => ("PEXPIRE", Millis()),
                2 => ("EXPIREAT", AtSeconds()),
                _ => ("PEXPIREAT", AtMillis()),
            };
            string[] conditions = rng.Next(3) switch
            {
                0 => [],
                1 => [new[] { "NX", "XX", "GT", "LT" }[rng.Next(4)]],
                _ => [new[] { "NX", "XX", "GT", "LT" }[rng.Next(4)], new[] { "NX", "XX", "GT", "LT" }[rng.Next(4)]],
            };
            return [name, Key(), time, .. conditions];
        }
    }
}
