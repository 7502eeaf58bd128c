namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// Limits on one script run (<c>EVAL</c>, <c>EVALSHA</c>, their <c>_RO</c> forms). They are part of the state
/// machine's definition: a script that exceeds one stops at that point, and the writes it made before stay, so every
/// replica must use the same values or replicas would stop the same script at different points and diverge.
/// </summary>
/// <remarks>Bound from the node's configuration (<c>RaftKv:Scripting</c>); change them only on every node together.</remarks>
public sealed class ScriptLimits
{
    /// <summary>Lua VM instructions a script may execute (about a second of CPU at the default).</summary>
    public long InstructionBudget { get; set; } = 100_000_000;

    /// <summary>Bytes of Lua heap a script may hold, beyond the runtime every script starts from.</summary>
    public long MemoryLimitBytes { get; set; } = 256L << 20;

    /// <summary>The defaults (a new instance: limits are never shared mutable state).</summary>
    public static ScriptLimits Default => new();

    /// <summary>Throws when a limit is out of its sensible range.</summary>
    public void Validate()
    {
        if (InstructionBudget < 1_000)
            throw new ArgumentOutOfRangeException(nameof(InstructionBudget), InstructionBudget, "At least 1000 instructions.");
        if (MemoryLimitBytes is < 1L << 20 or > 16L << 30)
            throw new ArgumentOutOfRangeException(nameof(MemoryLimitBytes), MemoryLimitBytes, "Between 1 MiB and 16 GiB.");
    }
}
