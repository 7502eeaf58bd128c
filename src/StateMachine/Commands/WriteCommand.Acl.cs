using MessagePack;

namespace RaftKv.StateMachine.Commands;

// Union tags of the access-control writes (range 128..143). Persisted in the log: append-only, never renumbered or
// reused. ACL GETUSER, LIST, USERS, CAT and DRYRUN are reads and never enter the log.
[Union(128, typeof(AclSetUserCommand))]
[Union(129, typeof(AclDelUserCommand))]
[Union(130, typeof(AclLoadCommand))]
public abstract partial class WriteCommand;
