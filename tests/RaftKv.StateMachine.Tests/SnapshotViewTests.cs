using System.Buffers;
using System.Globalization;
using RaftKv.StateMachine.Snapshots;
using static RaftKv.StateMachine.Tests.Replies;
using static RaftKv.StateMachine.Tests.SnapshotBytes;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// Format 5 and the copy-on-write view: a snapshot written while writes go on holds the state as it was when the view
/// was taken, and a damaged file never restores.
/// </summary>
public sealed class SnapshotViewTests
{
    private const long T = 1_700_000_000_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void A_snapshot_written_while_writes_go_on_holds_the_state_of_the_moment_the_view_was_taken(int seed)
    {
        // Writes of every kind land between the chunks of the writer (4 keys per chunk): overwrites, deletes, new keys,
        // expiries swept, FLUSHDB, FLUSHALL, SWAPDB. The restored state must equal the state when the view was taken —
        // and the writes must have changed the live state, or the comparison proves nothing.
        var rng = new Random(seed);
        var redis = new Redis();
        for (var i = 0; i < 300; i++)
            redis.Exec(T, RandomWrite(rng, i));

        var expected = redis.Store.ComputeDigest();
        using var view = redis.Store.BeginSnapshot(index: 42, term: 3);
        using var file = new MemoryStream();
        var step = 0;
        var (keys, _) = view.WriteTo(file, static () => NoLock.Instance, CancellationToken.None, afterChunk: () =>
        {
            for (var i = 0; i < 5; i++)
                redis.Exec(T + (++step * 10), RandomWrite(rng, 1000 + step));
        }, chunkRecords: 4);

        Assert.NotEqual(expected, redis.Store.ComputeDigest());
        var restored = new KeyValueStore();
        var position = restored.RestoreSnapshot(new ReadOnlySequence<byte>(file.ToArray()));
        Assert.Equal(expected, restored.ComputeDigest());
        Assert.Equal((42, 3, T), (position.Index, position.Term, position.ClusterTime));
        Assert.Equal(restored.Databases.Sum(static d => d.Count), keys);
    }

    private static string[] RandomWrite(Random rng, int step)
    {
        var key = "k" + rng.Next(400).ToString(CultureInfo.InvariantCulture);
        var value = "v" + step.ToString(CultureInfo.InvariantCulture);
        return rng.Next(100) switch
        {
            < 45 => ["SET", key, value],
            < 60 => ["SET", key, value, "PX", (1 + rng.Next(30)).ToString(CultureInfo.InvariantCulture)],
            < 80 => ["DEL", key, "k" + rng.Next(400).ToString(CultureInfo.InvariantCulture)],
            < 90 => ["MSET", key, value, "x" + key, value],
            < 93 => ["SWAPDB", "0", rng.Next(3).ToString(CultureInfo.InvariantCulture)],
            < 96 => ["FLUSHDB"],
            < 97 => ["FLUSHALL"],
            _ => ["APPEND", key, value],
        };
    }

    [Fact]
    public void Two_views_at_different_moments_each_hold_their_own_moment()
    {
        var redis = new Redis();
        for (var i = 0; i < 50; i++)
            redis.Exec(T, "SET", "k" + i.ToString(CultureInfo.InvariantCulture), "first");
        var firstDigest = redis.Store.ComputeDigest();
        using var first = redis.Store.BeginSnapshot(1, 1);
        redis.Exec(T, "SET", "k1", "second");
        redis.Exec(T, "DEL", "k2");
        var secondDigest = redis.Store.ComputeDigest();
        using var second = redis.Store.BeginSnapshot(2, 1);
        redis.Exec(T, "FLUSHALL");

        Assert.Equal(firstDigest, Restore(Written(first)).ComputeDigest());
        Assert.Equal(secondDigest, Restore(Written(second)).ComputeDigest());
    }

    [Fact]
    public void A_view_no_longer_preserves_anything_once_disposed()
    {
        var redis = new Redis();
        redis.Exec(T, "SET", "k", "v");
        redis.Store.BeginSnapshot(1, 1).Dispose();
        redis.Exec(T, "SET", "k", "w");
        var digest = redis.Store.ComputeDigest();
        Assert.Equal(digest, Restore(Snapshot(redis.Store)).ComputeDigest());
    }

