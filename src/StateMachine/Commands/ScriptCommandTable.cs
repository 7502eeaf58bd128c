using C = RaftKv.StateMachine.Acl.AclCategories;
using K = RaftKv.StateMachine.Acl.KeyAccess;

namespace RaftKv.StateMachine.Commands;

/// <summary>The scripting commands (<c>EVAL</c>, <c>EVALSHA</c>, their read-only forms, <c>SCRIPT</c>).</summary>
/// <remarks>
/// Keys are given by <c>numkeys</c>, so the fixed key positions are 0 as in Redis's <c>COMMAND</c>. <c>EVAL</c> and
/// <c>EVALSHA</c> always go through the log (a script may write); the <c>_RO</c> forms take the read path.
/// </remarks>
internal static class ScriptCommandTable
{
    public static CommandSpec[] Specs() =>
    [
        new("eval", -3, IsWrite: true, 0, 0, 0, ScriptCommandParser.ParseEval) { Categories = C.Slow | C.Scripting },
        new("evalsha", -3, IsWrite: true, 0, 0, 0, ScriptCommandParser.ParseEvalSha) { Categories = C.Slow | C.Scripting },
        new("eval_ro", -3, IsWrite: false, 0, 0, 0, ScriptCommandParser.ParseEvalReadOnly) { Categories = C.Slow | C.Scripting },
        new("evalsha_ro", -3, IsWrite: false, 0, 0, 0, ScriptCommandParser.ParseEvalShaReadOnly) { Categories = C.Slow | C.Scripting },
        new("script", -2, IsWrite: true, 0, 0, 0, ScriptCommandParser.ParseScript) { Categories = C.Slow, Subcommands = Subcommands.Of("script") },
    ];
}
