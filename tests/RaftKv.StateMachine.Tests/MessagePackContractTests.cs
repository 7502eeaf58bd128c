using System.Buffers;
using System.Reflection;
using MessagePack;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// The Raft log outlives the code that wrote it: union tags, member keys and persisted enum values are append-only.
/// If one of these tests fails, an existing log would no longer decode the same way. Do not update the literals;
/// add a new tag or key instead.
/// </summary>
public sealed class MessagePackContractTests
{
    // Captured from MessagePack 2.5.307 when SET and DEL were the only write commands.
    private const string PinnedBatchHex =
        "93" + "CF0000018BCFE5687B" // CommandBatch [Key(0) Timestamp, Key(1) Commands, Key(2) Databases]
        + "92" // two commands
        + "9200" + "96" + "C4046C6F636B" + "C405746F6B656E" + "01" + "01" + "CD7530" + "C3" // union tag 0: SetCommand, keys 0..5
        + "9201" + "91" + "92" + "C40161" + "C40200FF" // union tag 1: DelCommand [Key(0) Keys]
        + "C0"; // Databases: nil, every command in database 0

    // A batch as written before Key(2) existed: it must still decode, with every command in database 0.
    private const string BatchWithoutDatabasesHex =
        "92" + "CF0000018BCFE5687B"
        + "92"
        + "9200" + "96" + "C4046C6F636B" + "C405746F6B656E" + "01" + "01" + "CD7530" + "C3"
        + "9201" + "91" + "92" + "C40161" + "C40200FF";

    private static CommandBatch SampleBatch() => new()
    {
        Timestamp = 1_700_000_000_123,
        Commands =
        [
            new SetCommand
            {
                Key = "lock"u8.ToArray(),
                Value = "token"u8.ToArray(),
                Condition = SetCondition.IfNotExists,
                Expiry = SetExpiry.RelativeMilliseconds,
                ExpiryValue = 30_000,
                ReturnOldValue = true,
            },
            new DelCommand { Keys = ["a"u8.ToArray(), [0x00, 0xff]] },
        ],
    };

