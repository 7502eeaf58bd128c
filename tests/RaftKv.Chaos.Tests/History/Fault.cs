namespace RaftKv.Chaos.Tests.History;

/// <summary>
/// A fault the nemesis injected or healed: <paramref name="Time"/> in nanoseconds on the history's clock,
/// <paramref name="Kind"/> such as <c>kill</c>, <c>pause</c>, <c>resume</c>, <c>partition</c>, <c>heal</c>, <c>skew</c>,
/// and <paramref name="Target"/> the node(s) it hit (<c>node2</c>, <c>node1|node2,node3</c>).
/// </summary>
public sealed record Fault(long Time, string Kind, string Target);
