using System.Text;
using RaftKv.StateMachine;

namespace RaftKv.Node;

/// <summary>
/// The replies and errors the node writes itself — routing, connection and introspection commands — in one catalog,
/// with Redis 7.0's texts where Redis has them. Data commands' replies come from the state machine
/// (<c>RedisErrors</c>). Code never decides anything by matching these texts: routing outcomes are typed
/// (<see cref="Routing.WriteOutcome"/>).
/// </summary>
public static class NodeReplies
{
    /// <summary><c>-CLUSTERDOWN No Raft leader</c>: no leader is known, or none could be reached in time. Not applied.</summary>
    public static Reply NoLeader { get; } = Reply.Error("CLUSTERDOWN No Raft leader");

    /// <summary>
    /// The reply to a write whose outcome is unknown (leadership changed, or the link to the leader broke, after it was
    /// sent): it may still commit. Never a failure; a client with a session can retry it safely.
    /// </summary>
    public static Reply Uncertain { get; } =
        Reply.Error("UNCERTAIN Raft leadership changed while the write was in flight; it may or may not have been applied");

    /// <summary><c>-MOVED 0 host:port</c>, redisraft's convention for "write to the leader at this address".</summary>
    public static Reply Moved(string leaderRespAddress) => Reply.Error("MOVED 0 " + leaderRespAddress);

    /// <summary>
    /// A read or write on a node whose applier stopped (<see cref="Raft.RaftStateMachine.Stopped"/>): not applied, and
    /// no read is served from its frozen state. <c>CLUSTERDOWN</c>, so clients try another node.
    /// </summary>
    public static Reply ApplierStopped(Raft.ApplierStop stop)
        => Reply.Error($"CLUSTERDOWN this node stopped applying the Raft log at entry {stop.Index} ({stop.Exception}); it serves no reads or writes until restarted (INFO raft)");

    /// <summary>What a connection gets when the node failed to compute a reply (a bug, logged).</summary>
    public static Reply InternalError { get; } = Reply.Error("ERR internal error");

    /// <summary><c>-ERR Protocol error: ...</c>; the connection is closed after it, as Redis does.</summary>
    public static Reply ProtocolError(string problem) => Reply.Error("ERR " + problem);

    /// <summary>What a connection beyond <c>maxclients</c> gets before it is closed.</summary>
    public static Reply MaxClientsReached { get; } = Reply.Error("ERR max number of clients reached");

    /// <summary>Stands for a read skipped because its connection is closing; never sent.</summary>
    public static Reply ConnectionClosing { get; } = Reply.Error("ERR the connection is closing");

    /// <summary><c>+PONG</c>.</summary>
    public static Reply Pong { get; } = Reply.Status("PONG");

    /// <summary><c>+RESET</c>.</summary>
    public static Reply Reset { get; } = Reply.Status("RESET");

    /// <summary><c>+QUEUED</c>: a command accepted into an open MULTI.</summary>
    public static Reply Queued { get; } = Reply.Status("QUEUED");

    /// <summary>Redis 7's text: the name and up to 128 characters of arguments, each quoted and followed by a space.</summary>
    public static Reply UnknownCommand(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var name = argv.IsEmpty ? "" : Printable(argv[0].Span, 128);
        var args = new StringBuilder();
        for (var i = 1; i < argv.Length && args.Length < 128; i++)
            args.Append('\'').Append(Printable(argv[i].Span, 128 - args.Length)).Append("' ");
        return Reply.Error($"ERR unknown command '{name}', with args beginning with: {args}");

        static string Printable(ReadOnlySpan<byte> bytes, int max)
        {
            var text = Encoding.UTF8.GetString(bytes[..Math.Min(bytes.Length, Math.Max(max, 0))]);
            return text.Replace('\r', ' ').Replace('\n', ' ');
        }
    }

    /// <summary><c>ERR unknown subcommand 'x'. Try COMMAND HELP.</c></summary>
    public static Reply UnknownSubcommand(string subcommand, string command)
        => Reply.Error($"ERR unknown subcommand '{subcommand}'. Try {command} HELP.");