    // The bare batch: the envelope around it is pinned by LogEntryEnvelopeTests.
    private static string Serialize(CommandBatch batch)
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch, checksum: false);
        return Convert.ToHexString(buffer.WrittenSpan);
    }

    // The lock commands as issue 14's nodes wrote them: LOCK.ACQUIRE [key, token, ttl] (tag 84), LOCK.EXTEND (85),
    // LOCK.RELEASE (86). Issue 17 added WAIT and OWNER as keys 3 and 4 and moved EXTEND/RELEASE onto base classes: the
    // old entries must decode to the same commands, and the new code must write EXTEND/RELEASE the same bytes.
    private const string LockWritesHex =
        "93" + "CF0000018BCFE5687B" + "93"
        + "9254" + "93" + "C403726573" + "C40161" + "CD03E8"
        + "9255" + "93" + "C403726573" + "C40161" + "CD03E8"
        + "9256" + "92" + "C403726573" + "C40161"
        + "C0";

    [Fact]
    public void Lock_writes_keep_their_encoding()
    {
        var bytes = Convert.FromHexString(LockWritesHex);
        var batch = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(bytes));
        var acquire = Assert.IsType<LockAcquireCommand>(batch.Commands![0]);
        Assert.Equal((0L, (byte[]?)null, 1_000L), (acquire.Wait, acquire.Owner, acquire.Ttl));
        Assert.Equal(1_000, Assert.IsType<LockExtendCommand>(batch.Commands[1]).Ttl);
        Assert.Equal("a"u8.ToArray(), Assert.IsType<LockReleaseCommand>(batch.Commands[2]).Token);

        var rewritten = new CommandBatch { Timestamp = batch.Timestamp, Commands = [batch.Commands[1], batch.Commands[2]] };
        Assert.EndsWith("9255" + "93" + "C403726573" + "C40161" + "CD03E8" + "9256" + "92" + "C403726573" + "C40161" + "C0", Serialize(rewritten));
    }

    [Fact]
    public void A_batch_serializes_to_the_pinned_bytes()
    {
        Assert.Equal(PinnedBatchHex, Serialize(SampleBatch()));
    }

    [Fact]
    public void A_batch_written_before_databases_existed_still_decodes()
    {
        var batch = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(Convert.FromHexString(BatchWithoutDatabasesHex)));

        Assert.Null(batch.Databases);
        Assert.Equal(Serialize(SampleBatch()), Serialize(batch));
    }

    [Fact]
    public void A_batch_with_databases_pins_them_as_a_byte_string()
    {
        var batch = SampleBatch();
        batch.Databases = [3, 15];

        Assert.EndsWith("C4020" + "30F", Serialize(batch), StringComparison.Ordinal);
    }

    [Fact]
    public void The_pinned_bytes_decode_to_the_same_commands()
    {
        var batch = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(Convert.FromHexString(PinnedBatchHex)));

        Assert.Equal(1_700_000_000_123, batch.Timestamp);
        Assert.Equal(2, batch.Commands.Length);
        var set = Assert.IsType<SetCommand>(batch.Commands[0]);
        Assert.Equal("lock"u8.ToArray(), set.Key);
        Assert.Equal("token"u8.ToArray(), set.Value);
        Assert.Equal(SetCondition.IfNotExists, set.Condition);
        Assert.Equal(SetExpiry.RelativeMilliseconds, set.Expiry);
        Assert.Equal(30_000, set.ExpiryValue);
        Assert.True(set.ReturnOldValue);
        var del = Assert.IsType<DelCommand>(batch.Commands[1]);
        Assert.Equal(["a"u8.ToArray(), new byte[] { 0x00, 0xff }], del.Keys);
    }

    [Fact]
    public void Every_set_variant_round_trips()
    {
        var commands = (
            from condition in Enum.GetValues<SetCondition>()
            from expiry in Enum.GetValues<SetExpiry>()
            from returnOld in new[] { false, true }
            select (WriteCommand)new SetCommand
            {
                Key = [(byte)condition, (byte)expiry],
                Value = [],
                Condition = condition,
                Expiry = expiry,
                ExpiryValue = long.MaxValue - (long)expiry,
                ReturnOldValue = returnOld,
            }).ToArray();
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, new CommandBatch { Timestamp = long.MaxValue, Commands = commands });

        var decoded = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(buffer.WrittenMemory));

        Assert.Equal(long.MaxValue, decoded.Timestamp);
        Assert.Equal(commands.Length, decoded.Commands.Length);
        for (var i = 0; i < commands.Length; i++)
        {
            var (expected, actual) = ((SetCommand)commands[i], Assert.IsType<SetCommand>(decoded.Commands[i]));
            Assert.Equal(expected.Key, actual.Key);
            Assert.Equal(expected.Value, actual.Value);
            Assert.Equal((expected.Condition, expected.Expiry, expected.ExpiryValue, expected.ReturnOldValue),
                (actual.Condition, actual.Expiry, actual.ExpiryValue, actual.ReturnOldValue));
        }
    }

    [Fact]
    public void An_empty_batch_round_trips()
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, new CommandBatch { Timestamp = 7 });

        var decoded = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(buffer.WrittenMemory));

        Assert.Equal(7, decoded.Timestamp);
        Assert.Empty(decoded.Commands);
    }

    [Fact]
    public void Union_tags_of_write_commands_are_pinned()
    {
        var tags = typeof(WriteCommand).GetCustomAttributes<UnionAttribute>().ToDictionary(static u => u.Key, static u => u.SubType);

        Assert.Equal(typeof(SetCommand), tags[0]);
        Assert.Equal(typeof(DelCommand), tags[1]);

        // ACL users (range 128..143).
        Assert.Equal(typeof(AclSetUserCommand), tags[128]);
        Assert.Equal(typeof(AclDelUserCommand), tags[129]);
        Assert.Equal(typeof(AclLoadCommand), tags[130]);
        Assert.DoesNotContain(tags.Keys, static k => k is > 130 and <= 143);
    }

    [Fact]
    public void ACL_writes_and_a_batch_with_users_serialize_to_the_pinned_bytes()
    {
        var batch = new CommandBatch
        {
            Timestamp = 1,
            Commands =
            [
                new AclSetUserCommand { Name = "u"u8.ToArray(), Rules = ["on"u8.ToArray()] },
                new AclDelUserCommand { Names = ["u"u8.ToArray()] },
                new AclLoadCommand { Users = [new AclUserRules { Name = "u"u8.ToArray(), Rules = [] }], OnlyIfUninitialized = true },
            ],
            Users = [null, "u", null],
        };

        const string pinned = "94" + "01" + "93"
            + "92CC80" + "93" + "C40175" + "91C4026F6E" + "C0" // tag 128: [Name, Rules, ConfiguredUsers]
            + "92CC81" + "92" + "91C40175" + "C0" // tag 129: [Names, ConfiguredUsers]
            + "92CC82" + "92" + "91" + "92C40175" + "90" + "C3" // tag 130: [[ [Name, Rules] ], OnlyIfUninitialized]
            + "C0" // no databases
            + "93" + "C0" + "A175" + "C0"; // users: default, u, default
        Assert.Equal(pinned, Serialize(batch));
        Assert.Equal(pinned, Serialize(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(Convert.FromHexString(pinned)))));
    }

    [Fact]
    public void An_ACL_write_carrying_the_configured_users_serializes_to_the_pinned_bytes_and_older_two_field_entries_still_read()
    {
        var set = new AclSetUserCommand { Name = "u"u8.ToArray(), Rules = [], ConfiguredUsers = [new AclUserRules { Name = "d"u8.ToArray(), Rules = [] }] };
        const string pinned = "92CC80" + "93" + "C40175" + "90" + "91" + "92C40164" + "90";
        Assert.Equal(pinned, Convert.ToHexString(MessagePackSerializer.Serialize<WriteCommand>(set, KeyValueStore.SerializerOptions)));

        // An entry written before ConfiguredUsers existed: two fields.
        var older = MessagePackSerializer.Deserialize<WriteCommand>(Convert.FromHexString("92CC80" + "92" + "C40175" + "90"), KeyValueStore.SerializerOptions);
        Assert.Null(Assert.IsType<AclSetUserCommand>(older).ConfiguredUsers);
    }

    [Fact]
    public void Set_condition_values_are_pinned()
    {
        Assert.Equal(0, (byte)SetCondition.None);
        Assert.Equal(1, (byte)SetCondition.IfNotExists);
        Assert.Equal(2, (byte)SetCondition.IfExists);
        AssertDistinct<SetCondition>();
    }

    [Fact]
    public void Set_expiry_values_are_pinned()
    {
        Assert.Equal(0, (byte)SetExpiry.None);
        Assert.Equal(1, (byte)SetExpiry.RelativeMilliseconds);
        Assert.Equal(2, (byte)SetExpiry.AbsoluteMilliseconds);
        Assert.Equal(3, (byte)SetExpiry.KeepTtl);
        AssertDistinct<SetExpiry>();
    }

    private static void AssertDistinct<TEnum>()
        where TEnum : struct, Enum
    {
        var names = Enum.GetNames<TEnum>();
        var values = names.Select(static n => Convert.ToInt64(Enum.Parse<TEnum>(n), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(values.Length, values.Distinct().Count());
    }
}
