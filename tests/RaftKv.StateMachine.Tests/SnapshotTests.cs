using System.Buffers;
using static RaftKv.StateMachine.Tests.Replies;
using static RaftKv.StateMachine.Tests.SnapshotBytes;

namespace RaftKv.StateMachine.Tests;

public sealed class SnapshotTests
{
    private const long T = 1_700_000_000_000;

    private static Redis Populated()
    {
        var redis = new Redis();
        redis.Exec(T, "SET", "plain", "1");
        redis.Exec(T, "SET", "ttl", "2", "PX", "500");
        redis.Exec(T, "SET", "", "");
        redis.Exec(T, "SET"u8.ToArray(), [0, 255, 10, 13], [255, 0]);
        redis.Exec(T, "SET", "expired", "x", "PX", "5");
        redis.Exec(T + 10, "SET", "late", "3", "EX", "60");
        return redis;
    }

    [Fact]
    public void A_round_trip_preserves_values_ttls_and_cluster_time()
    {
        var original = Populated();

        var restored = new Redis();
        restored.Store.RestoreSnapshot(new ReadOnlySequence<byte>(Snapshot(original.Store)));

        Assert.Equal(T + 10, restored.Store.ClusterTime);
        Assert.Equal(original.Store.ComputeDigest(), restored.Store.ComputeDigest());
        Assert.Equal(original.Store.Keyspace.Count, restored.Store.Keyspace.Count);
        Assert.Equal(original.Store.Keyspace.ExpiringCount, restored.Store.Keyspace.ExpiringCount);
        Assert.Equal(ClusterTime.NoExpiry, restored.ExpireAtOf("plain"));
        Assert.Equal(T + 500, restored.ExpireAtOf("ttl"));
        Assert.Equal(T + 10 + 60_000, restored.ExpireAtOf("late"));
        Assert.Equal(Bulk("1"), restored.Exec(T + 10, "GET", "plain"));
        Assert.Equal(Bulk(""), restored.Exec(T + 10, "GET", ""));
        Assert.Equal(Bulk([255, 0]), restored.Exec(T + 10, "GET"u8.ToArray(), [0, 255, 10, 13]));
        Assert.Equal(Nil, restored.Exec(T + 10, "GET", "expired"));
    }

    [Fact]
    public void A_restored_store_behaves_like_the_original_afterwards()
    {
        var original = Populated();
        var restored = new Redis();
        restored.Store.RestoreSnapshot(new ReadOnlySequence<byte>(Snapshot(original.Store)));

        foreach (var redis in new[] { original, restored })
        {
            Assert.Equal(Bulk("2"), redis.Exec(T + 499, "GET", "ttl"));
            Assert.Equal(Nil, redis.Exec(T + 500, "SET", "ttl", "new", "NX", "GET"));
            Assert.Equal(Int(1), redis.Exec(T + 500, "DEL", "plain", "expired"));
        }

        Assert.Equal(original.Store.ComputeDigest(), restored.Store.ComputeDigest());
    }

    [Fact]
    public void A_restored_store_reads_with_cluster_time_from_the_snapshot()
    {
        var original = new Redis();
        original.AddSweepFillers(1000, expireAt: 1001);
        original.Exec(1000, "SET", "k", "v", "PX", "100");
        original.Exec(1100, "SET", "other", "x");

        var restored = Restore(Snapshot(original.Store));

        Assert.True(restored.Keyspace.TryGet("k"u8, 1099, out _)); // still stored: the read must judge expiry
        Assert.Equal(Nil, restored.Read(Redis.Parse("GET", "k").Read!, 0));
    }

    [Fact]
    public void Restoring_replaces_everything_that_was_there()
    {
        var source = new Redis();
        source.Exec(T, "SET", "a", "from-snapshot");
        var target = new Redis();
        target.Exec(T + 5000, "SET", "b", "local", "PX", "10");
        target.Exec(T + 5000, "SET", "a", "local");

        target.Store.RestoreSnapshot(new ReadOnlySequence<byte>(Snapshot(source.Store)));

        Assert.Equal(source.Store.ComputeDigest(), target.Store.ComputeDigest());
        Assert.Equal(T, target.Store.ClusterTime);
        Assert.Equal(0, target.Store.Keyspace.ExpiringCount);
        Assert.Equal(Nil, target.Exec(T, "GET", "b"));
        Assert.Equal(Bulk("from-snapshot"), target.Exec(T, "GET", "a"));
    }

    [Fact]
    public void An_empty_store_round_trips()
    {
        var restored = Restore(Snapshot(new KeyValueStore()));

        Assert.Equal(new KeyValueStore().ComputeDigest(), restored.ComputeDigest());
        Assert.Equal(0, restored.Keyspace.Count);
    }

    [Fact]
    public void A_snapshot_split_across_segments_restores()
    {
        var original = Populated();
        var bytes = Snapshot(original.Store);

        var restored = new KeyValueStore();
        restored.RestoreSnapshot(Segmented(bytes, 3));

        Assert.Equal(original.Store.ComputeDigest(), restored.ComputeDigest());
    }

