using System.Buffers;
using System.Reflection;
using MessagePack;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// The transaction write's MessagePack contract, pinned like the others (<see cref="MessagePackContractTests"/>): the
/// log outlives the code. Do not update the literals; add tags and keys.
/// </summary>
public sealed class TransactionContractTests
{
    // Captured from MessagePack 2.5.307 when MULTI/EXEC was added.
    private const string PinnedHex =
        "93" + "01" + "91" // CommandBatch [Timestamp 1, one command, ...]
        + "9260" + "93" // union tag 96: TransactionCommand [Commands, Conditions, MaxStringLength]
        + "92" + "93C403534554C4016BC40176" + "92C403474554C4016B" // Commands: [SET k v], [GET k]
        + "92" // two conditions
        + "95" + "00" + "C4016B" + "02" + "CD03E8" + "C420" + Sha256OfV // WatchedKey [Database 0, Key k, Present, ExpireAt 1000, SHA-256 of "v"]
        + "95" + "03" + "C40161" + "01" + "00" + "C0" // WatchedKey [Database 3, Key a, Absent, 0, nil]
        + "CE20000000" // MaxStringLength: 512 MB
        + "C0"; // Databases: nil

    private const string Sha256OfV = "4C94485E0C21AE6C41CE1DFE7B6BFACEEA5AB68E40A2476F50208E526F506080";

    [Fact]
    public void The_union_tag_of_the_transaction_write_is_pinned()
    {
        var tags = typeof(WriteCommand).GetCustomAttributes<UnionAttribute>().ToDictionary(static u => u.Key, static u => u.SubType);

        Assert.Equal(typeof(TransactionCommand), tags[96]);
    }

    [Fact]
    public void Watched_key_states_are_pinned()
    {
        Assert.Equal([0, 1, 2], Enum.GetValues<WatchedKeyState>().Select(static v => (int)v));
    }

    [Fact]
    public void A_transaction_serializes_to_the_pinned_bytes_and_back()
    {
        var batch = new CommandBatch
        {
            Timestamp = 1,
            Commands =
            [
                new TransactionCommand
                {
                    Commands = [Redis.Args("SET", "k", "v"), Redis.Args("GET", "k")],
                    Conditions =
                    [
                        new WatchedKey { Database = 0, Key = "k"u8.ToArray(), State = WatchedKeyState.Present, ExpireAt = 1000, ValueHash = Convert.FromHexString(Sha256OfV) },
                        new WatchedKey { Database = 3, Key = "a"u8.ToArray(), State = WatchedKeyState.Absent },
                    ],
                },
            ],
        };

        Assert.Equal(PinnedHex, Serialize(batch));
        var decoded = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(Convert.FromHexString(PinnedHex)));
        Assert.Equal(PinnedHex, Serialize(decoded));
        var transaction = Assert.IsType<TransactionCommand>(Assert.Single(decoded.Commands));
        Assert.Equal(Redis.Args("GET", "k"), transaction.Commands[1]);
        Assert.Equal((3, WatchedKeyState.Absent), (transaction.Conditions[1].Database, transaction.Conditions[1].State));
    }

    [Fact]
    public void WATCH_records_a_present_key_with_the_SHA_256_of_its_value()
    {
        var redis = new Redis();
        redis.Exec(0, "SET", "k", "v", "PXAT", "1000");
        var watched = new WatchedKey { Key = "k"u8.ToArray() };

        redis.Store.Read(new WatchCommand([watched]), 0, 1);

        Assert.Equal((WatchedKeyState.Present, 1000L, Sha256OfV), (watched.State, watched.ExpireAt, Convert.ToHexString(watched.ValueHash!)));
    }

    private static string Serialize(CommandBatch batch)
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch, checksum: false);
        return Convert.ToHexString(buffer.WrittenSpan);
    }
}
