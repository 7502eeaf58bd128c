using MessagePack;

namespace RaftKv.StateMachine.Commands;

// Union tags of the string and keyspace writes (range 2..63; 0 and 1 are SET and DEL in WriteCommand.cs). Persisted in
// the log: append-only, never renumbered or reused. UNLINK travels as DEL (tag 1).
[Union(2, typeof(GetDelCommand))]
[Union(3, typeof(GetExCommand))]
[Union(4, typeof(GetSetCommand))]
[Union(5, typeof(MSetCommand))]
[Union(6, typeof(SetNxCommand))]
[Union(7, typeof(SetExCommand))]
[Union(8, typeof(AppendCommand))]
[Union(9, typeof(SetRangeCommand))]
[Union(10, typeof(IncrByCommand))]
[Union(11, typeof(IncrByFloatCommand))]
[Union(12, typeof(ExpireCommand))]
[Union(13, typeof(PersistCommand))]
[Union(14, typeof(RenameCommand))]
[Union(15, typeof(CopyCommand))]
[Union(16, typeof(FlushCommand))]
[Union(17, typeof(SwapDbCommand))]
public abstract partial class WriteCommand;
