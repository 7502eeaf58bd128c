using System.Text;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// Every command RaftKv knows — the data commands (<see cref="CommandParser.Commands"/>) and the node's
/// (<see cref="NodeCommandTable"/>) — as one table of metadata: arity, key positions, ACL categories, subcommands.
/// ACL rules and checks are defined over this table.
/// </summary>
public static class CommandTable
{
    /// <summary>Every command: the data commands first, then the node's, each family in its table's order.</summary>
    public static IReadOnlyList<CommandSpec> All { get; } =
        [.. CommandParser.Commands, .. NodeCommandTable.Server, .. NodeCommandTable.Transaction];

    private static readonly Dictionary<string, CommandSpec> ByName = All.ToDictionary(static spec => spec.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Finds a command by name, ignoring ASCII case; null when there is none.</summary>
    public static CommandSpec? Find(ReadOnlySpan<byte> name)
    {
        if (name.Length is 0 or > 32 || !Ascii.IsValid(name))
            return null;
        Span<char> text = stackalloc char[name.Length];
        Encoding.ASCII.GetChars(name, text);
        return ByName.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out var spec) ? spec : null;
    }

    /// <summary>Finds a command by name, ignoring ASCII case; null when there is none.</summary>
    public static CommandSpec? Find(string name) => ByName.GetValueOrDefault(name);

    /// <summary>
    /// The command <paramref name="argv"/> names, resolved to its subcommand when it has subcommands (as Redis's
    /// <c>lookupCommand</c>): null for an unknown command, or a known one with subcommands whose subcommand is unknown.
    /// A command with subcommands but no second argument resolves to itself.
    /// </summary>
    public static CommandSpec? Resolve(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (argv.IsEmpty || Find(argv[0].Span) is not { } spec)
            return null;
        if (spec.Subcommands.Count == 0 || argv.Length < 2)
            return spec;
        return FindSubcommand(spec, argv[1].Span);
    }

    /// <summary>The subcommand <paramref name="name"/> of <paramref name="parent"/>, ignoring ASCII case.</summary>
    public static CommandSpec? FindSubcommand(CommandSpec parent, ReadOnlySpan<byte> name)
    {
        var prefix = parent.Name.Length + 1;
        foreach (var sub in parent.Subcommands)
        {
            if (sub.Name.Length - prefix == name.Length && Ascii.EqualsIgnoreCase(name, sub.Name.AsSpan(prefix)))
                return sub;
        }

        return null;
    }
}
