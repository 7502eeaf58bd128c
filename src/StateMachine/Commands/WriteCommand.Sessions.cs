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
[Union(87, typeof(ReadWriteLockAcquireCommand))]
[Union(88, typeof(ReadWriteLockExtendCommand))]
[Union(89, typeof(ReadWriteLockReleaseCommand))]
[Union(90, typeof(SemaphoreAcquireCommand))]
[Union(91, typeof(SemaphoreExtendCommand))]
[Union(92, typeof(SemaphoreReleaseCommand))]
public abstract partial class WriteCommand;