    /// <summary>Redis 7's arity error for a subcommand: <c>ERR wrong number of arguments for 'config|get' command</c>.</summary>
    public static Reply SubcommandArity(string subcommand, string command)
        => Reply.Error($"ERR wrong number of arguments for '{command}|{subcommand}' command");

    /// <summary><c>CONFIG SET</c> without pairs.</summary>
    public static Reply ConfigSetArity { get; } = SubcommandArity("set", "config");

    /// <summary><c>CONFIG SET</c> of a parameter that does not exist or cannot be set.</summary>
    public static Reply ConfigUnknownOption(string name) => Reply.Error($"ERR Unknown option or number of arguments for CONFIG SET - '{name}'");

    /// <summary><c>CONFIG SET</c> with a value the parameter refuses.</summary>
    public static Reply ConfigSetFailed(string name, string reason) => Reply.Error($"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}");

    /// <summary><c>CONFIG REWRITE</c> on a node started without <c>--config file.json</c>.</summary>
    public static Reply ConfigRewriteWithoutFile { get; } = Reply.Error("ERR The server is running without a config file");

    /// <summary><c>CONFIG REWRITE</c> that could not write the file (the reason is the I/O error's message).</summary>
    public static Reply ConfigRewriteFailed(string reason) => Reply.Error("ERR Rewriting config file: " + reason.ReplaceLineEndings(" "));

    /// <summary><c>SLOWLOG GET</c> with a count that is not an integer of at least -1.</summary>
    public static Reply SlowLogCount { get; } = Reply.Error("ERR count should be greater than or equal to -1");

    /// <summary>CLUSTER with <c>RaftKv:ClusterCommands=false</c>, as a Redis without cluster support answers.</summary>
    public static Reply ClusterSupportDisabled { get; } = Reply.Error("ERR This instance has cluster support disabled");

    /// <summary>Redis's reply to a <c>BGSAVE</c> that started one.</summary>
    public static Reply BackgroundSavingStarted { get; } = Reply.Status("Background saving started");

    /// <summary>Redis's reply to a <c>BGSAVE SCHEDULE</c> while one is being written.</summary>
    public static Reply BackgroundSavingScheduled { get; } = Reply.Status("Background saving scheduled");

    /// <summary>Redis's reply to a <c>BGSAVE</c> while one is being written.</summary>
    public static Reply BackgroundSaveInProgress { get; } = Reply.Error("ERR Background save already in progress");

    /// <summary>CLUSTER subcommands about keys per slot: RaftKv keeps no such index.</summary>
    public static Reply NoSlotIndex { get; } = Reply.Error("ERR RaftKv does not index keys by slot");

    /// <summary>DEBUG with anything but DIGEST.</summary>
    public static Reply DebugDigestOnly { get; } = Reply.Error("ERR DEBUG supports only DIGEST here");

    /// <summary><c>AUTH</c> with a password while none is configured (Redis's reply without <c>requirepass</c>).</summary>
    public static Reply WrongPass { get; } = Reply.Error("WRONGPASS invalid username-password pair or user is disabled.");

    /// <summary>Any command but AUTH, HELLO, QUIT and RESET before the connection authenticated.</summary>
    public static Reply NoAuth { get; } = Reply.Error("NOAUTH Authentication required.");

    /// <summary><c>HELLO</c> without <c>AUTH</c> from a connection that has not authenticated (networking.c helloCommand).</summary>
    public static Reply HelloNoAuth { get; } = Reply.Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");

    /// <summary><c>CLIENT SETNAME</c> with a space or a non-printable character.</summary>
    public static Reply BadClientName { get; } = Reply.Error("ERR Client names cannot contain spaces, newlines or special characters.");

    /// <summary><c>HELLO</c> with a protocol version that is not a number.</summary>
    public static Reply ProtocolVersionNotInteger { get; } = Reply.Error("ERR Protocol version is not an integer or out of range");

    /// <summary><c>HELLO</c> with a protocol version other than 2 or 3.</summary>
    public static Reply NoProto { get; } = Reply.Error("NOPROTO unsupported protocol version");

    /// <summary><c>HELLO</c> with an option it does not know.</summary>
    public static Reply HelloSyntax(string option) => Reply.Error($"ERR Syntax error in HELLO option '{option}'");

