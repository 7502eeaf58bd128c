namespace RaftKv.StateMachine.Commands;

/// <summary>The scripting commands (<c>EVAL</c>, <c>EVALSHA</c>, <c>SCRIPT</c>, ...), in their own family.</summary>
internal static class ScriptCommandTable
{
    public static CommandSpec[] Specs() => [];
}
