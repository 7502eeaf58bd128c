using System.Globalization;
using RaftKv.StateMachine.Snapshots;

namespace RaftKv.Node.Backup;

/// <summary>
/// Installs a backup as the only snapshot of an empty data directory, so the node started on it is a member of a new
/// cluster whose state is the backup's. Every member of the new cluster is restored from the same file.
/// </summary>
/// <remarks>
/// <para>
/// The snapshot keeps the backup's index: DotNext's log then starts right after it (the WAL's commit and last index
/// start at the snapshot's), so log positions — session ids, fencing tokens — go on increasing past every one the old
/// cluster handed out.
/// </para>
/// <para>
/// It takes term 0, not the backup's term. The new members start at term 0 (no vote record), elect in term 1 and
/// append entries of term 1 and later after it; with the old term T the log would go T, then 1: a member holding only
/// the snapshot would look more up to date (last term T) than members holding newer committed entries of term 1, and
/// could win an election and lose them. Term 0 keeps every member's terms increasing along the log.
/// </para>
/// </remarks>
public static class BackupRestore
{
    /// <summary>The term of an installed backup's snapshot (see the remarks).</summary>
    public const long InstalledTerm = 0;

    /// <summary>Reads the whole backup file, checking every checksum; returns where it was taken.</summary>
    /// <exception cref="BackupException">The file is missing, not a backup, or damaged (the message says where).</exception>
    public static SnapshotPosition Verify(string file)
    {
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            return SnapshotFormat.Verify(stream);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new BackupException($"{file} is not an intact RaftKv backup: {e.Message}", e);
        }
        catch (FileNotFoundException e)
        {
            throw new BackupException($"{file} does not exist.", e);
        }
    }

    /// <summary>Verifies <paramref name="file"/> and installs it into <paramref name="dataPath"/>, which must be empty or absent.</summary>
    /// <exception cref="BackupException">The directory holds data, or the file does not verify; nothing was changed.</exception>
    public static SnapshotPosition Install(string file, string dataPath)
    {
        var directory = Path.GetFullPath(dataPath);
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new BackupException(
                $"the data directory {directory} is not empty: a restore starts a new member from nothing, so move it away or delete it first.");
        }

        var position = Verify(file);
        var snapshots = Directory.CreateDirectory(Path.Combine(directory, "snapshots"));

        // Copied under a name DotNext does not read as a snapshot (no '-'), flushed, then renamed: a crash midway leaves
        // no half snapshot for the node to start from.
        var temporary = Path.Combine(snapshots.FullName, "restoring.tmp");
        using (var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
        using (var destination = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            source.CopyTo(destination);
            destination.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path.Combine(snapshots.FullName, string.Create(CultureInfo.InvariantCulture, $"{position.Index}-{InstalledTerm}")));
        return position;
    }
}
