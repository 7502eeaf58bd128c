using System.Text;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests.Acl;

/// <summary>
/// The first change of users in a table never initialized loads the proposing node's configured users first, so a
/// node's <c>requirepass</c> or aclfile cannot be lost to an ACL SETUSER that reached the log before the configured load.
/// </summary>
public sealed class ConfiguredUsersTests
{
    private static readonly AclUserRules[] Configured = AclFile.Parse("user default on >admin ~* &* +@all\nuser ops on >ops +@all ~*\n").Users.ToArray();

    private static Reply Apply(KeyValueStore store, WriteCommand command, long index)
        => store.Apply(new CommandBatch { Timestamp = 1, Commands = [command] }, index)[0];

    [Fact]
    public void A_SETUSER_carrying_configured_users_loads_them_first_when_the_table_was_never_initialized()
    {
        var store = new KeyValueStore();
        Assert.Equal(Reply.Ok, Apply(store, new AclSetUserCommand { Name = "bob"u8.ToArray(), Rules = ["on"u8.ToArray()], ConfiguredUsers = Configured }, 1));

        Assert.Equal(["bob", "default", "ops"], store.Acl.Users.Select(static u => u.Name));
        Assert.False(store.Acl.Default.NoPass);
        Assert.True(store.Acl.Default.CheckPassword("admin"u8));

        // Once initialized, a later command's configured users are ignored, and so is the leader's own configured load.
        Assert.Equal(Reply.Ok, Apply(store, new AclSetUserCommand { Name = "ops"u8.ToArray(), Rules = ["resetpass"u8.ToArray(), "nopass"u8.ToArray()], ConfiguredUsers = Configured }, 2));
        Assert.True(store.Acl.Find("ops")!.NoPass);
        Assert.Equal(Reply.Ok, Apply(store, new AclLoadCommand { Users = Configured, OnlyIfUninitialized = true }, 3));
        Assert.True(store.Acl.Find("ops")!.NoPass);
    }

    [Fact]
    public void A_DELUSER_carrying_configured_users_loads_them_first_and_without_them_the_configured_load_would_be_lost()
    {
        var store = new KeyValueStore();
        Assert.Equal(Reply.FromInteger(1), Apply(store, new AclDelUserCommand { Names = ["ops"u8.ToArray()], ConfiguredUsers = Configured }, 1));
        Assert.Equal(["default"], store.Acl.Users.Select(static u => u.Name));
        Assert.True(store.Acl.Default.CheckPassword("admin"u8));

        // What the field prevents: a change without them initializes the table, and the configured load that follows is a no-op.
        var bare = new KeyValueStore();
        Assert.Equal(Reply.Ok, Apply(bare, new AclSetUserCommand { Name = "bob"u8.ToArray(), Rules = [] }, 1));
        Assert.Equal(Reply.Ok, Apply(bare, new AclLoadCommand { Users = Configured, OnlyIfUninitialized = true }, 2));
        Assert.True(bare.Acl.Default.NoPass);
    }

    [Fact]
    public void Configured_users_that_do_not_load_refuse_the_change_and_leave_the_table_as_it_was()
    {
        var store = new KeyValueStore();
        AclUserRules[] broken = [new AclUserRules { Name = "x"u8.ToArray(), Rules = [Encoding.ASCII.GetBytes("+nosuchcommand")] }];
        var reply = Apply(store, new AclSetUserCommand { Name = "bob"u8.ToArray(), Rules = [], ConfiguredUsers = broken }, 1);
        Assert.Equal(ReplyKind.Error, reply.Kind);
        Assert.False(store.Acl.Initialized);
        Assert.Equal(["default"], store.Acl.Users.Select(static u => u.Name));
    }
}
