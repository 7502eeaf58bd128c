using System.Security.Cryptography;
using System.Text;

namespace RaftKv.StateMachine.Acl;

/// <summary>
/// One ACL user with Redis 7.0's rules (acl.c <c>ACLSetUser</c>/<c>ACLSetSelector</c>, ported rule for rule): flags,
/// SHA-256 password hashes, and one selector — a command bitmap over <see cref="Commands.CommandTable"/>, key patterns
/// with read/write permissions, channel patterns. Selectors beyond the root one (<c>(...)</c>) are not built.
/// </summary>
/// <remarks>
/// Part of the replicated state: only <see cref="AclTable"/> changes a user, by applying rules to a copy and putting the
/// copy in place when every rule applied, so an invalid rule changes nothing. Readers (the node's AUTH and permission
/// checks) see a user that is never changed afterwards.
/// </remarks>
public sealed class AclUser
{
    /// <summary>The most passwords, key patterns, channel patterns and first-argument rules one user holds, together.</summary>
    public const int MaxItems = 1024;

    /// <summary>The longest rule (a pattern, a command name...) accepted, in bytes.</summary>
    public const int MaxRuleLength = 4096;

    [Flags]
    private enum UserFlags : byte
    {
        None = 0,
        Enabled = 1,
        Disabled = 2,
        NoPass = 4,
        SkipSanitizePayload = 8,
        SanitizePayload = 16,
    }

    private static readonly (UserFlags Flag, string Name)[] FlagNames =
    [
        (UserFlags.Enabled, "on"), (UserFlags.Disabled, "off"), (UserFlags.NoPass, "nopass"),
        (UserFlags.SkipSanitizePayload, "skip-sanitize-payload"), (UserFlags.SanitizePayload, "sanitize-payload"),
    ];

    private UserFlags flags;
    private readonly List<byte[]> passwords;

    // The root selector.
    private readonly bool[] allowed;
    private bool futureCommands; // Redis's reserved bit: set by +@all only
    private bool allCommands;
    private bool allKeys;
    private bool allChannels;
    private readonly List<KeyPattern> keyPatterns;
    private readonly List<string> channels;
    private Dictionary<int, List<string>>? firstArgs;

    private AclUser(string name, UserFlags flags, List<byte[]> passwords, bool[] allowed, List<KeyPattern> keyPatterns, List<string> channels)
    {
        Name = name;
        this.flags = flags;
        this.passwords = passwords;
        this.allowed = allowed;
        this.keyPatterns = keyPatterns;
        this.channels = channels;
    }

    /// <summary>The user's name (bytes as Latin-1 characters, so any name round-trips).</summary>
    public string Name { get; }

    /// <summary>True when the user may authenticate (<c>on</c>).</summary>
    public bool Enabled => (flags & UserFlags.Enabled) != 0;

    /// <summary>True when any password authenticates the user (<c>nopass</c>).</summary>
    public bool NoPass => (flags & UserFlags.NoPass) != 0;

    /// <summary>True when the user may run every command on every key: permission checks cost nothing.</summary>
    public bool IsUnrestricted => allCommands && allKeys;

    /// <summary>The SHA-256 hashes of the user's passwords, in the order they were added.</summary>
    public IReadOnlyList<byte[]> PasswordHashes => passwords;

    /// <summary>A user as <c>ACL SETUSER</c> creates it: <c>off</c>, no passwords, no commands, keys or channels.</summary>
    public static AclUser CreateNew(string name)
        => new(name, UserFlags.Disabled, [], new bool[AclCommands.Count], [], []);

    /// <summary>The user <c>default</c> as Redis starts with it: <c>on nopass ~* &amp;* +@all</c>.</summary>
    public static AclUser CreateDefault()
    {
        var user = CreateNew(AclTable.DefaultUserName);
        foreach (var rule in (string[])["+@all", "~*", "&*", "on", "nopass"])
            _ = user.Apply(Encoding.ASCII.GetBytes(rule));
        return user;
    }

    /// <summary>A copy to apply rules to (the named one, for <c>ACL SETUSER</c> on an existing user).</summary>
    internal AclUser Clone()
    {
        var copy = new AclUser(Name, flags, [.. passwords], (bool[])allowed.Clone(),
            [.. keyPatterns.Select(static p => new KeyPattern(p.Pattern, p.Access))], [.. channels])
        {
            futureCommands = futureCommands,
            allCommands = allCommands,
            allKeys = allKeys,
            allChannels = allChannels,
        };
        if (firstArgs is not null)
            copy.firstArgs = firstArgs.ToDictionary(static kv => kv.Key, static kv => new List<string>(kv.Value));
        return copy;
    }

