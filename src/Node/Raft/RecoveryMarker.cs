using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftKv.Node.Raft;

/// <summary>
/// The file <c>&lt;DataPath&gt;/recovering</c>: this node's data was replaced or lost and it must not vote until its log
/// has caught up. Its presence is what counts (a node restarted mid-recovery stays in recovery); the fields say why.
/// </summary>
/// <param name="Reason">Why recovery was entered (<c>explicit</c>, <c>empty data directory</c>, or what was found lost).</param>
/// <param name="KnownIndex">A log index this node knows the cluster had committed (0 when none is known).</param>
/// <param name="Since">When recovery was entered (UTC).</param>
public sealed record RecoveryMarker(
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("knownIndex")] long KnownIndex,
    [property: JsonPropertyName("since")] DateTimeOffset Since)
{
    /// <summary>The marker's file name inside the data directory.</summary>
    public const string FileName = "recovering";

    // A marker is a few dozen bytes; anything much larger was not written by a node.
    private const int MaxBytes = 64 * 1024;

    /// <summary>The marker in <paramref name="dataPath"/>, or null when there is none.</summary>
    /// <exception cref="NodeStartupException">The file exists but is not a marker (a node cannot tell what it meant).</exception>
    public static RecoveryMarker? Read(string dataPath)
    {
        var path = Path.Combine(dataPath, FileName);
        if (!File.Exists(path))
            return null;
        try
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length > MaxBytes)
                throw new JsonException($"{bytes.Length} bytes, more than a marker holds");
            var marker = JsonSerializer.Deserialize<RecoveryMarker>(bytes);
            if (marker is null || string.IsNullOrEmpty(marker.Reason) || marker.KnownIndex < 0)
                throw new JsonException("reason missing or knownIndex negative");
            return marker;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new NodeStartupException(
                $"The recovery marker '{path}' cannot be read ({e.Message}). The node's data was being replaced: put the marker back as "
                + "{\"reason\":\"...\",\"knownIndex\":0,\"since\":\"...\"}, or empty the data directory and start with RaftKv:Storage:Recover=true.");
        }
    }

    /// <summary>Writes the marker durably: a temporary file, synced, renamed over, and the directory synced.</summary>
    public void Write(string dataPath)
    {
        Directory.CreateDirectory(dataPath);
        var path = Path.Combine(dataPath, FileName);
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(JsonSerializer.SerializeToUtf8Bytes(this));
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        SyncDirectory(dataPath);
    }

    /// <summary>Deletes the marker of <paramref name="dataPath"/> durably (the directory is synced after the unlink).</summary>
    public static void Delete(string dataPath)
    {
        File.Delete(Path.Combine(dataPath, FileName));
        SyncDirectory(dataPath);
    }

    // A rename or unlink is durable only once the directory holding it is: .NET cannot open a directory as a file.
    private static void SyncDirectory(string path)
    {
        var fd = Native.open(path, Native.ReadOnlyDirectory);
        if (fd < 0)
            throw new IOException($"Cannot open directory '{path}' to sync it (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (Native.fsync(fd) != 0)
                throw new IOException($"Cannot sync directory '{path}' (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally
        {
            _ = Native.close(fd);
        }
    }

    private static class Native
    {
        // O_RDONLY | O_DIRECTORY on Linux.
        public const int ReadOnlyDirectory = 0x10000;

        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int fsync(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);
    }
}
