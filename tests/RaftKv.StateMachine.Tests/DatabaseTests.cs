using System.Buffers;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

public sealed class DatabaseTests
{
    private static WriteCommand Write(params string[] argv) => Redis.Parse(argv).Write!;

    private static ReadCommand Read(params string[] argv) => Redis.Parse(argv).Read!;

    [Fact]
    public void Commands_apply_in_the_database_the_batch_names_for_them()
    {
        var store = new KeyValueStore();
        store.Apply(new CommandBatch { Timestamp = 1, Commands = [Write("SET", "k", "zero"), Write("SET", "k", "three")], Databases = [0, 3] });

        Assert.Equal(Reply.FromBulk("zero"u8.ToArray()), store.Read(Read("GET", "k"), 0, 1));
        Assert.Equal(Reply.FromBulk("three"u8.ToArray()), store.Read(Read("GET", "k"), 3, 1));
        Assert.Equal(Reply.NullBulk, store.Read(Read("GET", "k"), 15, 1));
    }

    [Fact]
    public void An_out_of_range_database_is_an_error_and_changes_nothing()
    {
        var store = new KeyValueStore();
        var digest = store.ComputeDigest();

        var replies = store.Apply(new CommandBatch { Timestamp = 0, Commands = [Write("SET", "k", "v")], Databases = [16] });

        Assert.Equal(KeyValueStore.InvalidDatabase, replies.Single());
        Assert.Equal(digest, store.ComputeDigest());
        Assert.Equal(KeyValueStore.InvalidDatabase, store.Read(Read("GET", "k"), 16, 0));
    }

    [Fact]
    public void The_same_key_in_two_databases_gives_a_different_digest_and_survives_a_snapshot()
    {
        var inZero = new KeyValueStore();
        inZero.Apply(new CommandBatch { Timestamp = 1, Commands = [Write("SET", "k", "v")] });
        var inSeven = new KeyValueStore();
        inSeven.Apply(new CommandBatch { Timestamp = 1, Commands = [Write("SET", "k", "v")], Databases = [7] });
        Assert.NotEqual(inZero.ComputeDigest(), inSeven.ComputeDigest());

        var buffer = new ArrayBufferWriter<byte>();
        inSeven.WriteSnapshot(buffer);
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory));

        Assert.Equal(inSeven.ComputeDigest(), restored.ComputeDigest());
        Assert.Equal(Reply.FromBulk("v"u8.ToArray()), restored.Read(Read("GET", "k"), 7, 1));
    }
}
