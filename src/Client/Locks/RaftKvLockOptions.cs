namespace RaftKv.Client;

/// <summary>
/// Settings of <see cref="RaftKvDistributedLock"/>, <see cref="RaftKvDistributedReaderWriterLock"/> and
/// <see cref="RaftKvDistributedSemaphore"/>.
/// </summary>
public sealed class RaftKvLockOptions
{
    // The longest owner name the server takes (docs/resp-extensions.md).
    private const int MaxOwnerBytes = 1024;

    /// <summary>
    /// The lock key's TTL: how long the lock outlives a holder that stopped extending it (crashed, cut off).
    /// The handle extends it automatically while held.
    /// </summary>
    public TimeSpan Expiry { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The largest difference between the client's clock rate and the cluster's over one lease. The handle counts the
    /// lock as held only for <see cref="Expiry"/> − elapsed since the acquire (or last extension) was sent − this skew;
    /// past that, without a confirmed extension, <see cref="RaftKvLockHandle.HandleLostToken"/> fires.
    /// </summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often a held lock is extended; null means a third of <see cref="Expiry"/>.</summary>
    public TimeSpan? ExtensionCadence { get; set; }

    /// <summary>
    /// Wait for a busy lock in the server's FIFO queue (default): the acquire blocks on the server
    /// (<c>LOCK.ACQUIRE ... WAIT timeout-ms</c>) and is granted by the very log entry that frees the lock. False polls
    /// instead, one attempt after every pause between <see cref="MinBusyWaitSleepTime"/> and
    /// <see cref="MaxBusyWaitSleepTime"/>, as DistributedLock.Redis does against Redis: unfair (a newcomer can beat a
    /// client that waited for seconds) and slower to hand over, kept for comparison.
    /// </summary>
    public bool Queued { get; set; } = true;

    /// <summary>
    /// The name <c>LOCK.INFO</c> shows for this client's holders and waiters; null means the machine name and the
    /// process id (<c>host:pid</c>), empty sends none.
    /// </summary>
    public string? Owner { get; set; }

    /// <summary>The shortest pause between two attempts to take a busy lock when not <see cref="Queued"/>.</summary>
    public TimeSpan MinBusyWaitSleepTime { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>The longest pause between two attempts to take a busy lock when not <see cref="Queued"/> (each pause is drawn at random in between).</summary>
    public TimeSpan MaxBusyWaitSleepTime { get; set; } = TimeSpan.FromMilliseconds(800);

    /// <summary>The owner name sent with every acquire.</summary>
    internal string OwnerName => Owner ?? $"{Environment.MachineName}:{Environment.ProcessId}";

    internal TimeSpan Cadence => ExtensionCadence ?? Expiry / 3;

    /// <summary>How long after it was requested a lease can be counted on.</summary>
    internal TimeSpan Validity => Expiry - MaxClockSkew;

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        if (Expiry < TimeSpan.FromMilliseconds(1))
            throw new ArgumentException($"{nameof(Expiry)} must be at least 1 ms.", nameof(Expiry));
        if (MaxClockSkew < TimeSpan.Zero || MaxClockSkew >= Expiry)
            throw new ArgumentException($"{nameof(MaxClockSkew)} must be at least zero and below {nameof(Expiry)}.", nameof(MaxClockSkew));
        if (Cadence <= TimeSpan.Zero || Cadence >= Validity)
            throw new ArgumentException($"{nameof(ExtensionCadence)} must be positive and below {nameof(Expiry)} − {nameof(MaxClockSkew)}.", nameof(ExtensionCadence));
        if (Owner is not null && System.Text.Encoding.UTF8.GetByteCount(Owner) > MaxOwnerBytes)
            throw new ArgumentException($"{nameof(Owner)} must be at most {MaxOwnerBytes} bytes in UTF-8 (the server's limit).", nameof(Owner));
        if (MinBusyWaitSleepTime < TimeSpan.Zero || MaxBusyWaitSleepTime < MinBusyWaitSleepTime)
            throw new ArgumentException($"Busy-wait sleep times must satisfy 0 ≤ {nameof(MinBusyWaitSleepTime)} ≤ {nameof(MaxBusyWaitSleepTime)}.", nameof(MaxBusyWaitSleepTime));
    }

    /// <summary>The validated copy a lock keeps of <paramref name="options"/> (later changes to them do not leak in).</summary>
    internal static RaftKvLockOptions ValidatedCopy(RaftKvLockOptions? options)
    {
        var copy = (options ?? new RaftKvLockOptions()).Snapshot();
        copy.Validate();
        return copy;
    }

    internal RaftKvLockOptions Snapshot() => new()
    {
        Expiry = Expiry,
        MaxClockSkew = MaxClockSkew,
        ExtensionCadence = ExtensionCadence,
        MinBusyWaitSleepTime = MinBusyWaitSleepTime,
        MaxBusyWaitSleepTime = MaxBusyWaitSleepTime,
        Queued = Queued,
        Owner = OwnerName,
    };
}
