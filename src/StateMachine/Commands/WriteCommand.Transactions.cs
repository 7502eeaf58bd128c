using MessagePack;

namespace RaftKv.StateMachine.Commands;

// Union tags of the transaction writes (range 96..111). Persisted in the log: append-only, never renumbered or reused.
// WATCH is a read and never enters the log; what it saw travels inside EXEC's TransactionCommand.
[Union(96, typeof(TransactionCommand))]
public abstract partial class WriteCommand;
