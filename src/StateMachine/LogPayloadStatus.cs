namespace RaftKv.StateMachine;

/// <summary>What a log entry's payload turned out to be (<see cref="KeyValueStore.ReadLogPayload"/>).</summary>
public enum LogPayloadStatus
{
    /// <summary>A command batch, to apply.</summary>
    Batch,

    /// <summary>
    /// Bytes that are not a batch although nothing damaged them here (a verified envelope, or a payload written
    /// before envelopes): every replica holds the same bytes and skips the entry alike.
    /// </summary>
    Undecodable,

    /// <summary>
    /// This replica's copy is damaged (its envelope fails the checksum): the other replicas hold good copies, so
    /// skipping the entry here would make this replica differ from them.
    /// </summary>
    ChecksumMismatch,
}
