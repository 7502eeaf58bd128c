using System.Globalization;
using System.Runtime.InteropServices;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace RaftKv.Node.Raft;

/// <summary>
/// A snapshot file on disk, named <c>index-term</c> as DotNext's own state machines name theirs: what the log is
/// compacted to and what the leader streams to a follower that is too far behind (InstallSnapshot).
/// </summary>
internal sealed class FileSnapshot(FileInfo file, long index, long term) : ISnapshot
{
    /// <summary>The file.</summary>
    public FileInfo File { get; } = file;

    /// <inheritdoc/>
    public long Index { get; } = index;

    /// <inheritdoc/>
    public long Term { get; } = term;

    long? IDataTransferObject.Length => File.Length;

    bool IDataTransferObject.IsReusable => true;

    /// <summary>The file name of the snapshot at <paramref name="index"/>/<paramref name="term"/>.</summary>
    public static string Name(long index, long term) => string.Create(CultureInfo.InvariantCulture, $"{index}-{term}");

    /// <summary>Reads a snapshot's position from its file name; false for any other file.</summary>
    public static bool TryParse(FileInfo file, out long index, out long term)
    {
        index = term = 0;
        var name = file.Name.AsSpan();
        var dash = name.IndexOf('-');
        return dash > 0
               && long.TryParse(name[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out index)
               && long.TryParse(name[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out term);
    }

    async ValueTask IDataTransferObject.WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
    {
        var stream = File.Open(new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read | FileShare.Delete,
            BufferSize = 1 << 16,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
        });
        await using (stream.ConfigureAwait(false))
            await writer.CopyFromAsync(stream, count: null, token).ConfigureAwait(false);
    }
}

/// <summary>Flushes a directory, so that a file renamed into it is still there after a crash.</summary>
internal static class DirectorySync
{
    private const int ReadOnlyDirectory = 0x10000; // O_RDONLY | O_DIRECTORY on Linux

    /// <summary>fsync of the directory <paramref name="path"/> (a no-op where the platform has no such call).</summary>
    public static void Flush(string path)
    {
        if (!OperatingSystem.IsLinux())
            return;
        var descriptor = Open(path, ReadOnlyDirectory);
        if (descriptor < 0)
            throw new IOException($"Cannot open the directory '{path}' to flush it (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (Fsync(descriptor) != 0)
                throw new IOException($"Flushing the directory '{path}' failed (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Open(string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Fsync(int descriptor);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Close(int descriptor);
}
