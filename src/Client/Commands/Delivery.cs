namespace RaftKv.Client.Commands;

/// <summary>How a command travels and what a retry of it means.</summary>
internal enum Delivery
{
    /// <summary>Sent as is and retried freely: reads, and commands whose repetition is harmless.</summary>
    Idempotent,

    /// <summary>Wrapped in <c>SESSION.EXEC</c> and retried with the same sequence number: applied exactly once.</summary>
    ExactlyOnce,

    /// <summary>Sent as is but unsafe to repeat: an attempt whose reply was lost ends in an unknown outcome.</summary>
    AtMostOnce,
}
