using Microsoft.Extensions.Options;
using System.Text;
using RaftKv.Node.Raft;
using RaftKv.Node.Resp;
using RaftKv.Node.Routing;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Security;

/// <summary>
/// Who a connection is and what it may run, Redis 7.0's way: a connection starts as <c>default</c>, authenticated only
/// while that user is on and has no password; <c>AUTH</c> and <c>HELLO ... AUTH</c> switch it to another user; every
/// other command waits for authentication (<c>-NOAUTH</c>) and is checked against the user's commands and key patterns
/// (<c>-NOPERM</c>) before it is parsed, queued or routed.
/// </summary>
/// <remarks>
/// The users are replicated state (<see cref="KeyValueStore.Acl"/>), read here from the copy the state machine
/// publishes after each apply that changed them (<see cref="RaftStateMachine.Acl"/>), so a check takes no lock. Until
/// the cluster's state has ever held users (a new cluster, before its first leader proposed the configured ones) the
/// configured initial users stand in, so a node started with <c>requirepass</c> never serves a moment without it.
/// A check on a follower reads its applied state, which may trail the leader's by a moment: a permission just revoked
/// is honoured there until the revocation applies. What runs inside apply — a script's <c>redis.call</c>, EXEC's
/// commands, sessions' ownership — is checked again by the state machine at the entry's log position, alike on every
/// replica.
/// </remarks>
public sealed class AccessControl
{
    private readonly RaftStateMachine stateMachine;
    private readonly ReadBarrier barrier;
    private readonly AclLog log;

    /// <summary>The users this node was configured with, in the form <c>ACL LOAD</c> proposes them.</summary>
    public AclLoadCommand ConfiguredUsers { get; }

    private readonly AclTable configured;

    public AccessControl(RaftStateMachine stateMachine, ReadBarrier barrier, AclLog log, IOptions<SecurityOptions> options)
    {
        this.stateMachine = stateMachine;
        this.barrier = barrier;
        this.log = log;
        ConfiguredUsers = Security.ConfiguredUsers.Load(options.Value, onlyIfUninitialized: true);
        configured = AclTable.FromLoad(ConfiguredUsers);
    }

    /// <summary>The users in force on this node now.</summary>
    public AclTable Users => stateMachine.Acl is { Initialized: true } applied ? applied : configured;

    /// <summary>
    /// <paramref name="command"/>, carrying this node's configured users when it changes users in a cluster whose state
    /// never held any: the state machine loads them first, in the same entry, or the change would mark the users
    /// initialized and the configured ones would never load (a <c>default</c> without its password).
    /// </summary>
    public WriteCommand WithConfiguredUsers(WriteCommand command)
    {
        if (ConfiguredUsers.Users.Length == 0 || stateMachine.Acl.Initialized)
            return command;
        return command switch
        {
            AclSetUserCommand { ConfiguredUsers: null } set => new AclSetUserCommand { Name = set.Name, Rules = set.Rules, ConfiguredUsers = ConfiguredUsers.Users },
            AclDelUserCommand { ConfiguredUsers: null } delete => new AclDelUserCommand { Names = delete.Names, ConfiguredUsers = ConfiguredUsers.Users },
            _ => command,
        };
    }

    /// <summary>The connection's user, resolved against <see cref="Users"/>; null when that user no longer exists.</summary>
    public AclUser? UserOf(RespConnection connection)
    {
        var users = Users;
        var (cached, version) = connection.AclCache;
        if (version == users.Version && ReferenceEquals(users, connection.AclTableCache))
            return cached;

        var user = users.Find(connection.UserName);
        connection.AclCache = (user, users.Version);
        connection.AclTableCache = users;
        return user;
    }

    /// <summary>
    /// Decides a new connection's state on its first request: <c>default</c>, authenticated when that user is on
    /// without a password.
    /// </summary>
    public void Establish(RespConnection connection)
    {
        if (connection.Authenticated is not null)
            return;
        ResetToDefault(connection);
    }

    /// <summary>Back to <c>default</c> (<c>RESET</c>, and a new connection): authenticated only if it needs no password.</summary>
    public void ResetToDefault(RespConnection connection)
    {
        connection.UserName = AclTable.DefaultUserName;
        connection.Authenticated = Users.Find(AclTable.DefaultUserName) is { Enabled: true, NoPass: true };
        connection.AclCache = (null, -1);
    }

    /// <summary>True when the default user needs no password (then Redis refuses <c>AUTH password</c> as a misconfiguration).</summary>
    public bool DefaultHasNoPassword => Users.Find(AclTable.DefaultUserName) is { NoPass: true };

    /// <summary>
    /// <c>AUTH</c>: switches the connection to <paramref name="user"/> if it exists, is on, and <paramref name="password"/>
    /// is one of its passwords (or it has <c>nopass</c>). A refusal changes nothing.
    /// </summary>
    public bool Authenticate(RespConnection connection, ReadOnlySpan<byte> user, ReadOnlySpan<byte> password)
    {
        if (Users.Find(user) is { Enabled: true } found && (found.NoPass || found.CheckPassword(password)))
        {
            connection.UserName = found.Name;
            connection.Authenticated = true;
            connection.AclCache = (null, -1);
            return true;
        }

        return false;
    }

    /// <summary>
    /// <see cref="Authenticate"/> again once this node has applied everything committed before now (a read barrier):
    /// a user created or given a password through another node a moment ago may not have reached this one yet, and a
    /// client told "OK" there must be able to log in here. Called only after a refusal, so a login costs nothing more;
    /// a wrong password costs a barrier, which also slows guessing down.
    /// </summary>
    public async ValueTask<bool> AuthenticateAfterBarrierAsync(RespConnection connection, byte[] user, byte[] password)
    {
        try
        {
            await barrier.WaitAsync(connection.Aborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException
            or DotNext.Net.Cluster.Consensus.Raft.QuorumUnreachableException or DotNext.Net.Cluster.MemberUnavailableException)
        {
            log.Add(connection, AclLog.Reason.Auth, "AUTH", Encoding.Latin1.GetString(user));
            return false; // no leader to confirm with: the refusal stands
        }

        if (Authenticate(connection, user, password))
            return true;
        log.Add(connection, AclLog.Reason.Auth, "AUTH", Encoding.Latin1.GetString(user));
        return false;
    }

    /// <summary>
    /// <c>-NOPERM</c> when the connection's user may not run <paramref name="argv"/> (command or keys); null when it may. A user deleted since the connection authenticated closes the connection, as
    /// Redis does when <c>ACL DELUSER</c> removes a user others are logged in as.
    /// </summary>
    public Reply? Authorize(RespConnection connection, ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (UserOf(connection) is not { } user)
        {
            connection.CloseAfterReply();
            return UserGone;
        }

        switch (AclCheck.Evaluate(user, argv, out var command, out var key))
        {
            case AclDenial.Command:
                log.Add(connection, AclLog.Reason.Command, command!, user.Name);
                return AclCheck.CommandDenied(command!);
            case AclDenial.Key:
                log.Add(connection, AclLog.Reason.Key, Encoding.Latin1.GetString(argv[key].Span), user.Name);
                return AclCheck.KeyDenied;
            default:
                return null;
        }
    }

    /// <summary>The reply before a connection whose user was deleted is closed (the state machine's, for the same case in apply).</summary>
    public static Reply UserGone => KeyValueStore.UserGone;
}
