using MessagePack;
using MessagePack.Formatters;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// The payload of one Raft log entry: every write that arrived while the previous entry replicated (group commit),
/// stamped with one cluster time by the leader.
/// </summary>
/// <remarks>
/// Written by <see cref="CommandBatchFormatter"/>: <c>[timestamp, commands, databases]</c>, plus <c>users</c> only when a
/// command runs as another user than <c>default</c>, so a batch without users has the bytes it always had.
/// </remarks>
[MessagePackObject]
[MessagePackFormatter(typeof(CommandBatchFormatter))]
public sealed class CommandBatch
{
    /// <summary>Cluster time (Unix ms) at which all commands of the batch apply.</summary>
    [Key(0)]
    public long Timestamp { get; set; }

    /// <summary>The commands, applied in order.</summary>
    [Key(1)]
    public WriteCommand[] Commands { get; set; } = [];

    /// <summary>
    /// The database each command runs in (the client's <c>SELECT</c>), parallel to <see cref="Commands"/>; null when
    /// every command runs in database 0, so the common case costs nothing in the log.
    /// </summary>
    [Key(2)]
    public byte[]? Databases { get; set; }

    /// <summary>
    /// The ACL user each command runs as (the client's <c>AUTH</c>), parallel to <see cref="Commands"/>; null when every
    /// command runs as <c>default</c>, so the common case costs nothing in the log, and a null entry is <c>default</c>.
    /// A command whose user no longer exists when it applies answers <c>-NOPERM</c> and changes nothing.
    /// </summary>
    [Key(3)]
    public string?[]? Users { get; set; }
}

/// <summary>
/// <see cref="CommandBatch"/>'s encoding: the array MessagePack's attributes give it (keys 0–2), with key 3
/// (<see cref="CommandBatch.Users"/>) written only when present. Reads arrays of 2, 3 or 4 (and skips any later key, as
/// the generated formatter did).
/// </summary>
public sealed class CommandBatchFormatter : IMessagePackFormatter<CommandBatch?>
{
    /// <inheritdoc/>
    public void Serialize(ref MessagePackWriter writer, CommandBatch? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }

        var withUsers = value.Users is not null;
        writer.WriteArrayHeader(withUsers ? 4 : 3);
        writer.Write(value.Timestamp);
        options.Resolver.GetFormatterWithVerify<WriteCommand[]>().Serialize(ref writer, value.Commands, options);
        options.Resolver.GetFormatterWithVerify<byte[]?>().Serialize(ref writer, value.Databases, options);
        if (withUsers)
            options.Resolver.GetFormatterWithVerify<string?[]?>().Serialize(ref writer, value.Users, options);
    }

    /// <inheritdoc/>
    public CommandBatch? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil())
            return null;

        options.Security.DepthStep(ref reader);
        try
        {
            var batch = new CommandBatch();
            var count = reader.ReadArrayHeader();
            for (var i = 0; i < count; i++)
            {
                switch (i)
                {
                    case 0:
                        batch.Timestamp = reader.ReadInt64();
                        break;
                    case 1:
                        batch.Commands = options.Resolver.GetFormatterWithVerify<WriteCommand[]>().Deserialize(ref reader, options);
                        break;
                    case 2:
                        batch.Databases = options.Resolver.GetFormatterWithVerify<byte[]?>().Deserialize(ref reader, options);
                        break;
                    case 3:
                        batch.Users = options.Resolver.GetFormatterWithVerify<string?[]?>().Deserialize(ref reader, options);
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            return batch;
        }
        finally
        {
            reader.Depth--;
        }
    }
}
