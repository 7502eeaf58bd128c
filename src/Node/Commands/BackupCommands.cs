using System.Text;
using RaftKv.Node.Backup;
using RaftKv.StateMachine;

namespace RaftKv.Node.Commands;

/// <summary>
/// <c>BACKUP.START</c> → <c>[id, index, term, cluster-time, bytes, keys]</c> once the backup file is complete;
/// <c>BACKUP.READ id offset count</c> → a bulk of at most <c>count</c> (≤ 16 MB) bytes, empty at the end;
/// <c>BACKUP.END id</c> → <c>+OK</c>, and the file is deleted. See <see cref="OnlineBackup"/> and docs/storage.md.
/// </summary>
public sealed class BackupCommands(OnlineBackup backups)
{
    /// <summary>Runs a BACKUP.* command (its arity already checked).</summary>
    public async ValueTask<Reply> ExecuteAsync(string name, ReadOnlyMemory<byte>[] argv)
    {
        switch (name)
        {
            case "backup.start":
                return await backups.StartAsync(CancellationToken.None).ConfigureAwait(false) switch
                {
                    BackupStartResult.Started(var id, var written) => Reply.FromArray(
                    [
                        Reply.FromBulk(id), Reply.FromInteger(written.Index), Reply.FromInteger(written.Term),
                        Reply.FromInteger(written.ClusterTime), Reply.FromInteger(written.Bytes), Reply.FromInteger(written.Keys),
                    ]),
                    BackupStartResult.Busy => NodeReplies.BackupInProgress,
                    BackupStartResult.NoLeader => NodeReplies.NoLeader,
                    BackupStartResult.Failed(var reason) => NodeReplies.BackupFailed(reason),
                    _ => NodeReplies.InternalError,
                };
            case "backup.read":
                if (!RedisNumbers.TryParseInt64(argv[2].Span, out var offset) || !RedisNumbers.TryParseInt64(argv[3].Span, out var count))
                    return NodeReplies.NotAnInteger;
                if (count is < 1 or > OnlineBackup.MaxReadBytes)
                    return NodeReplies.BackupCountOutOfRange;
                return await backups.ReadAsync(Id(argv[1]), offset, (int)count, CancellationToken.None).ConfigureAwait(false) switch
                {
                    BackupReadResult.Data(var bytes) => Reply.FromBulk(bytes),
                    BackupReadResult.OffsetOutOfRange(var length) => NodeReplies.BackupOffsetOutOfRange(length),
                    _ => NodeReplies.NoSuchBackup,
                };
            default:
                return backups.End(Id(argv[1])) ? Reply.Ok : NodeReplies.NoSuchBackup;
        }
    }

    // Ids are lower-case hex; anything else simply matches no backup.
    private static string Id(ReadOnlyMemory<byte> argument) => Encoding.UTF8.GetString(argument.Span);
}
