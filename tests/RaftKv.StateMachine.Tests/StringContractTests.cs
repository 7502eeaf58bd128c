using System.Buffers;
using System.Reflection;
using MessagePack;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// The string and keyspace writes' MessagePack contracts, pinned like SET's and DEL's in
/// <see cref="MessagePackContractTests"/>: the log outlives the code. Do not update the literals; add tags and keys.
/// </summary>
public sealed class StringContractTests
{
    [Fact]
    public void Union_tags_of_string_and_keyspace_writes_are_pinned()
    {
        var tags = typeof(WriteCommand).GetCustomAttributes<UnionAttribute>().ToDictionary(static u => u.Key, static u => u.SubType);

        Type[] expected =
        [
            typeof(SetCommand), typeof(DelCommand), typeof(GetDelCommand), typeof(GetExCommand), typeof(GetSetCommand),
            typeof(MSetCommand), typeof(SetNxCommand), typeof(SetExCommand), typeof(AppendCommand), typeof(SetRangeCommand),
            typeof(IncrByCommand), typeof(IncrByFloatCommand), typeof(ExpireCommand), typeof(PersistCommand),
            typeof(RenameCommand), typeof(CopyCommand), typeof(FlushCommand), typeof(SwapDbCommand),
        ];
        for (var tag = 0; tag < expected.Length; tag++)
            Assert.Equal(expected[tag], tags[tag]);
    }

    [Fact]
    public void Persisted_enum_values_are_pinned()
    {
        Assert.Equal([0, 1, 2, 3, 4], Enum.GetValues<GetExOption>().Select(static v => (int)v));
        Assert.Equal([0, 1, 2, 3], Enum.GetValues<ExpireVariant>().Select(static v => (int)v));
        Assert.Equal([0, 1, 2, 4, 8], Enum.GetValues<ExpireConditions>().Select(static v => (int)v));
    }

    // Captured from MessagePack 2.5.307 when these commands were added.
    private const string PinnedHex =
        "93" + "01" + "9A" // CommandBatch [Timestamp 1, ten commands, ...]
        + "9202" + "91" + "C4016B" // tag 2 GETDEL [Key]
        + "9203" + "93" + "C4016B" + "02" + "C4023130" // tag 3 GETEX [Key, Option PX, Argument "10"]
        + "9205" + "92" + "92C4016BC40176" + "C3" // tag 5 MSET [Pairs [k, v], OnlyIfNoneExist]
        + "9207" + "94" + "C4016B" + "C40176" + "CD03E8" + "C3" // tag 7 SETEX [Key, Value, Milliseconds 1000, IsPSetEx]
        + "9208" + "93" + "C4016B" + "C4017A" + "CE20000000" // tag 8 APPEND [Key, Value, MaxLength 512 MB]
        + "920A" + "92" + "C4016B" + "FF" // tag 10 INCRBY [Key, Delta -1]
        + "920B" + "92" + "C4016B" + "C403302E35" // tag 11 INCRBYFLOAT [Key, Increment "0.5"]
        + "920C" + "94" + "C4016B" + "03" + "FF" + "06" // tag 12 EXPIRE [Key, Variant PEXPIREAT, Milliseconds -1, Conditions XX|GT]
        + "920F" + "94" + "C4016B" + "C4016C" + "0F" + "C3" // tag 15 COPY [Source, Destination, TargetDatabase 15, Replace]
        + "9211" + "92" + "01" + "03" // tag 17 SWAPDB [First, Second]
        + "C0"; // Databases: nil

    [Fact]
    public void A_batch_of_string_and_keyspace_writes_serializes_to_the_pinned_bytes()
    {
        string[][] commands =
        [
            ["GETDEL", "k"], ["GETEX", "k", "PX", "10"], ["MSETNX", "k", "v"], ["PSETEX", "k", "1000", "v"], ["APPEND", "k", "z"],
            ["DECR", "k"], ["INCRBYFLOAT", "k", "0.5"], ["PEXPIREAT", "k", "-1", "XX", "GT"], ["COPY", "k", "l", "DB", "15", "REPLACE"],
            ["SWAPDB", "1", "3"],
        ];
        var batch = new CommandBatch { Timestamp = 1, Commands = [.. commands.Select(static c => Redis.Parse(c).Write!)] };
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch, checksum: false);

        Assert.Equal(PinnedHex, Convert.ToHexString(buffer.WrittenSpan));
        var decoded = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(buffer.WrittenMemory));
        var again = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(again, decoded, checksum: false);
        Assert.Equal(PinnedHex, Convert.ToHexString(again.WrittenSpan));
    }
}
