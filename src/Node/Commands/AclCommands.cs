using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using RaftKv.Node.Resp;
using RaftKv.Node.Routing;
using RaftKv.Node.Security;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// The <c>ACL</c> subcommands the node answers itself: <c>WHOAMI</c> (the connection's user), <c>LOG</c> (this node's
/// refusals, <see cref="AclLog"/>), <c>GENPASS</c> (randomness),
/// <c>LOAD</c> and <c>SAVE</c> (the node's ACL file), <c>HELP</c>. The others — <c>SETUSER</c>, <c>DELUSER</c> through the
/// log, <c>GETUSER</c>, <c>LIST</c>, <c>USERS</c>, <c>CAT</c>, <c>DRYRUN</c> as reads of the replicated users — are data
/// commands of the state machine and never reach this class.
/// </summary>
public sealed class AclCommands(CommandRouter router, ReadBarrier barrier, RaftKv.Node.Raft.RaftStateMachine stateMachine, AclLog log, IOptions<SecurityOptions> options)
{
    private static readonly string[] Help =
    [
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "LOAD",
        "    Reload users from the ACL file.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Print this help.",
    ];

    private static readonly Reply NoAclFile = Reply.Error(
        "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.");

    /// <summary>Runs an ACL subcommand the state machine left to the node.</summary>
    public ValueTask<Reply> ExecuteAsync(ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
        var sub = Encoding.UTF8.GetString(argv[1].Span).ToUpperInvariant();
        switch (sub)
        {
            case "WHOAMI" when argv.Length == 2:
                return new(Reply.FromBulk(connection.UserName));
            case "GENPASS" when argv.Length is 2 or 3:
                return new(GenPass(argv.Length == 3 ? argv[2].Span : default));
            case "LOAD" when argv.Length == 2:
                return LoadAsync(connection);
            case "SAVE" when argv.Length == 2:
                return SaveAsync();
            case "LOG" when argv.Length is 2 or 3:
                return new(log.Execute(argv[2..]));
            case "LOG":
                return new(Reply.Error($"ERR unknown subcommand or wrong number of arguments for '{Encoding.UTF8.GetString(argv[1].Span)}'. Try ACL HELP."));
            case "HELP" when argv.Length == 2:
                return new(Reply.FromArray([.. Help.Select(Reply.Status)]));
            case "WHOAMI" or "GENPASS" or "LOAD" or "SAVE" or "HELP":
                return new(NodeReplies.SubcommandArity(sub.ToLowerInvariant(), "acl"));
            default:
                return new(NodeReplies.UnknownSubcommand(Encoding.UTF8.GetString(argv[1].Span), "ACL"));
        }
    }

    // acl.c ACL GENPASS: 256 bits by default, as hex (4 bits a character), from the system's CSPRNG.
    private static Reply GenPass(ReadOnlySpan<byte> bitsArgument)
    {
        var bits = 256L;
        if (!bitsArgument.IsEmpty && (!RedisNumbers.TryParseInt64(bitsArgument, out bits) || bits is <= 0 or > 4096))
            return Reply.Error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096");

        var chars = (int)((bits + 3) / 4);
        var bytes = RandomNumberGenerator.GetBytes((chars + 1) / 2);
        return Reply.FromBulk(Convert.ToHexStringLower(bytes)[..chars]);
    }

    // ACL LOAD: the file is read and checked here, on the node the client asked; its users replace every user of the
    // cluster through the log, all or nothing (a file with an error changes nothing).
    private async ValueTask<Reply> LoadAsync(RespConnection connection)
    {
        if (options.Value.AclFile is not { Length: > 0 } path)
            return NoAclFile;

        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, Encoding.Latin1, connection.Aborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Reply.Error($"ERR Error loading ACLs, opening file '{path}': {e.Message}");
        }

        var parsed = AclFile.Parse(text, path);
        if (parsed.Error is { } error)
            return Reply.Error("ERR " + error);
        return await router.WriteAsync(parsed.ToLoadCommand(onlyIfUninitialized: false), connection).ConfigureAwait(false);
    }

    // ACL SAVE: the users this node has applied after a read barrier (so at least every change acknowledged before
    // the SAVE), written to a temporary file and renamed over the ACL file, as Redis does.
    private async ValueTask<Reply> SaveAsync()
    {
        if (options.Value.AclFile is not { Length: > 0 } path)
            return NoAclFile;

        try
        {
            await barrier.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or DotNext.Net.Cluster.Consensus.Raft.QuorumUnreachableException or DotNext.Net.Cluster.MemberUnavailableException)
        {
            return NodeReplies.NoLeader;
        }

        var lines = stateMachine.Inspect(static s => s.Acl.ListLines());
        var temporary = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        try
        {
            await File.WriteAllTextAsync(temporary, string.Join('\n', lines) + "\n", Encoding.Latin1).ConfigureAwait(false);
            File.Move(temporary, path, overwrite: true);
            return Reply.Ok;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            return Reply.Error("ERR There was an error trying to save the ACLs. Please check the server logs for more information");
        }
    }
}
