using MessagePack;

namespace RaftKv.StateMachine.Commands;

// Union tags of the session and lock writes (range 80..95). Persisted in the log: append-only, never renumbered or
// reused. The RESP side of these commands is documented in docs/resp-extensions.md.
[Union(80, typeof(SessionOpenCommand))]
[Union(81, typeof(SessionExecCommand))]
[Union(82, typeof(SessionKeepAliveCommand))]
[Union(83, typeof(SessionCloseCommand))]
[Union(84, typeof(LockAcquireCommand))]
[Union(85, typeof(LockExtendCommand))]
[Union(86, typeof(LockReleaseCommand))]
public abstract partial class WriteCommand;