    /// <summary>
    /// True when <paramref name="password"/> authenticates the user: it is enabled and <c>nopass</c>, or the password's
    /// SHA-256 equals one of its hashes (compared in constant time).
    /// </summary>
    public bool CheckPassword(ReadOnlySpan<byte> password)
    {
        if (!Enabled)
            return false;
        if (NoPass)
            return true;
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(password, hash);
        var match = false;
        foreach (var candidate in passwords)
            match |= CryptographicOperations.FixedTimeEquals(hash, candidate);
        return match;
    }

    /// <summary>The number of passwords, patterns and first-argument rules the user holds (bounded by <see cref="MaxItems"/>).</summary>
    internal int Items => passwords.Count + keyPatterns.Count + channels.Count + (firstArgs?.Values.Sum(static l => l.Count) ?? 0);

    /// <summary>What the user costs in <c>used_memory</c> (see <see cref="Memory.MemoryCosts.AclUser"/>).</summary>
    internal long MemoryCost()
    {
        var bytes = Name.Length + (passwords.Count * SHA256.HashSizeInBytes);
        foreach (var pattern in keyPatterns)
            bytes += pattern.Pattern.Length;
        foreach (var channel in channels)
            bytes += channel.Length;
        if (firstArgs is not null)
            bytes += firstArgs.Values.Sum(static l => l.Sum(static s => s.Length));
        return Memory.MemoryCosts.AclUser(bytes, Items);
    }

