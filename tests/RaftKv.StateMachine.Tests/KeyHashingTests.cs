using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.SnapshotBytes;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// The keyspace's hash tables are keyed (SipHash-1-3 under a seed the node draws per process), so keys crafted to
/// collide cost what random keys cost; and the seed is invisible: stores with different seeds given the same log give
/// the same replies, digests, snapshot bytes and key order. No timing here: the flooding is shown by its structure (how
/// many keys share a hash code, how long the dictionary's chains get); its speed is measured in bench/HashFlooding.
/// </summary>
public sealed class KeyHashingTests
{
    private const int FloodKeys = 40_000;

    // ---- SipHash itself ----

    // SipHash-2-4 of the messages 00, 00 01, ..., 00..3e (0 to 63 bytes) under the key 00 01 .. 0f, from the reference
    // implementation (https://github.com/veorq/SipHash, vectors.h). The 1-3 variant the comparer uses is the same
    // code with other round counts.
    private static readonly ulong[] SipHash24Vectors =
    [
        0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d, 0xcf2794e0277187b7, 0x18765564cd99a68d,
        0xcbc9466e58fee3ce, 0xab0200f58b01d137, 0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
        0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5, 0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794,
        0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd, 0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
        0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad, 0xde4daaaca71dc9a5, 0xa6a2506687956571,
        0xad87a3535c49ef28, 0x32d892fad841c342, 0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
        0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c, 0x0e3ea96b5304a7d0, 0xad0c42d6fc585992,
        0x187306c89bc215a9, 0xd4a60abcf3792b95, 0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
        0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a, 0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f,
        0x7fa8220ba3b2ecea, 0x245731c13ca42499, 0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
        0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
    ];

    [Fact]
    public void SipHash_2_4_gives_the_reference_vectors()
    {
        var message = Enumerable.Range(0, 64).Select(static i => (byte)i).ToArray();
        for (var length = 0; length < SipHash24Vectors.Length; length++)
        {
            var hash = ByteArrayComparer.SipHash(0x0706050403020100, 0x0f0e0d0c0b0a0908, message.AsSpan(0, length), 2, 4);
            Assert.True(hash == SipHash24Vectors[length], $"{length} bytes: {hash:x16}, expected {SipHash24Vectors[length]:x16}");
        }
    }

    [Fact]
    public void The_comparer_is_SipHash_1_3_under_its_seed_and_the_seed_changes_every_hash()
    {
        // SipHash-1-3 of "", "siphash" and "digest-sip_hash" under the all-zero key (the vectors of the Rust crate
        // digest-sip-hash, which prints the 64-bit result big-endian).
        Assert.Equal(0xd1fba762150c532cUL, ByteArrayComparer.SipHash(0, 0, [], 1, 3));
        Assert.Equal(0x8264ceeccb16bcbeUL, ByteArrayComparer.SipHash(0, 0, "siphash"u8, 1, 3));
        Assert.Equal(0xce31007e34130c0aUL, ByteArrayComparer.SipHash(0, 0, "digest-sip_hash"u8, 1, 3));

        var seed = new UInt128(0x0f0e0d0c0b0a0908, 0x0706050403020100);
        var comparer = ByteArrayComparer.Create(seed);
        var key = "some key"u8.ToArray();
        Assert.Equal((int)ByteArrayComparer.SipHash(0x0706050403020100, 0x0f0e0d0c0b0a0908, key, 1, 3), comparer.GetHashCode(key));
        Assert.Equal(comparer.GetHashCode(key), comparer.GetHashCode((ReadOnlySpan<byte>)key));
        Assert.Equal(comparer.GetHashCode(key), ByteArrayComparer.Create(seed).GetHashCode(key));

        var other = ByteArrayComparer.Create(seed + 1);
        var keys = RandomKeys(new Random(1), 1_000);
        Assert.True(keys.Count(k => comparer.GetHashCode(k) == other.GetHashCode(k)) <= 1, "a seed one apart hashes keys alike");
    }

