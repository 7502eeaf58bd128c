using RaftKv.Client.Protocol;

namespace RaftKv.Client.Locks;

/// <summary>
/// What one acquisition asks the server for: the command family (<c>LOCK</c>, <c>RWLOCK</c>, <c>SEMAPHORE</c>), the
/// name, and the family's extra argument (the RW mode, the semaphore's max-count). Extension and release need only the
/// family and the name.
/// </summary>
internal sealed class LockResource
{
    private LockResource(string family, string name, string? mode, int maxCount)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Family = family;
        Name = name;
        Mode = mode;
        MaxCount = maxCount;
    }

    /// <summary>The command prefix: <c>LOCK</c>, <c>RWLOCK</c> or <c>SEMAPHORE</c>.</summary>
    public string Family { get; }

    /// <summary>The lock's name (for the mutex: the string key it is held in).</summary>
    public string Name { get; }

    /// <summary><c>READ</c> or <c>WRITE</c> for a reader-writer lock; null otherwise.</summary>
    public string? Mode { get; }

    /// <summary>The semaphore's max-count; 1 for the other kinds.</summary>
    public int MaxCount { get; }

    public string AcquireCommand => Family + ".ACQUIRE";

    public string ExtendCommand => Family + ".EXTEND";

    public string ReleaseCommand => Family + ".RELEASE";

    public static LockResource Mutex(string name) => new("LOCK", name, null, 1);

    public static LockResource Read(string name) => new("RWLOCK", name, "READ", 1);

    public static LockResource Write(string name) => new("RWLOCK", name, "WRITE", 1);

    public static LockResource Semaphore(string name, int maxCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        return new("SEMAPHORE", name, null, maxCount);
    }

    /// <summary>
    /// The arguments of <see cref="AcquireCommand"/>: <c>key [mode|max-count] token ttl-ms [WAIT wait-ms] [OWNER owner]</c>,
    /// WAIT only when <paramref name="waitMilliseconds"/> is positive (WAIT 0 means the same as none).
    /// </summary>
    public RespArgument[] AcquireArguments(string token, long ttlMilliseconds, long waitMilliseconds, string owner)
    {
        var arguments = new List<RespArgument>(9) { Name };
        if (Mode is { } mode)
            arguments.Add(mode);
        else if (Family == "SEMAPHORE")
            arguments.Add(MaxCount);
        arguments.Add(token);
        arguments.Add(ttlMilliseconds);
        if (waitMilliseconds > 0)
        {
            arguments.Add("WAIT");
            arguments.Add(waitMilliseconds);
        }

        if (owner.Length > 0)
        {
            arguments.Add("OWNER");
            arguments.Add(owner);
        }

        return [.. arguments];
    }

    public override string ToString() => Mode is null ? $"{Family} {Name}" : $"{Family} {Name} {Mode}";
}