    [Fact]
    public void Values_larger_than_a_block_round_trip()
    {
        var redis = new Redis();
        var big = new byte[(3 * SnapshotFormat.MaxBlockBytes) + 17];
        new Random(5).NextBytes(big);
        redis.Exec(T, "SET"u8.ToArray(), "big"u8.ToArray(), big);
        redis.Exec(T, "SET", "small", "x");

        var restored = Restore(Snapshot(redis.Store));

        Assert.Equal(redis.Store.ComputeDigest(), restored.ComputeDigest());
        Assert.Equal(Bulk(big), restored.Read(Redis.Parse("GET", "big").Read!, T));
    }

    [Fact]
    public void Every_flipped_byte_of_a_snapshot_is_detected_and_changes_nothing()
    {
        var source = new Redis();
        source.Exec(T, "SET", "lock:orders", "token-1", "PX", "30000");
        source.Exec(T, "SET", "k", "v");
        source.Store.Scripts.Add("return 1"u8.ToArray());
        var bytes = Snapshot(source.Store);

        var target = new Redis();
        target.Exec(T, "SET", "mine", "1");
        var before = target.Store.ComputeDigest();
        for (var i = 0; i < bytes.Length; i++)
        {
            foreach (var bit in new byte[] { 0x01, 0x80 })
            {
                var damaged = (byte[])bytes.Clone();
                damaged[i] ^= bit;
                var error = Record.Exception(() => target.Store.RestoreSnapshot(new ReadOnlySequence<byte>(damaged)));
                Assert.True(error is InvalidDataException, $"byte {i} of {bytes.Length} ^ {bit:x2}: {error?.GetType().Name ?? "restored"}");
            }
        }

        Assert.Equal(before, target.Store.ComputeDigest());
    }

    [Fact]
    public void Bytes_after_the_trailer_are_refused()
    {
        var bytes = Snapshot(new Redis().Store);
        Assert.Throws<InvalidDataException>(() => Restore([.. bytes, 0]));
        using var stream = new MemoryStream([.. bytes, 0]);
        Assert.Throws<InvalidDataException>(() => SnapshotFormat.Verify(stream));
    }

    [Fact]
    public void Verify_reads_the_header_and_checks_every_block()
    {
        var redis = new Redis();
        redis.Exec(T, "SET", "k", "v");
        using var view = redis.Store.BeginSnapshot(7, 2);
        var bytes = Written(view);

        using (var good = new MemoryStream(bytes))
            Assert.Equal(new SnapshotPosition(7, 2, T), SnapshotFormat.Verify(good));
        bytes[^30] ^= 1;
        using var bad = new MemoryStream(bytes);
        Assert.Throws<InvalidDataException>(() => SnapshotFormat.Verify(bad));
    }

    [Fact]
    public void A_format_4_snapshot_still_restores()
    {
        var redis = new Redis();
        redis.Exec(T, "SET", "k", "v", "PX", "5000");
        redis.Store.Apply(new Commands.CommandBatch { Timestamp = T, Commands = [Redis.Parse("SET", "in3", "x").Write!], Databases = [3] }, 9);
        redis.Store.Scripts.Add("return 2"u8.ToArray());
        var old = new ArrayBufferWriter<byte>();
        redis.Store.WriteSnapshotFormat4(old);

        var restored = Restore(old.WrittenSpan.ToArray());

        Assert.Equal(redis.Store.ComputeDigest(), restored.ComputeDigest());
    }

    [Fact]
    public void A_key_that_appears_twice_is_refused()
    {
        // A writer bug, not damage (the checksums pass): restore must not keep whichever copy came last.
        var redis = new Redis();
        redis.Exec(T, "SET", "k", "v");
        using var view = redis.Store.BeginSnapshot(1, 1);
        using var stream = new MemoryStream();
        SnapshotFormat.WriteHeader(stream, view.Position);
        using (var writer = new SnapshotBlockWriter(stream))
        {
            writer.WriteInt32(view.Meta.Length);
            writer.Write(view.Meta);
            for (var copy = 0; copy < 2; copy++)
            {
                writer.WriteByte(0);
                writer.WriteInt32(1);
                writer.Write("k"u8);
                writer.WriteInt64(ClusterTime.NoExpiry);
                writer.WriteInt32(1);
                writer.Write("v"u8);
            }

            writer.WriteByte(SnapshotFormat.EndOfRecords);
            writer.Complete();
        }

        var error = Assert.Throws<InvalidDataException>(() => Restore(stream.ToArray()));
        Assert.Contains("twice", error.Message, StringComparison.Ordinal);
    }

    private static byte[] Written(SnapshotView view)
    {
        using var file = new MemoryStream();
        view.WriteTo(file, static () => NoLock.Instance, CancellationToken.None);
        return file.ToArray();
    }
}
