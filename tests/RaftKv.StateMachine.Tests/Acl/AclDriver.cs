using System.Text;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests.Acl;

/// <summary>
/// A store driven as the node drives it for an authenticated connection: <see cref="AclCheck.Check"/> against the
/// connection's user first (the node's job), then the parser; a write applies in a one-command batch carrying the user.
/// Every batch is kept, so a replica can replay the same log.
/// </summary>
internal sealed class AclDriver
{
    public const long T = 1_700_000_000_000;

    private long logIndex;

    public KeyValueStore Store { get; } = new();

    public List<CommandBatch> Log { get; } = [];

    public Reply Exec(string user, params string[] argv) => Exec(user, Args(argv));

    public Reply Exec(string user, byte[][] argv)
    {
        var memory = argv.Select(static a => (ReadOnlyMemory<byte>)a).ToArray();
        if (Store.Acl.Find(user) is not { } found)
            throw new InvalidOperationException($"no user {user}");
        if (AclCheck.Check(found, memory) is { } denied)
            return denied;
        var parsed = CommandParser.Parse(memory);
        return parsed.Outcome switch
        {
            ParseOutcome.Error => parsed.Error!,
            ParseOutcome.Write => Apply(user, parsed.Write!),
            ParseOutcome.Read => Store.Read(parsed.Read!, 0, T, found),
            _ => throw new InvalidOperationException($"Not a state machine command: {argv[0]}"),
        };
    }

    /// <summary>Applies <paramref name="command"/> as <paramref name="user"/>, past any check (a command in flight).</summary>
    public Reply Apply(string user, WriteCommand command)
    {
        var batch = new CommandBatch
        {
            Timestamp = T + logIndex,
            Commands = [command],
            Users = user == AclTable.DefaultUserName ? null : [user],
        };
        Log.Add(Roundtrip(batch));
        return Store.Apply(batch, ++logIndex).Single();
    }

    public Reply Admin(params string[] argv) => Exec(AclTable.DefaultUserName, argv);

    /// <summary>The batch as a replica decodes it from the log.</summary>
    public static CommandBatch Roundtrip(CommandBatch batch)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch);
        return KeyValueStore.ReadBatch(new System.Buffers.ReadOnlySequence<byte>(buffer.WrittenMemory));
    }

    public static byte[][] Args(params string[] argv) => [.. argv.Select(Encoding.UTF8.GetBytes)];

    public static string Text(Reply reply) => reply.Kind switch
    {
        ReplyKind.Bulk => Encoding.Latin1.GetString(reply.Bulk!),
        ReplyKind.Status or ReplyKind.Error => reply.Text!,
        ReplyKind.Integer => ":" + reply.Integer,
        _ => reply.ToString(),
    };

    public static string[] Lines(Reply reply) => [.. reply.Items!.Select(Text)];
}
