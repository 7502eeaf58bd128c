using System.Text;
using RaftKv.Node.Raft;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Security;

/// <summary>
/// How the configured users (<c>RaftKv:Security</c>: <c>RequirePass</c>, <c>AclFile</c>) reach the replicated state:
/// while this node leads and its applied state has never held users, it proposes them as an <c>ACL LOAD</c> with
/// <see cref="AclLoadCommand.OnlyIfUninitialized"/>. The state machine applies the first such entry and ignores the
/// rest, so the configured users are the cluster's initial ones, whichever leader proposed them; from then on only
/// <c>ACL SETUSER</c>/<c>DELUSER</c>/<c>LOAD</c> and <c>CONFIG SET requirepass</c> change them. With nothing configured
/// nothing is proposed (the state's own initial <c>default</c> user, on without a password, stands).
/// </summary>
internal sealed partial class ConfiguredUsers(
    ClusterView view,
    Proposer proposer,
    RaftStateMachine stateMachine,
    AccessControl access,
    TimeProvider time,
    ILogger<ConfiguredUsers> logger) : BackgroundService
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The <c>ACL LOAD</c> the configuration describes: the ACL file's users, and <c>requirepass</c> as <c>default</c>'s
    /// password unless the file defines <c>default</c> itself. Only hashes, never a password, are in it.
    /// </summary>
    /// <exception cref="NodeStartupException">The ACL file cannot be read or has an error (the message says where).</exception>
    public static AclLoadCommand Load(SecurityOptions options, bool onlyIfUninitialized)
    {
        var users = new List<AclUserRules>();
        if (options.AclFile is { Length: > 0 } path)
        {
            string text;
            try
            {
                text = File.ReadAllText(path, Encoding.Latin1);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new NodeStartupException($"RaftKv:Security:AclFile '{path}' cannot be read: {e.Message}");
            }

            var parsed = AclFile.Parse(text, path);
            if (parsed.Error is { } error)
                throw new NodeStartupException($"RaftKv:Security:AclFile: {error}");
            users.AddRange(parsed.Users);
        }

        if (options.ResolveRequirePass() is { } password && !users.Any(static u => u.Name.AsSpan().SequenceEqual("default"u8)))
            users.AddRange(AclFile.RequirePass(password).Users);

        return new AclLoadCommand { Users = [.. users], OnlyIfUninitialized = onlyIfUninitialized };
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var proposal = access.ConfiguredUsers;
        if (proposal.Users.Length == 0)
            return;

        using var timer = new PeriodicTimer(CheckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (stateMachine.Acl.Initialized)
                    return;
                if (!view.IsLeader || stateMachine.Stopped is not null)
                    continue;

                var outcome = await proposer.ProposeAsync(proposal).WaitAsync(stoppingToken).ConfigureAwait(false);
                if (outcome.Reply is { Kind: StateMachine.ReplyKind.Status })
                    LogProposed(logger, proposal.Users.Length);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The cluster never held users: proposed the {Count} configured (RaftKv:Security); from now on ACL commands change them")]
    private static partial void LogProposed(ILogger logger, int count);
}