    [Fact]
    public void The_digest_differs_when_a_value_a_ttl_or_cluster_time_differs()
    {
        var digests = new HashSet<string>();
        foreach (var (value, px, stamp) in new[] { ("v", "100", T), ("w", "100", T), ("v", "101", T), ("v", "100", T + 1) })
        {
            var redis = new Redis();
            redis.Exec(T, "SET", "k", value, "PX", px);
            redis.Store.Apply(new Commands.CommandBatch { Timestamp = stamp });
            Assert.True(digests.Add(redis.Store.ComputeDigest()), $"duplicate digest for {value} {px} {stamp}");
        }
    }

    [Fact]
    public void An_unknown_format_version_is_invalid_data()
    {
        Assert.Throws<InvalidDataException>(() => Restore(Handmade(version: 2)));
        Assert.Throws<InvalidDataException>(() => Restore(Handmade(version: 0)));
    }

    [Fact]
    public void A_handmade_version_one_snapshot_restores()
    {
        // Pins the layout: [version, clusterTime, [[database, [[key, value, expireAt], ...]], ...], [[sha, body], ...]].
        var store = Restore(Handmade(version: 1));

        Assert.Equal(1234, store.ClusterTime);
        Assert.Equal(Bulk("v"), store.Read(Redis.Parse("GET", "k").Read!, 0));
        Assert.Equal(5000, store.Keyspace.TryGet("k"u8, 0, out var entry) ? entry.ExpireAt : -1);
    }

    [Fact]
    public void Cached_scripts_survive_a_snapshot_and_count_in_the_digest()
    {
        var store = new KeyValueStore();
        var withoutScripts = store.ComputeDigest();
        var sha = store.Scripts.Add("return 1"u8.ToArray());
        Assert.NotEqual(withoutScripts, store.ComputeDigest());

        var restored = Restore(Snapshot(store));

        Assert.Equal(store.ComputeDigest(), restored.ComputeDigest());
        Assert.True(restored.Scripts.TryGet(sha.ToUpperInvariant(), out var body));
        Assert.Equal("return 1"u8.ToArray(), body);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0xc0 })] // nil
    [InlineData(new byte[] { 0x01 })] // an integer, not an array
    [InlineData(new byte[] { 0x92, 0x01, 0x00 })] // too short an array
    [InlineData(new byte[] { 0x93, 0xa1, 0x31, 0x00, 0x90 })] // version as a string
    [InlineData(new byte[] { 0x93, 0x01, 0x00 })] // truncated after the cluster time
    [InlineData(new byte[] { 0x93, 0x01, 0x00, 0x91, 0x93, 0xc0, 0xc4, 0x00, 0x00 })] // a nil key
    [InlineData(new byte[] { 0x93, 0x01, 0x00, 0x91, 0x93, 0xc4, 0x01 })] // a key cut short
    [InlineData(new byte[] { 0x93, 0x01, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff })] // claims four billion entries
    [InlineData(new byte[] { 0x93, 0x01, 0x00, 0x91, 0x93, 0xc4, 0x00, 0xc4, 0x00, 0xa1, 0x31 })] // expiry as a string
    [InlineData(new byte[] { 0xde, 0xad, 0xbe, 0xef })]
    [InlineData(new byte[] { 0x93, 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x90 })] // version beyond int
    public void A_corrupt_snapshot_is_invalid_data(byte[] snapshot)
    {
        Assert.Throws<InvalidDataException>(() => Restore(snapshot));
    }

    [Fact]
    public void Every_truncation_of_a_snapshot_is_invalid_data()
    {
        var bytes = Snapshot(Populated().Store);

        for (var length = 0; length < bytes.Length; length++)
        {
            var cut = bytes[..length];
            var error = Record.Exception(() => Restore(cut));
            Assert.True(error is InvalidDataException, $"cut at {length} of {bytes.Length}: {error?.GetType().Name ?? "no exception"}");
        }
    }

    [Fact]
    public void A_failed_restore_leaves_the_previous_state_untouched()
    {
        var redis = Populated();
        var before = redis.Store.ComputeDigest();
        var other = new Redis();
        other.Exec(T + 99, "SET", "x", "y");
        var truncated = Snapshot(other.Store)[..^2];

        Assert.Throws<InvalidDataException>(() => redis.Store.RestoreSnapshot(new ReadOnlySequence<byte>(truncated)));

        Assert.Equal(before, redis.Store.ComputeDigest());
        Assert.Equal(Bulk("1"), redis.Exec(T + 10, "GET", "plain"));
    }

    private static byte[] Handmade(int version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePack.MessagePackWriter(buffer);
        writer.WriteArrayHeader(4);
        writer.Write(version);
        writer.Write(1234L);
        writer.WriteArrayHeader(1);
        writer.WriteArrayHeader(2);
        writer.Write(0);
        writer.WriteArrayHeader(1);
        writer.WriteArrayHeader(3);
        writer.Write("k"u8);
        writer.Write("v"u8);
        writer.Write(5000L);
        writer.WriteArrayHeader(0);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int segmentLength)
    {
        Segment? first = null, last = null;
        for (var offset = 0; offset < bytes.Length; offset += segmentLength)
        {
            var memory = bytes.AsMemory(offset, Math.Min(segmentLength, bytes.Length - offset));
            var segment = new Segment(memory, offset);
            if (last is null)
                first = segment;
            else
                last.Append(segment);
            last = segment;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void Append(Segment next) => Next = next;
    }
}
