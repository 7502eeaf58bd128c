using MessagePack;

namespace RaftKv.StateMachine.Commands;

// Union tags of the writes that configure the replicated state (range 112..127). Persisted in the log: append-only,
// never renumbered or reused. The node's CONFIG SET proposes them; no client command parses to one.
[Union(112, typeof(ConfigSetCommand))]
public abstract partial class WriteCommand;
