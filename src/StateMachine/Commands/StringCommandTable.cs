namespace RaftKv.StateMachine.Commands;

/// <summary>The string and keyspace commands (<c>GET</c>, <c>SET</c>, <c>DEL</c>, ...).</summary>
internal static class StringCommandTable
{
    public static CommandSpec[] Specs() =>
    [
        new("get", 2, IsWrite: false, 1, 1, 1, CommandParser.ParseGet),
        new("set", -3, IsWrite: true, 1, 1, 1, CommandParser.ParseSet),
        new("del", -2, IsWrite: true, 1, -1, 1, CommandParser.ParseDel),
    ];
}
