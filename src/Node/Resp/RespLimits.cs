namespace RaftKv.Node.Resp;

/// <summary>
/// Limits on what a client may send and hold, bound from the configuration section <see cref="SectionName"/>.
/// The defaults are Redis's, so a request Redis accepts is accepted here too, except for the output buffer limit of
/// normal clients (Redis has none; see <see cref="OutputBufferHardLimit"/>).
/// </summary>
/// <remarks>
/// <c>CONFIG SET</c> can change <c>maxclients</c>, <c>timeout</c>, <c>client-output-buffer-limit</c>,
/// <c>client-query-buffer-limit</c> and <c>proto-max-bulk-len</c> while the node runs (<see cref="ClientLimits"/>);
/// these values are where they start.
/// </remarks>
public sealed class RespLimits
{
    /// <summary>The configuration section these limits are bound from.</summary>
    public const string SectionName = "RaftKv:Limits";

    /// <summary>RaftKv's default hard output buffer limit of a client: 1 GiB.</summary>
    public const long DefaultOutputBufferHardLimit = 1024L * 1024 * 1024;

    /// <summary>RaftKv's default soft output buffer limit of a client: 256 MiB.</summary>
    public const long DefaultOutputBufferSoftLimit = 256L * 1024 * 1024;

    /// <summary>RaftKv's default time a client may stay over the soft output buffer limit: 60 s.</summary>
    public const long DefaultOutputBufferSoftSeconds = 60;

    /// <summary>
    /// The largest bulk argument, in bytes (Redis's <c>proto-max-bulk-len</c>, 512 MB). A longer declared length is
    /// answered with <c>Protocol error: invalid bulk length</c>.
    /// </summary>
    public long MaxBulkLength { get; set; } = 512L * 1024 * 1024;

    /// <summary>
    /// The most arguments one multibulk request may declare (1024 * 1024, the bound Redis long used). More is answered
    /// with <c>Protocol error: invalid multibulk length</c>.
    /// </summary>
    public int MaxArguments { get; set; } = 1024 * 1024;

    /// <summary>
    /// The longest inline request line and the longest <c>*N</c> / <c>$N</c> header line, in bytes (Redis's
    /// <c>PROTO_INLINE_MAX_SIZE</c>, 64 KB).
    /// </summary>
    public int MaxInlineLength { get; set; } = 64 * 1024;

    /// <summary>
    /// The largest single request, in bytes (Redis's <c>client-query-buffer-limit</c>, 1 GB). A client whose request
    /// grows past it is disconnected without a reply, as Redis does. At most <see cref="Array.MaxLength"/>, because a
    /// request's arguments are held in one array.
    /// </summary>
    public long MaxQueryBuffer { get; set; } = 1024L * 1024 * 1024;

    /// <summary>
    /// The most commands one <c>MULTI</c> may queue (Redis has no such limit). <c>EXEC</c> proposes them as one log
    /// entry, so this bounds what one client can hold on the node and put into one entry. A command beyond it is
    /// refused and the transaction discarded (<c>EXECABORT</c>).
    /// </summary>
    public int MaxTransactionCommands { get; set; } = 10_000;

    /// <summary>
    /// The most keys one connection may <c>WATCH</c> at once (Redis has no such limit); <c>EXEC</c> carries each into
    /// the log with a hash of what it was. A <c>WATCH</c> that would exceed it is refused and watches nothing.
    /// </summary>
    public int MaxWatchedKeys { get; set; } = 10_000;

    /// <summary>
    /// The most clients connected at once (Redis's <c>maxclients</c>, 10000). One more is answered
    /// <c>-ERR max number of clients reached</c> and closed.
    /// </summary>
    public long MaxClients { get; set; } = 10_000;

    /// <summary>
    /// Seconds a client may stay idle before it is closed (Redis's <c>timeout</c>); 0, the default, never closes one.
    /// A client waiting for a reply, or whose replies are not all sent yet, is not idle.
    /// </summary>
    public long IdleTimeoutSeconds { get; set; }

    /// <summary>
    /// A client is disconnected as soon as this many bytes of its replies are computed but not yet taken by its socket
    /// (the <c>hard</c> of Redis's <c>client-output-buffer-limit normal</c>); 0 = no limit. Redis has none for
    /// normal clients; RaftKv's default, 1 GiB, lets any single legal reply through (a value is at most
    /// <see cref="MaxBulkLength"/>, 512 MB) with another as large behind it, and stops a client that sends requests
    /// without reading the replies from holding more than that on the node.
    /// </summary>
    public long OutputBufferHardLimit { get; set; } = DefaultOutputBufferHardLimit;

    /// <summary>
    /// A client holding at least this many bytes of output for longer than <see cref="OutputBufferSoftSeconds"/> is
    /// disconnected (the <c>soft</c> of <c>client-output-buffer-limit normal</c>); 0 = no limit. Default 256 MiB: a
    /// client that reads at all drains that in well under the default minute.
    /// </summary>
    public long OutputBufferSoftLimit { get; set; } = DefaultOutputBufferSoftLimit;

    /// <summary>How long a client may stay over <see cref="OutputBufferSoftLimit"/>, in seconds (default 60).</summary>
    public long OutputBufferSoftSeconds { get; set; } = DefaultOutputBufferSoftSeconds;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first limit that is out of range.</summary>
    public void Validate()
    {
        if (MaxBulkLength < 0 || MaxBulkLength > StateMachine.Commands.IStringLengthLimited.MaxLengthCeiling)
            throw Invalid(nameof(MaxBulkLength), $"must be between 0 and {StateMachine.Commands.IStringLengthLimited.MaxLengthCeiling}");
        if (MaxArguments < 1)
            throw Invalid(nameof(MaxArguments), "must be at least 1");
        if (MaxInlineLength < 16)
            throw Invalid(nameof(MaxInlineLength), "must be at least 16");
        if (MaxQueryBuffer < MaxInlineLength || MaxQueryBuffer > Array.MaxLength)
            throw Invalid(nameof(MaxQueryBuffer), $"must be between MaxInlineLength and {Array.MaxLength}");
        if (MaxTransactionCommands < 1 || MaxTransactionCommands > StateMachine.Commands.TransactionCommand.MaxQueuedCommands)
            throw Invalid(nameof(MaxTransactionCommands), $"must be between 1 and {StateMachine.Commands.TransactionCommand.MaxQueuedCommands}");
        if (MaxWatchedKeys < 1 || MaxWatchedKeys > StateMachine.Commands.TransactionCommand.MaxWatchedKeys)
            throw Invalid(nameof(MaxWatchedKeys), $"must be between 1 and {StateMachine.Commands.TransactionCommand.MaxWatchedKeys}");
        if (MaxClients < 1)
            throw Invalid(nameof(MaxClients), "must be at least 1");
        if (IdleTimeoutSeconds < 0)
            throw Invalid(nameof(IdleTimeoutSeconds), "must be at least 0");
        if (OutputBufferHardLimit < 0)
            throw Invalid(nameof(OutputBufferHardLimit), "must be at least 0");
        if (OutputBufferSoftLimit < 0)
            throw Invalid(nameof(OutputBufferSoftLimit), "must be at least 0");
        if (OutputBufferSoftSeconds < 0)
            throw Invalid(nameof(OutputBufferSoftSeconds), "must be at least 0");
    }

    private static ArgumentException Invalid(string name, string rule)
        => new($"{SectionName}:{name} {rule}.", name);
}