    // ---- Flooding ----

    /// <summary>
    /// Keys that all have one XXH3-64 hash under seed 0 (the comparer the keyspace used before): XXH3 hashes a 17–32-byte
    /// input as avalanche(len × P1 + mix(w0, w1, secret 0..15) + mix(w2, w3, secret 16..31)), where
    /// mix(a, b, s) = fold64((a ^ s0) × (b ^ s1)). A first word equal to the default secret's first word makes the first
    /// product 0 whatever the second word is, so every 32-byte key [secret word 0, any 8 bytes, fixed 16 bytes]
    /// collides: 2^64 keys with one hash, computed without a single trial. A full 64-bit collision, so also one 32-bit
    /// hash code, one bucket at every table size.
    /// </summary>
    internal static byte[][] CraftedKeys(int count)
    {
        // XXH3's kSecret begins b8 fe 6c 39 23 a4 4b be (xxhash.h, XXH3_kSecret).
        const ulong secretWord0 = 0xbe4ba423396cfeb8;
        var keys = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var key = new byte[32];
            BinaryPrimitives.WriteUInt64LittleEndian(key, secretWord0);
            BinaryPrimitives.WriteUInt64LittleEndian(key.AsSpan(8), (ulong)i * 0x9E3779B97F4A7C15);
            "flood:flood:flo!"u8.CopyTo(key.AsSpan(16));
            keys[i] = key;
        }