    /// <summary><c>CLIENT KILL|LIST TYPE</c> with an unknown type.</summary>
    public static Reply UnknownClientType(string type) => Reply.Error($"ERR Unknown client type '{type}'");

    /// <summary><c>CLIENT ... ID</c> with an id that is not a number.</summary>
    public static Reply InvalidClientId { get; } = Reply.Error("ERR Invalid client ID");

    /// <summary><c>MULTI</c> inside MULTI.</summary>
    public static Reply NestedMulti { get; } = Reply.Error("ERR MULTI calls can not be nested");

    /// <summary><c>EXEC</c> without MULTI.</summary>
    public static Reply ExecWithoutMulti { get; } = Reply.Error("ERR EXEC without MULTI");

    /// <summary><c>DISCARD</c> without MULTI.</summary>
    public static Reply DiscardWithoutMulti { get; } = Reply.Error("ERR DISCARD without MULTI");

    /// <summary><c>WATCH</c> inside MULTI.</summary>
    public static Reply WatchInsideMulti { get; } = Reply.Error("ERR WATCH inside MULTI is not allowed");

    /// <summary><c>EXEC</c> after a command was refused while queuing.</summary>
    public static Reply ExecAbort { get; } = Reply.Error("EXECABORT Transaction discarded because of previous errors.");

    /// <summary><c>EXEC</c> refused outright (e.g. its own arity): Redis names the reason.</summary>
    public static Reply ExecAbortBecause(Reply rejection)
        => Reply.Error("EXECABORT Transaction discarded because of: " + (rejection.Text!.StartsWith("ERR ", StringComparison.Ordinal) ? rejection.Text[4..] : rejection.Text));

    /// <summary>A MULTI past <c>RaftKv:Limits:MaxTransactionCommands</c>.</summary>
    public static Reply TooManyQueued(int limit)
        => Reply.Error($"ERR a transaction may queue at most {limit} commands (RaftKv:Limits:MaxTransactionCommands)");

    /// <summary>A WATCH past <c>RaftKv:Limits:MaxWatchedKeys</c>.</summary>
    public static Reply TooManyWatched(int limit)
        => Reply.Error($"ERR a connection may watch at most {limit} keys (RaftKv:Limits:MaxWatchedKeys)");

    /// <summary>A forwarded write that was applied but whose reply nests too deeply to travel back to the follower.</summary>
    public static Reply ReplyTooDeepToForward { get; } = Reply.Error(
        $"ERR the write was applied but its reply nests deeper than {ReplySerializer.MaxDepth} levels, too deep to forward; send it to the leader");

    /// <summary>A forwarded write whose MessagePack this leader cannot read (members of different versions).</summary>
    public static Reply UnreadableForwardedWrite { get; } =
        Reply.Error("ERR forwarded write not understood by the leader (are all nodes the same version?)");

    /// <summary><c>BACKUP.START</c> while this node holds another backup (one at a time; it ends with END or its idle timeout).</summary>
    public static Reply BackupInProgress { get; } =
        Reply.Error("ERR a backup is already in progress on this node: wait for it to end (BACKUP.END, or its idle timeout)");

    /// <summary><c>BACKUP.START</c> whose writing failed (the node logged why); nothing is left behind.</summary>
    public static Reply BackupFailed(string reason) => Reply.Error("ERR backup failed: " + reason.ReplaceLineEndings(" "));

    /// <summary><c>BACKUP.READ</c>/<c>BACKUP.END</c> of an id this node does not hold.</summary>
    public static Reply NoSuchBackup { get; } =
        Reply.Error("ERR no such backup on this node (ended, expired after its idle timeout, or started on another node)");

    /// <summary><c>BACKUP.READ</c> at an offset outside the file.</summary>
    public static Reply BackupOffsetOutOfRange(long length) => Reply.Error($"ERR offset is out of range (the backup has {length} bytes)");

    /// <summary>Redis's reply to an argument that should be an integer.</summary>
    public static Reply NotAnInteger { get; } = Reply.Error("ERR value is not an integer or out of range");

    /// <summary><c>BACKUP.READ</c> with a count outside 1..16 MB.</summary>
    public static Reply BackupCountOutOfRange { get; } =
        Reply.Error($"ERR count must be between 1 and {Backup.OnlineBackup.MaxReadBytes}");
}
