namespace RaftKv.StateMachine;

/// <summary>
/// Cluster time: Unix milliseconds stamped by the leader on every log entry. It never goes backwards; the state machine
/// reads no clock, so every replica judges expiry at the same instant.
/// </summary>
public static class ClusterTime
{
    /// <summary>The expiry of a key that has none.</summary>
    public const long NoExpiry = long.MaxValue;

    /// <summary>
    /// The time a leader stamps on a new entry: its own clock, but never earlier than the last stamp it applied or
    /// proposed, so cluster time is monotonic across leader changes even when clocks disagree.
    /// </summary>
    public static long NextStamp(long localClockMs, long lastStampMs) => Math.Max(localClockMs, lastStampMs);
}
