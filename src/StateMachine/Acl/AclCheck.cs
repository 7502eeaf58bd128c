using System.Text;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Acl;

/// <summary>Why <see cref="AclCheck"/> refused a command.</summary>
public enum AclDenial : byte
{
    /// <summary>Allowed (or not a known command: the caller answers that).</summary>
    None,
    /// <summary>The user may not run the command or subcommand.</summary>
    Command,
    /// <summary>The user may not touch one of the keys.</summary>
    Key,
}

/// <summary>
/// Redis 7.0's permission check (acl.c <c>ACLSelectorCheckCmd</c>): the command or subcommand's bit in the user's
/// bitmap (or a first-argument rule), then each key against the user's patterns with the access the command needs.
/// Keys come from the spec's <see cref="CommandSpec.FirstKey"/>/<see cref="CommandSpec.LastKey"/>/<see cref="CommandSpec.KeyStep"/>,
/// from <c>numkeys</c> for <c>EVAL</c>/<c>EVALSHA</c>/<c>EVAL_RO</c>/<c>EVALSHA_RO</c>, and <c>SESSION.EXEC</c>'s wrapped
/// command is checked as itself.
/// </summary>
public static class AclCheck
{
    /// <summary><c>NOPERM this user has no permissions to access one of the keys used as arguments</c>.</summary>
    public static Reply KeyDenied { get; } = Reply.Error("NOPERM this user has no permissions to access one of the keys used as arguments");

    /// <summary>
    /// Null when <paramref name="user"/> may run <paramref name="argv"/>, else the <c>-NOPERM</c> error Redis answers.
    /// An unknown command (or unknown subcommand) is not refused here: the caller answers it as unknown. Arity is not
    /// checked either (Redis checks it first). A user with every command and every key costs no per-argument work.
    /// </summary>
    public static Reply? Check(AclUser user, ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (user.IsUnrestricted)
            return null;
        return Evaluate(user, argv, out var command, out _) switch
        {
            AclDenial.Command => CommandDenied(command!),
            AclDenial.Key => KeyDenied,
            _ => null,
        };
    }

    /// <summary><c>NOPERM this user has no permissions to run the '...' command</c>.</summary>
    public static Reply CommandDenied(string fullName) => Reply.Error($"NOPERM this user has no permissions to run the '{fullName}' command");

    /// <summary>
    /// The check itself: whether <paramref name="user"/> may run <paramref name="argv"/>, the command (or subcommand)
    /// refused, and the position in <paramref name="argv"/> of the key refused.
    /// </summary>
    public static AclDenial Evaluate(AclUser user, ReadOnlySpan<ReadOnlyMemory<byte>> argv, out string? deniedCommand, out int keyPosition)
    {
        deniedCommand = null;
        keyPosition = -1;
        if (user.IsUnrestricted || CommandTable.Resolve(argv) is not { } spec)
            return AclDenial.None;

        var command = AclCommands.Of(spec);
        if (!spec.NoAuth && !user.Allows(command)
            && (argv.Length < 2 || command.Parent is not null || !user.AllowsFirstArgument(command, argv[1].Span)))
        {
            deniedCommand = command.FullName;
            return AclDenial.Command;
        }

        if (!user.AllKeys && FirstDeniedKey(user, spec, argv) is var position and >= 0)
        {
            keyPosition = position;
            return AclDenial.Key;
        }

        // SESSION.EXEC id seq ack command...: the wrapped command is checked as itself (it cannot wrap another session command).
        if (spec.Name == "session.exec" && argv.Length > 4 && !IsSessionCommand(argv[4].Span))
        {
            var denial = Evaluate(user, argv[4..], out deniedCommand, out keyPosition);
            if (keyPosition >= 0)
                keyPosition += 4;
            return denial;
        }

        return AclDenial.None;
    }

    private static bool IsSessionCommand(ReadOnlySpan<byte> name) => name.Length >= 8 && Ascii.EqualsIgnoreCase(name[..8], "session."u8);

    // The position of the first key the user may not touch as the command needs; -1 when there is none.
    private static int FirstDeniedKey(AclUser user, CommandSpec spec, ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (spec.Name is "eval" or "evalsha" or "eval_ro" or "evalsha_ro")
        {
            // Redis's key spec: numkeys at 2, then that many keys; a bad numkeys finds no keys (the command fails).
            if (argv.Length < 3 || !RedisNumbers.TryParseInt64(argv[2].Span, out var count) || count < 0 || count > argv.Length - 3)
                return -1;
            var access = spec.IsWrite ? KeyAccess.ReadWrite : KeyAccess.Read;
            for (var i = 3; i < 3 + count; i++)
            {
                if (!user.AllowsKey(argv[i].Span, access))
                    return i;
            }

            return -1;
        }

        if (spec.FirstKey <= 0)
            return -1;
        var last = spec.LastKey < 0 ? argv.Length + spec.LastKey : Math.Min(spec.LastKey, argv.Length - 1);
        var step = Math.Max(1, spec.KeyStep);
        var ordinal = 0;
        for (var i = spec.FirstKey; i <= last; i += step, ordinal++)
        {
            var access = spec.KeyAccess.Count == 0 ? KeyAccess.None : spec.KeyAccess[Math.Min(ordinal, spec.KeyAccess.Count - 1)];
            if (spec.Name == "set" && HasGetOption(argv))
                access = KeyAccess.ReadWrite; // SET ... GET reads the old value (Redis's variable key-spec flags)
            if (!user.AllowsKey(argv[i].Span, access))
                return i;
        }

        return -1;
    }

    private static bool HasGetOption(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        for (var i = 3; i < argv.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(argv[i].Span, "get"u8))
                return true;
        }

        return false;
    }

    /// <summary>
    /// <c>ACL DRYRUN</c>'s answer for a denial (Redis's verbose <c>getAclErrorMessage</c>): <c>This user has no
    /// permissions to run the '...' command</c> or <c>... to access the '...' key</c>.
    /// </summary>
    internal static string Explain(AclDenial denial, string? command, ReadOnlySpan<ReadOnlyMemory<byte>> argv, int keyPosition)
        => denial == AclDenial.Command
            ? $"This user has no permissions to run the '{command}' command"
            : $"This user has no permissions to access the '{Encoding.Latin1.GetString(argv[keyPosition].Span)}' key";
}
