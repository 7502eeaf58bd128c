using System.Text;
using RaftKv.Node.Commands;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Security;

/// <summary>
/// <c>requirepass</c>, Redis's compatibility layer over ACL users: <c>CONFIG SET requirepass p</c> is
/// <c>ACL SETUSER default resetpass &gt;p</c> (an empty value: <c>resetpass nopass</c>), so it goes through the log like
/// any user change, hashed by the parser before it gets there. <c>CONFIG GET requirepass</c> answers an empty string:
/// only SHA-256 hashes are kept, on no node is the password itself.
/// </summary>
public sealed class SecurityConfigParameters : IConfigParameters
{
    /// <inheritdoc/>
    public IEnumerable<ConfigParameter> Parameters => [new("requirepass", static () => "", SetRequirePass)];

    /// <summary>The <c>ACL SETUSER</c> that sets <c>default</c>'s only password to <paramref name="password"/> (none when empty).</summary>
    public static WriteCommand? DefaultPassword(string password)
    {
        ReadOnlyMemory<byte>[] argv =
        [
            "acl"u8.ToArray(), "setuser"u8.ToArray(), "default"u8.ToArray(), "resetpass"u8.ToArray(),
            password.Length == 0 ? "nopass"u8.ToArray() : Encoding.UTF8.GetBytes(">" + password),
        ];
        return CommandParser.Parse(argv) is { Outcome: ParseOutcome.Write, Write: { } write } ? write : null;
    }

    private static ConfigChange SetRequirePass(string value)
        => DefaultPassword(value) is { } write ? new ConfigChange.Replicated(write) : new ConfigChange.Invalid("argument is not a valid password");
}
