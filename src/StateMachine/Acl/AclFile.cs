using System.Text;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Acl;

/// <summary>What <see cref="AclFile.Parse"/> read: the users, or the errors (then no user is to be loaded).</summary>
/// <param name="Users">Each user's name and rules, passwords already hashed (<c>#</c>/<c>!</c>); empty on error.</param>
/// <param name="Error">Null when the file is valid; else Redis's text (every error, with line numbers).</param>
public sealed record AclFileContents(IReadOnlyList<AclUserRules> Users, string? Error)
{
    /// <summary>The log command that loads these users (<paramref name="onlyIfUninitialized"/> at a node's first start).</summary>
    /// <exception cref="InvalidOperationException">The file had errors.</exception>
    public AclLoadCommand ToLoadCommand(bool onlyIfUninitialized)
        => Error is null
            ? new AclLoadCommand { Users = [.. Users], OnlyIfUninitialized = onlyIfUninitialized }
            : throw new InvalidOperationException(Error);
}

/// <summary>
/// Redis's aclfile format (acl.c <c>ACLLoadFromFile</c>): one <c>user &lt;name&gt; &lt;rules...&gt;</c> per line, blank
/// lines ignored. Every rule is checked on a new user as Redis applies it; errors are collected with their line
/// numbers in Redis's words, and any error means nothing is loaded. Clear passwords (<c>&gt;</c>, <c>&lt;</c>) are
/// turned into hashes here, so they never reach the log.
/// </summary>
/// <remarks>
/// The text's characters are taken as bytes (Latin-1): read the file as Latin-1 to keep any byte. Tokens are separated
/// by spaces; unlike Redis 7.0's <c>sdssplitargs</c>, quotes are not interpreted, and selectors <c>(...)</c> are refused.
/// </remarks>
public static class AclFile
{
    /// <summary>Reads <paramref name="text"/>, an aclfile named <paramref name="fileName"/> in error messages.</summary>
    public static AclFileContents Parse(string text, string fileName = "users.acl")
    {
        ArgumentNullException.ThrowIfNull(text);
        var errors = new StringBuilder();
        var users = new List<AclUserRules>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim(' ', '\t', '\r', '\n');
            var number = i + 1;
            if (line.Length == 0)
                continue;
            var tokens = line.Split(' ');
            if (tokens[0] != "user" || tokens.Length < 2)
            {
                errors.Append($"{fileName}:{number} should start with user keyword followed by the username. ");
                continue;
            }

            var name = Encoding.Latin1.GetBytes(tokens[1]);
            if (AclCommandTable.HasSpaces(name))
            {
                errors.Append($"'{fileName}:{number}: username '{tokens[1]}' contains invalid characters. ");
                continue;
            }

            if (name.Length > AclTable.MaxNameBytes)
            {
                errors.Append($"{fileName}:{number}: username is longer than {AclTable.MaxNameBytes} bytes. ");
                continue;
            }

            if (!names.TryAdd(tokens[1], number))
            {
                errors.Append($"WARNING: Duplicate user '{tokens[1]}' found on line {number}. ");
                continue;
            }

            if (users.Count >= AclTable.MaxUsers)
            {
                errors.Append($"{fileName}:{number}: RaftKv holds at most {AclTable.MaxUsers} users. ");
                continue;
            }

            if (tokens.Length - 2 > AclCommandTable.MaxRules)
            {
                errors.Append($"{fileName}:{number}: RaftKv takes at most {AclCommandTable.MaxRules} rules per user. ");
                continue;
            }

            var scratch = AclUser.CreateNew(tokens[1]);
            var rules = new List<byte[]>();
            var valid = true;
            foreach (var token in tokens.Skip(2))
            {
                var rule = Encoding.Latin1.GetBytes(token.Trim('\t', '\r', '\n'));
                if (scratch.Apply(rule) is { } reason)
                {
                    // Redis names the operation only when a command or category is unknown.
                    errors.Append(reason == "Unknown command or category name in ACL"
                        ? $"{fileName}:{number}: Error in applying operation '{Encoding.Latin1.GetString(rule)}': {reason}. "
                        : $"{fileName}:{number}: {reason}. ");
                    valid = false;
                    continue;
                }

                rules.Add(AclCommandTable.HidePassword(rule));
            }

            if (valid)
                users.Add(new AclUserRules { Name = name, Rules = [.. rules] });
        }

        return errors.Length == 0 ? new AclFileContents(users, null) : new AclFileContents([], errors.ToString().TrimEnd());
    }

    /// <summary>
    /// The users a node's <c>requirepass</c> gives (Redis: <c>default</c> keeps its rules and gets that password instead
    /// of <c>nopass</c>): <c>default on #sha256 ~* &amp;* +@all</c>; no password keeps Redis's <c>nopass</c> default.
    /// </summary>
    public static AclFileContents RequirePass(string? password)
    {
        var rules = new List<byte[]> { "on"u8.ToArray() };
        rules.Add(password is null ? "nopass"u8.ToArray() : AclCommandTable.HidePassword(Encoding.UTF8.GetBytes(">" + password)));
        rules.AddRange(new[] { "~*", "&*", "+@all" }.Select(Encoding.ASCII.GetBytes));
        return new AclFileContents([new AclUserRules { Name = "default"u8.ToArray(), Rules = [.. rules] }], null);
    }
}
