using System.Text;
using RaftKv.Node.Backup;

namespace RaftKv.Node.Membership;

/// <summary>
/// <c>RaftKv.Node member add|remove|list</c>: the operator's side of MEMBER.ADD, MEMBER.REMOVE and MEMBER.LIST, sent to
/// any running node (which hands a change to the leader). Connection options as <c>RaftKv.Node backup</c>'s.
/// </summary>
public static class MemberTool
{
    /// <summary>The usage text, printed for a wrong command line.</summary>
    public const string Usage = """
        Usage:
          RaftKv.Node member list   --connect HOST:PORT [connection options]
          RaftKv.Node member add    --connect HOST:PORT [connection options] RAFT RESP PEER
              Adds the node listening on RAFT (tcp://host:port/), serving clients on RESP (host:port) and peers on PEER
              (host:port). Start it first with --join. Answers once it caught up and votes.
          RaftKv.Node member remove --connect HOST:PORT [connection options] RAFT
              Removes the member listening on RAFT (the leader too: it hands over first). Stop the removed node afterwards.
          Connection options: --user USER, --password PASSWORD (or REDISCLI_AUTH), --tls, --cacert FILE, --cert FILE --key FILE.
        """;

    /// <summary>True when <paramref name="args"/> name this tool.</summary>
    public static bool IsVerb(string[] args) => args is ["member", ..];

    /// <summary>Runs the tool; returns the process's exit code (0 done, 1 refused or failed, 2 wrong usage).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken token)
    {
        try
        {
            if (args is not ["member", var verb, ..] || verb is not ("add" or "remove" or "list"))
                throw new BackupTool.UsageException("member needs add, remove or list.");
            var (endpoint, positional) = BackupTool.ParseConnection(args[2..], "member " + verb);
            string[] command = (verb, positional.Count) switch
            {
                ("list", 0) => ["MEMBER.LIST"],
                ("add", 3) => ["MEMBER.ADD", .. positional],
                ("remove", 1) => ["MEMBER.REMOVE", positional[0]],
                _ => throw new BackupTool.UsageException($"member {verb} takes {(verb == "add" ? "RAFT RESP PEER" : verb == "remove" ? "RAFT" : "no arguments")}."),
            };

            await using var connection = await BackupConnection.ConnectAsync(endpoint, token).ConfigureAwait(false);
            var reply = await connection.SendAsync(command, token).ConfigureAwait(false);
            if (reply.Error is { } refused)
            {
                error.WriteLine($"RaftKv member {verb} refused: {refused}");
                return 1;
            }

            if (verb == "list")
            {
                foreach (var row in reply.Items ?? [])
                    output.WriteLine(string.Join("  ", (row.Items ?? []).Select(static cell => cell.Bulk is { } bulk ? Encoding.UTF8.GetString(bulk.Span) : cell.Text ?? "")));
            }
            else
            {
                output.WriteLine(reply.Text ?? "OK");
            }

            return 0;
        }
        catch (BackupTool.UsageException e)
        {
            error.WriteLine(e.Message);
            error.WriteLine(Usage);
            return 2;
        }
        catch (Exception e) when (e is BackupException or IOException or System.Net.Sockets.SocketException or OperationCanceledException
            or System.Security.Authentication.AuthenticationException)
        {
            error.WriteLine($"RaftKv member failed: {e.Message}");
            return 1;
        }
    }
}
