using MessagePack;

namespace RaftKv.StateMachine.Commands;

// Union tags of the scripting writes (range 64..79). Persisted in the log: append-only, never renumbered or reused.
// EVAL_RO, EVALSHA_RO and SCRIPT EXISTS are reads and never enter the log.
[Union(64, typeof(EvalCommand))]
[Union(65, typeof(EvalShaCommand))]
[Union(66, typeof(ScriptLoadCommand))]
[Union(67, typeof(ScriptFlushCommand))]
public abstract partial class WriteCommand;