    /// <summary>
    /// Applies one rule (Redis's <c>ACLSetUser</c>); null when it applied, else Redis's reason (<c>Syntax error</c>,
    /// <c>Unknown command or category name in ACL</c>...), and the user may then be partly changed: apply to a copy.
    /// </summary>
    internal string? Apply(ReadOnlySpan<byte> op)
    {
        description = null;
        if (op.IsEmpty)
            return null;
        if (op.Length > MaxRuleLength)
            return $"Rules are limited to {MaxRuleLength} bytes in RaftKv";
        if (Is(op, "on"))
            flags = (flags | UserFlags.Enabled) & ~UserFlags.Disabled;
        else if (Is(op, "off"))
            flags = (flags | UserFlags.Disabled) & ~UserFlags.Enabled;
        else if (Is(op, "skip-sanitize-payload"))
            flags = (flags | UserFlags.SkipSanitizePayload) & ~UserFlags.SanitizePayload;
        else if (Is(op, "sanitize-payload"))
            flags = (flags | UserFlags.SanitizePayload) & ~UserFlags.SkipSanitizePayload;
        else if (Is(op, "nopass"))
        {
            flags |= UserFlags.NoPass;
            passwords.Clear();
        }
        else if (Is(op, "resetpass"))
        {
            flags &= ~UserFlags.NoPass;
            passwords.Clear();
        }
        else if (op[0] is (byte)'>' or (byte)'#')
        {
            if (!TryHash(op, out var hash))
                return InvalidHash;
            if (!passwords.Exists(p => p.AsSpan().SequenceEqual(hash)))
            {
                if (Items >= MaxItems)
                    return TooManyItems;
                passwords.Add(hash);
            }

            flags &= ~UserFlags.NoPass;
        }
        else if (op[0] is (byte)'<' or (byte)'!')
        {
            if (!TryHash(op, out var hash))
                return InvalidHash;
            var index = passwords.FindIndex(p => p.AsSpan().SequenceEqual(hash));
            if (index < 0)
                return "The password you are trying to remove from the user does not exist";
            passwords.RemoveAt(index);
        }
        else if (op[0] == (byte)'(' && op[^1] == (byte)')')
        {
            return "Selectors are not supported by RaftKv";
        }
        else if (Is(op, "clearselectors"))
        {
            // Only the root selector exists: nothing to clear.
        }
        else if (Is(op, "reset"))
        {
            foreach (var rule in (string[])["resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "clearselectors", "-@all"])
                _ = Apply(Encoding.ASCII.GetBytes(rule));
        }
        else
        {
            return ApplySelectorRule(op);
        }

        return null;
    }

    private const string InvalidHash = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
    private const string TooManyItems = "A user holds at most 1024 passwords, patterns and first-arg rules in RaftKv";
    private const string SyntaxError = "Syntax error";
    private const string UnknownName = "Unknown command or category name in ACL";

    private static bool Is(ReadOnlySpan<byte> op, string word) => Ascii.EqualsIgnoreCase(op, word);

    private static bool TryHash(ReadOnlySpan<byte> op, out byte[] hash)
    {
        var rest = op[1..];
        if (op[0] is (byte)'>' or (byte)'<')
        {
            hash = SHA256.HashData(rest);
            return true;
        }

        hash = [];
        if (rest.Length != 64)
            return false;
        foreach (var c in rest)
        {
            if (c is not ((>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f')))
                return false;
        }

        hash = Convert.FromHexString(Encoding.ASCII.GetString(rest));
        return true;
    }

    // ACLSetSelector.
    private string? ApplySelectorRule(ReadOnlySpan<byte> op)
    {
        if (Is(op, "allkeys") || op is [(byte)'~', (byte)'*'])
        {
            allKeys = true;
            keyPatterns.Clear();
        }
        else if (Is(op, "resetkeys"))
        {
            allKeys = false;
            keyPatterns.Clear();
        }
        else if (Is(op, "allchannels") || op is [(byte)'&', (byte)'*'])
        {
            allChannels = true;
            channels.Clear();
        }
        else if (Is(op, "resetchannels"))
        {
            allChannels = false;
            channels.Clear();
        }
        else if (Is(op, "allcommands") || Is(op, "+@all"))
        {
            Array.Fill(allowed, true);
            futureCommands = allCommands = true;
            firstArgs = null;
        }
        else if (Is(op, "nocommands") || Is(op, "-@all"))
        {
            Array.Clear(allowed);
            futureCommands = allCommands = false;
            firstArgs = null;
        }
        else if (op[0] is (byte)'~' or (byte)'%')
        {
            if (allKeys)
                return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
            var access = KeyAccess.None;
            var offset = 1;
            if (op[0] == (byte)'%')
            {
                for (; offset < op.Length; offset++)
                {
                    var c = op[offset];
                    if ((c | 0x20) == 'r' && (access & KeyAccess.Read) == 0)
                        access |= KeyAccess.Read;
                    else if ((c | 0x20) == 'w' && (access & KeyAccess.Write) == 0)
                        access |= KeyAccess.Write;
                    else if (c == (byte)'~')
                    {
                        offset++;
                        break;
                    }
                    else
                        return SyntaxError;
                }

                if (access == KeyAccess.None)
                    return SyntaxError;
            }
            else
            {
                access = KeyAccess.ReadWrite;
            }

            var pattern = op[offset..];
            if (HasSpaces(pattern))
                return SyntaxError;
            var text = Encoding.Latin1.GetString(pattern);
            if (keyPatterns.Find(p => p.Pattern == text) is { } existing)
            {
                existing.Access |= access;
            }
            else
            {
                if (Items >= MaxItems)
                    return TooManyItems;
                keyPatterns.Add(new KeyPattern(text, access));
            }

            allKeys = false;
        }
        else if (op[0] == (byte)'&')
        {
            if (allChannels)
                return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
            var pattern = op[1..];
            if (HasSpaces(pattern))
                return SyntaxError;
            var text = Encoding.Latin1.GetString(pattern);
            if (!channels.Contains(text))
            {
                if (Items >= MaxItems)
                    return TooManyItems;
                channels.Add(text);
            }

            allChannels = false;
        }
        else if (op[0] == (byte)'+' && (op.Length < 2 || op[1] != (byte)'@'))
        {
            var name = op[1..];
            var bar = name.LastIndexOf((byte)'|');
            if (bar < 0)
            {
                if (AclCommands.Lookup(name) is not { } command)
                    return UnknownName;
                ChangePermission(command, true);
                return null;
            }

            if (AclCommands.Lookup(name[..bar]) is not { } parent)
                return UnknownName;
            if (parent.Parent is not null)
                return "Allowing first-arg of a subcommand is not supported";
            var sub = name[(bar + 1)..];
            if (sub.IsEmpty)
                return SyntaxError;
            if (parent.Subcommands.Length > 0)
            {
                if (AclCommands.Lookup(name) is not { } subcommand)
                    return UnknownName;
                ChangePermission(subcommand, true);
                return null;
            }

            // A first argument of a command without subcommands (+select|0): Redis's deprecated first-arg rule.
            firstArgs ??= [];
            if (!firstArgs.TryGetValue(parent.Id, out var list))
                firstArgs[parent.Id] = list = [];
            var argument = Encoding.Latin1.GetString(sub);
            if (!list.Exists(a => string.Equals(a, argument, StringComparison.OrdinalIgnoreCase)))
            {
                if (Items >= MaxItems)
                    return TooManyItems;
                list.Add(argument);
            }
        }
        else if (op[0] == (byte)'-' && (op.Length < 2 || op[1] != (byte)'@'))
        {
            if (AclCommands.Lookup(op[1..]) is not { } command)
                return UnknownName;
            ChangePermission(command, false);
        }
        else if (op[0] is (byte)'+' or (byte)'-' && op.Length >= 2 && op[1] == (byte)'@')
        {
            if (!AclCategoryNames.TryParse(op[2..], out var category))
                return UnknownName;
            SetCategory(category, op[0] == (byte)'+');
        }
        else
        {
            return SyntaxError;
        }

        return null;
    }

    // ACLStringHasSpaces: isspace() or a NUL.
    private static bool HasSpaces(ReadOnlySpan<byte> text)
        => text.IndexOfAny(" \t\n\v\f\r\0"u8) >= 0;

    private void SetBit(int id, bool value)
    {
        allowed[id] = value;
        if (!value)
            allCommands = false;
    }

    // ACLChangeSelectorPerm: a command with subcommands takes them along.
    private void ChangePermission(AclCommandEntry command, bool allow)
    {
        SetBit(command.Id, allow);
        firstArgs?.Remove(command.Id);
        foreach (var sub in command.Subcommands)
            SetBit(sub.Id, allow);
    }

    // ACLSetSelectorCommandBitsForCategoryLogic.
    private void SetCategory(AclCategories category, bool allow)
    {
        foreach (var command in AclCommands.TopLevel)
        {
            if ((command.Categories & category) != 0)
                ChangePermission(command, allow);
            foreach (var sub in command.Subcommands)
            {
                if ((sub.Categories & category) != 0)
                    ChangePermission(sub, allow);
            }
        }
    }

    /// <summary>True when the user's command bitmap lets it run <paramref name="command"/> (first-argument rules aside).</summary>
    internal bool Allows(AclCommandEntry command) => allCommands || allowed[command.Id];

    /// <summary>True when a first-argument rule (<c>+select|0</c>) allows <paramref name="argument"/> for <paramref name="command"/>.</summary>
    internal bool AllowsFirstArgument(AclCommandEntry command, ReadOnlySpan<byte> argument)
    {
        if (firstArgs is null || !firstArgs.TryGetValue(command.Id, out var list))
            return false;
        var text = Encoding.Latin1.GetString(argument);
        return list.Exists(a => string.Equals(a, text, StringComparison.OrdinalIgnoreCase));
    }

    internal bool AllKeys => allKeys;

    /// <summary>ACLSelectorCheckKey: a pattern with at least the needed permissions matches the key.</summary>
    internal bool AllowsKey(ReadOnlySpan<byte> key, KeyAccess access)
    {
        if (allKeys)
            return true;
        foreach (var pattern in keyPatterns)
        {
            if ((pattern.Access & access) == access && GlobPattern.IsMatch(pattern.Bytes, key))
                return true;
        }

        return false;
    }

    // ---- Descriptions ----

    /// <summary>The flag names Redis prints (<c>ACL GETUSER</c>'s <c>flags</c>), in Redis's order.</summary>
    public IEnumerable<string> FlagNamesInOrder()
    {
        foreach (var (flag, name) in FlagNames)
        {
            if ((flags & flag) != 0)
                yield return name;
        }
    }

    /// <summary>
    /// The user as rules (Redis's <c>ACLDescribeUser</c>): flags, <c>#hash</c>es, key patterns, channels, command rules.
    /// Applied to <see cref="CreateNew"/>, they rebuild this user (snapshots rely on that).
    /// </summary>
    public IReadOnlyList<string> DescribeRules() => description ??= ComputeDescription();

    // A user in the table is never changed again (rules apply to a copy), so its description is computed once.
    private IReadOnlyList<string>? description;

    private List<string> ComputeDescription()
    {
        var rules = new List<string>(FlagNamesInOrder());
        foreach (var hash in passwords)
            rules.Add("#" + Convert.ToHexStringLower(hash));
        rules.AddRange(DescribeKeys());
        if (allChannels)
        {
            rules.Add("&*");
        }
        else
        {
            rules.Add("resetchannels");
            rules.AddRange(channels.Select(static c => "&" + c));
        }

        rules.AddRange(DescribeCommandRules());
        return rules;
    }

    /// <summary>The <c>ACL LIST</c> line: <c>user name rules...</c>.</summary>
    public string Describe() => "user " + Name + " " + string.Join(' ', DescribeRules());

    private IEnumerable<string> DescribeKeys()
    {
        if (allKeys)
            return ["~*"];
        return keyPatterns.Select(static p => p.Access switch
        {
            KeyAccess.ReadWrite => "~" + p.Pattern,
            KeyAccess.Read => "%R~" + p.Pattern,
            _ => "%W~" + p.Pattern,
        });
    }

    /// <summary><c>ACL GETUSER</c>'s <c>keys</c>: the patterns joined by spaces (<c>~*</c> for all keys).</summary>
    public string DescribeKeyPatterns() => string.Join(' ', DescribeKeys());

    /// <summary><c>ACL GETUSER</c>'s <c>channels</c>: <c>&amp;*</c>, or the patterns joined by spaces.</summary>
    public string DescribeChannels() => allChannels ? "&*" : string.Join(' ', channels.Select(static c => "&" + c));

    /// <summary><c>ACL GETUSER</c>'s <c>commands</c>.</summary>
    public string DescribeCommands() => string.Join(' ', DescribeCommandRules());

    // ACLDescribeSelectorCommandRules: +@all or -@all, then the categories that fit best, then single commands (in
    // table order where Redis uses its hash table's order, which changes at every start).
    private List<string> DescribeCommandRules()
    {
        var additive = !futureCommands;
        var rules = new List<string> { additive ? "-@all" : "+@all" };
        var fake = new bool[allowed.Length];
        Array.Fill(fake, !additive);
        var temp = (bool[])allowed.Clone();
        var categories = AclCategoryNames.All;
        var applied = new bool[categories.Count];
        while (true)
        {
            int best = -1;
            long minDiff = int.MaxValue, maxSame = 0;
            for (var j = 0; j < categories.Count; j++)
            {
                if (applied[j])
                    continue;
                long on = 0, off = 0;
                foreach (var id in AclCommands.CategoryMembers[j])
                {
                    if (temp[id])
                        on++;
                    else
                        off++;
                }

                var diff = additive ? off : on;
                var same = additive ? on : off;
                if (same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)))
                {
                    best = j;
                    minDiff = diff;
                    maxSame = same;
                }
            }

            if (best == -1)
                break;
            SetCategoryBits(fake, categories[best].Category, additive);
            SetCategoryBits(temp, categories[best].Category, !additive);
            rules.Add((additive ? "+@" : "-@") + categories[best].Name);
            applied[best] = true;
        }

        foreach (var command in AclCommands.TopLevel)
            DescribeSingle(command, fake, rules);
        return rules;
    }

    private void DescribeSingle(AclCommandEntry command, bool[] fake, List<string> rules)
    {
        var userBit = allowed[command.Id];
        if (userBit != fake[command.Id])
        {
            rules.Add((userBit ? "+" : "-") + command.FullName);
            fake[command.Id] = userBit;
            foreach (var sub in command.Subcommands)
                fake[sub.Id] = userBit;
        }

        foreach (var sub in command.Subcommands)
            DescribeSingle(sub, fake, rules);

        if (!userBit && firstArgs is not null && firstArgs.TryGetValue(command.Id, out var list))
            rules.AddRange(list.Select(argument => "+" + command.FullName + "|" + argument));
    }

    private static void SetCategoryBits(bool[] bits, AclCategories category, bool value)
    {
        foreach (var command in AclCommands.TopLevel)
        {
            if ((command.Categories & category) != 0)
                SetWithSubcommands(bits, command, value);
            foreach (var sub in command.Subcommands)
            {
                if ((sub.Categories & category) != 0)
                    bits[sub.Id] = value;
            }
        }

        static void SetWithSubcommands(bool[] bits, AclCommandEntry command, bool value)
        {
            bits[command.Id] = value;
            foreach (var sub in command.Subcommands)
                bits[sub.Id] = value;
        }
    }

    private sealed class KeyPattern(string pattern, KeyAccess access)
    {
        public string Pattern { get; } = pattern;

        public byte[] Bytes { get; } = Encoding.Latin1.GetBytes(pattern);

        public KeyAccess Access { get; set; } = access;
    }
}
