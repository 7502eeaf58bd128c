namespace RaftKv.StateMachine.Commands;

/// <summary>
/// What a command executes against: the store, the database the client selected, and the time — the entry's cluster
/// time for writes, <c>max(node clock, cluster time)</c> for reads. Commands read no clock of their own.
/// </summary>
public readonly struct CommandContext(KeyValueStore store, int database, long now)
{
    /// <summary>The whole replicated state (for commands that span databases).</summary>
    public KeyValueStore Store { get; } = store;

    /// <summary>The selected database index, 0 to <see cref="KeyValueStore.DatabaseCount"/> - 1.</summary>
    public int Database { get; } = database;

    /// <summary>The time the command executes at (Unix ms).</summary>
    public long Now { get; } = now;

    /// <summary>The selected database's keys.</summary>
    public Keyspace Keyspace => Store.Databases[Database];
}
