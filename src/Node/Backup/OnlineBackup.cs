using System.Security.Cryptography;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;
using RaftKv.Node.Raft;
using RaftKv.Node.Routing;

namespace RaftKv.Node.Backup;

/// <summary>
/// The node's side of an online backup (<c>BACKUP.START</c>, <c>BACKUP.READ</c>, <c>BACKUP.END</c>): after a
/// linearizable read barrier, a point-in-time snapshot of the applied state is streamed to a file under
/// <c>&lt;DataPath&gt;/backups/</c> while apply goes on; the client then reads it in pieces and ends it.
/// </summary>
/// <remarks>
/// <para>
/// The file, not memory, holds the backup, so it may be of any size; a client reads it in slices of at most
/// <see cref="MaxReadBytes"/>. One backup at a time per node, from START to END or until it has not been read for
/// <see cref="NodeOptions.BackupIdleTimeout"/> (a client that went away): a second START is refused, not queued, so
/// an administrator's retry loop cannot fill the disk.
/// </para>
/// <para>
/// The barrier makes the backup contain every write acknowledged before START was sent, wherever it was acknowledged:
/// on a follower it is a read index from the leader. The id is random (unguessable), though only administrators may
/// send these commands at all.
/// </para>
/// </remarks>
public sealed partial class OnlineBackup(
    RaftStateMachine stateMachine,
    ReadBarrier barrier,
    TimeProvider time,
    IOptions<NodeOptions> options,
    ILogger<OnlineBackup> logger) : IDisposable
{
    /// <summary>The most bytes one <c>BACKUP.READ</c> returns (16 MB).</summary>
    public const int MaxReadBytes = 16 << 20;

    private readonly string directory = Path.Combine(Path.GetFullPath(options.Value.DataPath), "backups");
    private readonly TimeSpan idleTimeout = options.Value.BackupIdleTimeout;
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock gate = new();
    private Export? current;

    /// <summary>The backup file's directory.</summary>
    public string Directory => directory;

    /// <summary>
    /// Takes a backup: a read barrier, then the snapshot written to a new file. Completes when the file is complete;
    /// the work goes on (and the file stays for <c>BACKUP.READ</c>) even if <paramref name="token"/> is cancelled.
    /// </summary>
    public async Task<BackupStartResult> StartAsync(CancellationToken token)
    {
        Export export;
        lock (gate)
        {
            if (current is not null)
                return new BackupStartResult.Busy();
            export = new Export(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), directory);
            current = export;
        }

        // The caller's cancellation (its connection closed) does not stop the writing: the file is removed by the idle
        // timeout instead, so a half-written file never lingers and the slot is freed either way.
        var work = WriteAsync(export);
        return await work.WaitAsync(token).ConfigureAwait(false);
    }

    private async Task<BackupStartResult> WriteAsync(Export export)
    {
        try
        {
            // Anything left here is from a process that stopped mid-backup: only this node's one backup uses it.
            System.IO.Directory.CreateDirectory(directory);
            foreach (var stale in System.IO.Directory.EnumerateFiles(directory))
                File.Delete(stale);

            using (var barrierTimeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token))
            {
                barrierTimeout.CancelAfter(options.Value.ReadBarrierTimeout);
                await barrier.WaitAsync(barrierTimeout.Token).ConfigureAwait(false);
            }

            SnapshotWritten written;
            var stream = new FileStream(export.Path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.Read,
                Options = FileOptions.Asynchronous, BufferSize = 1 << 16,
            });
            await using (stream.ConfigureAwait(false))
            {
                written = await stateMachine.WriteBackupAsync(stream, stopping.Token).ConfigureAwait(false);
                await stream.FlushAsync(stopping.Token).ConfigureAwait(false);
            }

            export.Ready(written, File.OpenHandle(export.Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous));
            export.Touch(time.GetTimestamp());
            export.Timer = time.CreateTimer(static state => ((OnlineBackup)state!).ExpireIdle(), this, idleTimeout, idleTimeout);
            LogBackupWritten(logger, export.Id, written.Index, written.Term, written.Bytes);
            return new BackupStartResult.Started(export.Id, written);
        }
        catch (Exception e) when (e is QuorumUnreachableException or MemberUnavailableException or OperationCanceledException or TimeoutException
            && !stopping.IsCancellationRequested)
        {
            Remove(export);
            return new BackupStartResult.NoLeader();
        }
        catch (Exception e)
        {
            LogBackupFailed(logger, export.Id, e);
            Remove(export);
            return new BackupStartResult.Failed(e.Message);
        }
    }

    /// <summary>
    /// Up to <paramref name="count"/> bytes of backup <paramref name="id"/> from <paramref name="offset"/> (fewer at
    /// its end, none at its length).
    /// </summary>
    public async Task<BackupReadResult> ReadAsync(string id, long offset, int count, CancellationToken token)
    {
        Export? export;
        lock (gate)
        {
            export = current is { Id: var known } && known == id ? current : null;
            if (export is null || export.Written is null)
                return new BackupReadResult.Unknown();
            if (offset < 0 || offset > export.Written.Bytes)
                return new BackupReadResult.OffsetOutOfRange(export.Written.Bytes);
            export.Readers++;
        }

        try
        {
            export.Touch(time.GetTimestamp());
            var buffer = new byte[(int)Math.Min(count, export.Written.Bytes - offset)];
            var filled = 0;
            while (filled < buffer.Length)
            {
                var read = await RandomAccess.ReadAsync(export.Handle!, buffer.AsMemory(filled), offset + filled, token).ConfigureAwait(false);
                if (read == 0)
                    throw new IOException($"The backup file '{export.Path}' is shorter than written.");
                filled += read;
            }

            return new BackupReadResult.Data(buffer);
        }
        finally
        {
            lock (gate)
            {
                if (--export.Readers == 0 && export.Ended)
                    export.Dispose();
            }
        }
    }

    /// <summary>Ends backup <paramref name="id"/> and deletes its file; false when there is no such backup.</summary>
    public bool End(string id)
    {
        Export? export;
        lock (gate)
        {
            export = current is { Id: var known, Written: not null } && known == id ? current : null;
        }

        if (export is null)
            return false;
        Remove(export);
        LogBackupEnded(logger, id);
        return true;
    }

    private void ExpireIdle()
    {
        Export? export;
        lock (gate)
        {
            export = current is { Written: not null } candidate && candidate.IdleFor(time) >= idleTimeout ? current : null;
        }

        if (export is null)
            return;
        Remove(export);
        LogBackupExpired(logger, export.Id, idleTimeout);
    }

    private void Remove(Export export)
    {
        lock (gate)
        {
            if (ReferenceEquals(current, export))
                current = null;
            export.Ended = true;
            if (export.Readers == 0)
                export.Dispose();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        stopping.Cancel();
        Export? export;
        lock (gate)
        {
            export = current;
        }

        if (export is not null)
            Remove(export);
        stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Backup {Id} written: index {Index}, term {Term}, {Bytes} bytes")]
    private static partial void LogBackupWritten(ILogger logger, string id, long index, long term, long bytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Backup {Id} failed")]
    private static partial void LogBackupFailed(ILogger logger, string id, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backup {Id} ended and deleted")]
    private static partial void LogBackupEnded(ILogger logger, string id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backup {Id} deleted: not read for {Timeout}")]
    private static partial void LogBackupExpired(ILogger logger, string id, TimeSpan timeout);

    // One backup file: written, then readable until ended; its handle is closed when the last read of it finishes.
    private sealed class Export(string id, string directory) : IDisposable
    {
        private long lastTouched;
        private bool disposed;

        public string Id { get; } = id;

        public string Path { get; } = System.IO.Path.Combine(directory, id + ".backup");

        public SnapshotWritten? Written { get; private set; }

        public SafeFileHandle? Handle { get; private set; }

        public ITimer? Timer { get; set; }

        public int Readers { get; set; }

        public bool Ended { get; set; }

        public void Ready(SnapshotWritten written, SafeFileHandle handle)
        {
            Handle = handle;
            Written = written;
        }

        public void Touch(long timestamp) => Volatile.Write(ref lastTouched, timestamp);

        public TimeSpan IdleFor(TimeProvider time) => time.GetElapsedTime(Volatile.Read(ref lastTouched));

        public void Dispose()
        {
            if (disposed)
                return;
            disposed = true;
            Timer?.Dispose();
            Handle?.Dispose();
            File.Delete(Path);
        }
    }
}

/// <summary>What <see cref="OnlineBackup.StartAsync"/> did.</summary>
public abstract record BackupStartResult
{
    /// <summary>The backup is written; read it with <paramref name="Id"/>.</summary>
    public sealed record Started(string Id, SnapshotWritten Written) : BackupStartResult;

    /// <summary>Another backup is in progress on this node.</summary>
    public sealed record Busy : BackupStartResult;

    /// <summary>The read barrier found no leader in time: nothing was written.</summary>
    public sealed record NoLeader : BackupStartResult;

    /// <summary>Writing failed (the disk, most likely); nothing is left behind.</summary>
    public sealed record Failed(string Reason) : BackupStartResult;
}

/// <summary>What <see cref="OnlineBackup.ReadAsync"/> found.</summary>
public abstract record BackupReadResult
{
    /// <summary>The bytes read (empty at the end of the file).</summary>
    public sealed record Data(byte[] Bytes) : BackupReadResult;

    /// <summary>No backup with that id on this node (ended, expired, never started here, or still being written).</summary>
    public sealed record Unknown : BackupReadResult;

    /// <summary>The offset is negative or past the file's <paramref name="Length"/>.</summary>
    public sealed record OffsetOutOfRange(long Length) : BackupReadResult;
}
