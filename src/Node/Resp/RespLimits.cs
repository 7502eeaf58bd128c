namespace RaftKv.Node.Resp;

/// <summary>
/// Limits on what a client may send, bound from the configuration section <see cref="SectionName"/>.
/// The defaults are Redis's, so a request Redis accepts is accepted here too.
/// </summary>
public sealed class RespLimits
{
    /// <summary>The configuration section these limits are bound from.</summary>
    public const string SectionName = "RaftKv:Limits";

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
    }

    private static ArgumentException Invalid(string name, string rule)
        => new($"{SectionName}:{name} {rule}.", name);
}
