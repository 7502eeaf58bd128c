// Hash flooding: how much slower keys crafted to collide load than random keys of the same size.
//
// Keys: 32 bytes each. Crafted ones all hash alike under XXH3-64 with seed 0, the keyspace's old comparer: their first
// 8 bytes are XXH3's first secret word, which zeroes the first 16-byte block's product, so the second word is free
// (tests/RaftKv.StateMachine.Tests/KeyHashingTests.cs proves the collision). Random ones come from a seeded generator.
//
// Measured, each as the median of several rounds, crafted vs random:
//   store    KeyValueStore.Apply of SET batches (1,024 commands per entry, decoded from their MessagePack bytes as a
//            replica does), the whole keyspace path: dictionary, expiry and order indexes.
//   restore  KeyValueStore.RestoreSnapshot of the loaded store's snapshot (what a new or lagging replica does).
//   dict     Dictionary<byte[], int> inserts alone, under the old comparer (XXH3 seed 0, copied below) and under the
//            keyed one (SipHash-1-3, random seed).
//
// Usage: dotnet run -c Release --project bench/HashFlooding -- [keys] [rounds]
// With -p:UnseededStore=true it builds against a StateMachine from before keyed hashing (whose
// KeyValueStore takes no seed): bench/hash-flooding.sh does that to measure "before" and "after" in one run.
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using System.Security.Cryptography;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

var keyCount = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 40_000;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
#if UNSEEDED_STORE
const string Build = "before (unkeyed XXH3 keyspace)";
#else
const string Build = "after (keyed SipHash-1-3 keyspace, random seed per store)";
#endif

var crafted = Keys.Crafted(keyCount);
var random = Keys.Random(keyCount, seed: 42);
Console.WriteLine($"# Hash flooding: {keyCount:N0} keys of 32 bytes, median of {rounds} rounds — {Build}");
Console.WriteLine();
Console.WriteLine("| what | crafted ms | random ms | crafted / random |");
Console.WriteLine("|---|---:|---:|---:|");

Row("store: SET batches applied", rounds, keys => Measure.Load(keys), crafted, random);
Row("store: snapshot restored", rounds, keys => Measure.Restore(keys), crafted, random);
#if !UNSEEDED_STORE
Row("dictionary, old comparer (XXH3 seed 0)", rounds, keys => Measure.Dictionary(keys, new FixedSeedXxHash3Comparer()), crafted, random);
Row("dictionary, keyed comparer (SipHash-1-3)", rounds, keys => Measure.Dictionary(keys, ByteArrayComparer.Create(Measure.RandomSeed())), crafted, random);
#endif

static void Row(string what, int rounds, Func<byte[][], double> measure, byte[][] crafted, byte[][] random)
{
    // Interleaved, so drift on a shared machine hits both alike; one warm-up of each first.
    measure(crafted);
    measure(random);
    var craftedMs = new List<double>();
    var randomMs = new List<double>();
    for (var i = 0; i < rounds; i++)
    {
        craftedMs.Add(measure(crafted));
        randomMs.Add(measure(random));
    }

    var (c, r) = (Median(craftedMs), Median(randomMs));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {what} | {c:F1} | {r:F1} | {c / r:F2}× |"));
}

static double Median(List<double> values)
{
    values.Sort();
    return values[values.Count / 2];
}

internal static class Measure
{
    private const int CommandsPerEntry = 1_024;

    public static UInt128 RandomSeed() => BinaryPrimitives.ReadUInt128LittleEndian(RandomNumberGenerator.GetBytes(16));

    /// <summary>Milliseconds to apply SET of every key, in log entries of 1,024 commands decoded from their bytes.</summary>
    public static double Load(byte[][] keys)
    {
        var entries = Entries(keys);
        var store = NewStore();
        var watch = Stopwatch.StartNew();
        var index = 0L;
        foreach (var entry in entries)
            store.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(entry)), ++index);
        var elapsed = watch.Elapsed.TotalMilliseconds;
        Check(store, keys.Length);
        store.Scripting.Dispose();
        return elapsed;
    }

    /// <summary>Milliseconds to restore the snapshot of a store holding every key.</summary>
    public static double Restore(byte[][] keys)
    {
        var source = NewStore();
        var index = 0L;
        foreach (var entry in Entries(keys))
            source.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(entry)), ++index);
        var snapshot = new ArrayBufferWriter<byte>();
        source.WriteSnapshot(snapshot);
        source.Scripting.Dispose();

        var store = NewStore();
        var watch = Stopwatch.StartNew();
        store.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot.WrittenMemory));
        var elapsed = watch.Elapsed.TotalMilliseconds;
        Check(store, keys.Length);
        store.Scripting.Dispose();
        return elapsed;
    }

    /// <summary>Milliseconds to insert every key into a dictionary with <paramref name="comparer"/>.</summary>
    public static double Dictionary(byte[][] keys, IEqualityComparer<byte[]> comparer)
    {
        var dictionary = new Dictionary<byte[], int>(comparer);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < keys.Length; i++)
            dictionary[keys[i]] = i;
        var elapsed = watch.Elapsed.TotalMilliseconds;
        if (dictionary.Count != keys.Length)
            throw new InvalidOperationException("keys were lost");
        return elapsed;
    }

#if UNSEEDED_STORE
    private static KeyValueStore NewStore() => new();
#else
    private static KeyValueStore NewStore() => new(keyHashSeed: RandomSeed());
#endif

    private static List<byte[]> Entries(byte[][] keys)
    {
        var entries = new List<byte[]>();
        foreach (var chunk in keys.Chunk(CommandsPerEntry))
        {
            var buffer = new ArrayBufferWriter<byte>();
            KeyValueStore.WriteBatch(buffer, new CommandBatch
            {
                Timestamp = 1_700_000_000_000,
                Commands = [.. chunk.Select(static key => new SetCommand { Key = key, Value = key })],
            });
            entries.Add(buffer.WrittenSpan.ToArray());
        }

        return entries;
    }

    private static void Check(KeyValueStore store, int count)
    {
        if (store.Keyspace.Count != count)
            throw new InvalidOperationException($"{store.Keyspace.Count} keys stored, {count} expected");
    }
}

internal static class Keys
{
    // XXH3's kSecret begins b8 fe 6c 39 23 a4 4b be.
    private const ulong SecretWord0 = 0xbe4ba423396cfeb8;

    public static byte[][] Crafted(int count)
    {
        var keys = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var key = new byte[32];
            BinaryPrimitives.WriteUInt64LittleEndian(key, SecretWord0);
            BinaryPrimitives.WriteUInt64LittleEndian(key.AsSpan(8), (ulong)i * 0x9E3779B97F4A7C15);
            "flood:flood:flo!"u8.CopyTo(key.AsSpan(16));
            keys[i] = key;
        }

        if (keys.Select(static k => XxHash3.HashToUInt64(k)).Distinct().Count() != 1)
            throw new InvalidOperationException("the crafted keys do not collide under XXH3 seed 0");
        return keys;
    }

    public static byte[][] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var keys = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            keys[i] = new byte[32];
            rng.NextBytes(keys[i]);
        }

        return keys;
    }
}

/// <summary>The keyspace's comparer before keyed hashing, verbatim in what matters: XXH3-64, seed 0, truncated.</summary>
internal sealed class FixedSeedXxHash3Comparer : IEqualityComparer<byte[]>
{
    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    public int GetHashCode(byte[] obj) => (int)XxHash3.HashToUInt64(obj);
}
