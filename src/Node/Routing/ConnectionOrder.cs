namespace RaftKv.Node.Routing;

/// <summary>
/// What one client connection's commands wait for so they take effect in the order sent: a read waits for the
/// connection's last write (<see cref="LastWrite"/>), a write for the reads sent before it (<see cref="WriteGate"/>).
/// Kept by <see cref="CommandRouter"/>; every field is guarded by <see cref="Lock"/>, because requests arrive on the
/// connection's read loop while a refused write is routed again elsewhere.
/// </summary>
public sealed class ConnectionOrder
{
    /// <summary>Guards the fields below.</summary>
    public Lock Lock { get; } = new();

    /// <summary>The last write this connection sent: a later read waits for it (read-your-writes within a pipeline).</summary>
    public Task? LastWrite { get; set; }

    /// <summary>
    /// What the connection's next write waits for before it is routed: reads sent before it that have not read yet, or
    /// an earlier write held back or being routed again.
    /// </summary>
    public Task? WriteGate { get; set; }

    /// <summary>Writes this connection has sent so far, numbering them to know which one came last.</summary>
    public long WritesAccepted { get; set; }
}
