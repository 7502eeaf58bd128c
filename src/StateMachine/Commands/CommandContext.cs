using RaftKv.StateMachine.Acl;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// What a command executes against: the store, the database the client selected, and the time — the entry's cluster
/// time for writes, <c>max(node clock, cluster time)</c> for reads. Commands read no clock of their own.
/// </summary>
/// <param name="store">The replicated state.</param>
/// <param name="database">The selected database.</param>
/// <param name="now">The time the command executes at (Unix ms).</param>
/// <param name="logPosition">Where the write sits in the log (see <see cref="LogPosition"/>); 0 for reads.</param>
/// <param name="user">The user the command runs as; null for <c>default</c>.</param>
public readonly struct CommandContext(KeyValueStore store, int database, long now, long logPosition = 0, AclUser? user = null)
{
    private readonly AclUser? user = user;

    /// <summary>Commands one log entry may carry: positions in an entry fit below this.</summary>
    public const int MaxCommandsPerEntry = 65_535;

    /// <summary>The whole replicated state (for commands that span databases).</summary>
    public KeyValueStore Store { get; } = store;

    /// <summary>The selected database index, 0 to <see cref="KeyValueStore.DatabaseCount"/> - 1.</summary>
    public int Database { get; } = database;

    /// <summary>The time the command executes at (Unix ms).</summary>
    public long Now { get; } = now;

    /// <summary>
    /// The write's place in the log, <c>log index × 65536 + position in the entry</c>: identical on every replica,
    /// unique, and strictly increasing in apply order. Fencing tokens and session ids are made of it. 0 for reads.
    /// </summary>
    public long LogPosition { get; } = logPosition;

    /// <summary>
    /// The user the command runs as (resolved in the ACL table when the command applied or read): scripts' calls and
    /// EXEC's commands are checked against it, sessions belong to it. <c>default</c> when none was given.
    /// </summary>
    public AclUser User => user ?? Store.Acl.Default;

    /// <summary>The name of <see cref="User"/>.</summary>
    public string UserName => User.Name;

    /// <summary>The selected database's keys.</summary>
    public Keyspace Keyspace => Store.Databases[Database];

    /// <summary>The same context in another database (a script's or a transaction's <c>SELECT</c>).</summary>
    public CommandContext WithDatabase(int database) => new(Store, database, Now, LogPosition, user);

    /// <summary>The log position of the command at <paramref name="position"/> in the entry at <paramref name="index"/>.</summary>
    public static long ToLogPosition(long index, int position) => (index << 16) + position;
}