        return keys;
    }

    private static byte[][] RandomKeys(Random rng, int count)
    {
        var keys = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            keys[i] = new byte[32];
            rng.NextBytes(keys[i]);
        }

        return keys;
    }

    [Fact]
    public void The_crafted_keys_all_share_one_hash_code_under_the_old_fixed_seed_hash()
    {
        var keys = CraftedKeys(FloodKeys);
        Assert.Equal(FloodKeys, keys.Distinct(new ContentComparer()).Count());
        Assert.Single(keys.Select(static k => XxHash3.HashToUInt64(k)).Distinct());
        Assert.Single(keys.Select(static k => (int)XxHash3.HashToUInt64(k)).Distinct());

        // So a dictionary of them is one chain: inserting them walks n(n-1)/2 entries, each a full key comparison.
        Assert.Equal((long)FloodKeys * (FloodKeys - 1) / 2, ChainSteps(keys, static k => (int)XxHash3.HashToUInt64(k)));
    }

    public static TheoryData<string> Seeds => ["0", "1", "0x0123456789abcdef_fedcba9876543210", "random"];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Under_the_keyed_comparer_crafted_keys_spread_over_hash_codes_and_buckets_as_random_keys_do(string seedText)
    {
        var seed = seedText == "random" ? BinaryPrimitives.ReadUInt128LittleEndian(RandomNumberGenerator.GetBytes(16)) : ParseSeed(seedText);
        var comparer = ByteArrayComparer.Create(seed);
        var crafted = CraftedKeys(FloodKeys);
        var random = RandomKeys(new Random(42), FloodKeys);
        var where = $"seed 0x{seed:x32}";

        // 40,000 random 32-bit codes repeat about n²/2³³ ≈ 0.2 times; a handful at most.
        var craftedCodes = crafted.Select(comparer.GetHashCode).Distinct().Count();
        Assert.True(craftedCodes >= FloodKeys - 8, $"{where}: crafted keys have only {craftedCodes} distinct hash codes");

        // The work of loading them: entries walked in the dictionary's chains, at the size the dictionary really has.
        // Random keys walk about n²/2m (m buckets ≥ n): some 20,000 steps, against 800 million for one chain.
        var craftedSteps = ChainSteps(crafted, comparer.GetHashCode);
        var randomSteps = ChainSteps(random, comparer.GetHashCode);
        Assert.True(craftedSteps <= (2 * randomSteps) + 1_000,
            $"{where}: crafted keys walk {craftedSteps} chain entries, random keys {randomSteps}");
        Assert.True(LongestChain(crafted, comparer.GetHashCode) <= 16, $"{where}: a chain of {LongestChain(crafted, comparer.GetHashCode)} crafted keys");
    }

    [Fact]
    public void A_store_holds_crafted_keys_in_a_keyed_dictionary()
    {
        // The keyspace's own dictionary, not just the comparer: the crafted keys load and are all found.
        var store = new KeyValueStore(keyHashSeed: 7);
        var keys = CraftedKeys(FloodKeys);
        foreach (var chunk in keys.Chunk(1_024))
            store.Apply(new CommandBatch { Timestamp = 1, Commands = [.. chunk.Select(static k => new SetCommand { Key = k, Value = k })] });
        Assert.Equal(FloodKeys, store.Keyspace.Count);
        Assert.All(keys, k => Assert.True(store.Keyspace.Contains(k, 1)));
        store.Scripting.Dispose();
    }

    // Entries walked while inserting the keys one by one into chains of a table of the size a Dictionary of them ends
    // with (its prime bucket count): for each key, the keys already in its bucket.
    private static long ChainSteps(byte[][] keys, Func<byte[], int> hash)
    {
        var buckets = new int[BucketCount(keys.Length)];
        long steps = 0;
        foreach (var key in keys)
            steps += buckets[(uint)hash(key) % (uint)buckets.Length]++;
        return steps;
    }

    private static int LongestChain(byte[][] keys, Func<byte[], int> hash)
    {
        var buckets = new int[BucketCount(keys.Length)];
        foreach (var key in keys)
            buckets[(uint)hash(key) % (uint)buckets.Length]++;
        return buckets.Max();
    }

    // A Dictionary's bucket array has its capacity's length (a prime it grows through by doubling).
    private static int BucketCount(int count)
    {
        var dictionary = new Dictionary<int, int>();
        for (var i = 0; i < count; i++)
            dictionary.Add(i, i);
        return dictionary.EnsureCapacity(0);
    }

    private static UInt128 ParseSeed(string text)
    {
        if (!text.StartsWith("0x", StringComparison.Ordinal))
            return UInt128.Parse(text, CultureInfo.InvariantCulture);
        var hex = text[2..].Replace("_", "", StringComparison.Ordinal);
        return UInt128.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    // ---- The seed is invisible ----

    /// <summary>
    /// A log over a few thousand keys (the crafted ones among them) with inserts, deletes, renames, expiries, database
    /// moves and flushes, so the dictionaries grow, shrink, reuse freed slots and get swept. Applied by stores with
    /// different seeds, it must give the same replies (KEYS, SCAN and RANDOMKEY among them), the same digest, the same
    /// snapshot bytes and the same entry order: the dictionary's order follows its history, not its hashes.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Stores_with_different_seeds_given_the_same_log_are_indistinguishable(int seed)
    {
        var rng = new Random(seed);
        UInt128[] seeds = [0, 1, new(0xdeadbeef, 0xfeedface), BinaryPrimitives.ReadUInt128LittleEndian(RandomNumberGenerator.GetBytes(16))];
        var stores = seeds.Select(static s => new KeyValueStore(keyHashSeed: s)).ToArray();
        var where = $"seed {seed}, key hash seeds {string.Join(", ", seeds.Select(static s => $"0x{s:x}"))}";
        var pool = CraftedKeys(500).Concat(RandomKeys(rng, 2_500)).Concat(Enumerable.Range(0, 200).Select(static i => Encoding.ASCII.GetBytes($"k{i}"))).ToArray();
        var now = 1_700_000_000_000L;
        try
        {
            for (var entry = 1; entry <= 400; entry++)
            {
                now += rng.Next(0, 40);
                var batch = new CommandBatch { Timestamp = now, Commands = [.. Enumerable.Range(0, rng.Next(1, 64)).Select(_ => Write(rng, pool, now))] };
                var replies = stores.Select(s => s.Apply(batch, entry)).ToArray();
                for (var r = 1; r < stores.Length; r++)
                    Assert.True(replies[0].SequenceEqual(replies[r]), $"{where}: entry {entry} replies differ between store 0 and store {r}");

                foreach (var read in Reads(rng))
                {
                    var parsed = Redis.Parse(read).Read!;
                    var database = rng.Next(3);
                    var first = stores[0].Read(parsed, database, now);
                    for (var r = 1; r < stores.Length; r++)
                        Assert.True(first.Equals(stores[r].Read(parsed, database, now)), $"{where}: entry {entry}, {string.Join(' ', read)} in db {database} differs in store {r}");
                }

                if (entry % 25 == 0)
                {
                    var digest = stores[0].ComputeDigest();
                    var snapshot = Snapshot(stores[0]);
                    for (var r = 1; r < stores.Length; r++)
                    {
                        Assert.Equal(digest, stores[r].ComputeDigest());
                        Assert.True(snapshot.AsSpan().SequenceEqual(Snapshot(stores[r])), $"{where}: entry {entry}, store {r}'s snapshot bytes differ");
                        for (var d = 0; d < KeyValueStore.DatabaseCount; d++)
                            Assert.True(stores[0].Databases[d].Entries.Select(static e => e.Key).SequenceEqual(stores[r].Databases[d].Entries.Select(static e => e.Key), new ContentComparer()),
                                $"{where}: entry {entry}, database {d} enumerates in another order in store {r}");
                    }
                }
            }

            // A restore under yet another seed reads the same state and writes the same bytes back.
            var restored = new KeyValueStore(keyHashSeed: seeds[^1] ^ 0x5a5a);
            restored.RestoreSnapshot(new ReadOnlySequence<byte>(Snapshot(stores[0])));
            Assert.Equal(stores[0].ComputeDigest(), restored.ComputeDigest());
            Assert.True(Snapshot(restored).AsSpan().SequenceEqual(Snapshot(stores[1])), $"{where}: a restored store writes other snapshot bytes");
            restored.Scripting.Dispose();
        }
        finally
        {
            foreach (var store in stores)
                store.Scripting.Dispose();
        }
    }

    private static WriteCommand Write(Random rng, byte[][] pool, long now)
    {
        byte[] Key() => pool[rng.Next(pool.Length)];
        return rng.Next(100) switch
        {
            < 40 => new SetCommand { Key = Key(), Value = [(byte)rng.Next(256)] },
            < 48 => new SetCommand { Key = Key(), Value = [1], Expiry = SetExpiry.RelativeMilliseconds, ExpiryValue = rng.Next(1, 200) },
            < 70 => new DelCommand { Keys = [Key(), Key()] },
            < 76 => new RenameCommand { Source = Key(), Destination = Key(), OnlyIfDestinationMissing = rng.Next(2) == 0 },
            < 82 => new ExpireCommand { Key = Key(), Variant = ExpireVariant.PExpire, Milliseconds = rng.Next(-10, 200) },
            < 88 => new CopyCommand { Source = Key(), Destination = Key(), TargetDatabase = rng.Next(3), Replace = true },
            < 92 => new GetDelCommand { Key = Key() },
            < 95 => new MSetCommand { Pairs = [Key(), [2], Key(), [3]] },
            < 97 => new SwapDbCommand { First = rng.Next(3), Second = rng.Next(3) },
            98 when rng.Next(4) == 0 => new FlushCommand { AllDatabases = false },
            _ => new PersistCommand { Key = Key() },
        };
    }

    private static IEnumerable<string[]> Reads(Random rng)
    {
        yield return ["DBSIZE"];
        yield return ["RANDOMKEY"];
        yield return ["SCAN", ((ulong)rng.NextInt64()).ToString(CultureInfo.InvariantCulture), "COUNT", "50"];
        if (rng.Next(10) == 0)
            yield return ["KEYS", "*"];
    }

    private sealed class ContentComparer : IEqualityComparer<byte[]>
    {
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var hash = default(HashCode);
            hash.AddBytes(obj);
            return hash.ToHashCode();
        }
    }
}
