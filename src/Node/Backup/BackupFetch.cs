using System.Globalization;
using RaftKv.Node.Raft;

namespace RaftKv.Node.Backup;

/// <summary>
/// The client side of an online backup: <c>BACKUP.START</c> on one node, <c>BACKUP.READ</c> until the file is
/// whole, <c>BACKUP.END</c>; the bytes go to <c>FILE.part</c>, which is verified (every block's checksum and the
/// trailer) and flushed before it is renamed to FILE. So FILE, once it exists, is a complete, checked backup.
/// </summary>
public static class BackupFetch
{
    /// <summary>Bytes asked for per <c>BACKUP.READ</c>: a few round trips per hundred megabytes, little memory.</summary>
    public const int ReadBytes = 4 << 20;

    /// <summary>Fetches a backup from <paramref name="endpoint"/> into <paramref name="file"/>.</summary>
    /// <exception cref="BackupException">The node refused, the transfer broke, or the file does not verify.</exception>
    public static async Task<SnapshotWritten> FetchAsync(BackupEndpoint endpoint, string file, CancellationToken token)
    {
        if (File.Exists(file))
            throw new BackupException($"{file} exists: a backup never overwrites a file.");
        var part = file + ".part";
        var connection = await BackupConnection.ConnectAsync(endpoint, token).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var started = await connection.SendAsync(["BACKUP.START"], token).ConfigureAwait(false);
            if (started.Error is { } refused)
                throw new BackupException($"{endpoint.Host}:{endpoint.Port} refused BACKUP.START: {refused}");
            var (id, taken) = Started(started);
            try
            {
                await CopyAsync(connection, id, taken.Bytes, part, token).ConfigureAwait(false);
                var verified = BackupRestore.Verify(part);
                if (verified.Index != taken.Index || verified.Term != taken.Term)
                {
                    throw new BackupException(string.Create(CultureInfo.InvariantCulture,
                        $"the file says index {verified.Index}, term {verified.Term}; the node said {taken.Index}, {taken.Term}."));
                }

                File.Move(part, file, overwrite: false);
                return taken;
            }
            catch
            {
                File.Delete(part);
                throw;
            }
            finally
            {
                // The node deletes it after its idle timeout anyway; END frees the slot and the disk now.
                await connection.SendAsync(["BACKUP.END", id], CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private static (string Id, SnapshotWritten Taken) Started(BackupReply reply)
        => reply.Items is [{ Bulk: { } id }, { Integer: { } index }, { Integer: { } term }, { Integer: { } clusterTime }, { Integer: { } bytes }, { Integer: { } keys }]
            && bytes >= 0
            ? (System.Text.Encoding.UTF8.GetString(id.Span), new SnapshotWritten(index, term, clusterTime, bytes, keys))
            : throw new BackupException("BACKUP.START answered something other than [id, index, term, cluster-time, bytes, keys].");

    private static async Task CopyAsync(BackupConnection connection, string id, long length, string part, CancellationToken token)
    {
        var output = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        await using (output.ConfigureAwait(false))
        {
            for (long offset = 0; offset < length;)
            {
                var count = (int)Math.Min(ReadBytes, length - offset);
                var reply = await connection.SendAsync(
                    ["BACKUP.READ", id, offset.ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture)],
                    token).ConfigureAwait(false);
                if (reply.Error is { } error)
                    throw new BackupException($"BACKUP.READ at offset {offset} failed: {error}");
                if (reply.Bulk is not { Length: > 0 } bytes || bytes.Length > count)
                    throw new BackupException($"BACKUP.READ at offset {offset} returned {reply.Bulk?.Length ?? 0} bytes of the {count} asked.");
                await output.WriteAsync(bytes, token).ConfigureAwait(false);
                offset += bytes.Length;
            }

            await output.FlushAsync(token).ConfigureAwait(false);
            output.Flush(flushToDisk: true);
        }
    }
}
