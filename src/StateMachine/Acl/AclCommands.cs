using System.Text;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Acl;

/// <summary>A command or subcommand as ACL rules see it: a bit in a user's command bitmap.</summary>
internal sealed class AclCommandEntry
{
    public AclCommandEntry(CommandSpec spec, int id, AclCommandEntry? parent)
    {
        Spec = spec;
        Id = id;
        Parent = parent;
    }

    public CommandSpec Spec { get; }

    /// <summary>The bit in <see cref="AclUser"/>'s command bitmap.</summary>
    public int Id { get; }

    public AclCommandEntry? Parent { get; }

    public AclCommandEntry[] Subcommands { get; internal set; } = [];

    /// <summary><c>get</c>, or <c>config|get</c> for a subcommand.</summary>
    public string FullName => Spec.Name;

    public AclCategories Categories => Spec.Categories;
}

/// <summary>
/// <see cref="CommandTable"/> numbered for ACL bitmaps: each command, then its subcommands, in table order (Redis
/// numbers its commands in the order it registers them; only the order of descriptions depends on it).
/// </summary>
internal static class AclCommands
{
    public static IReadOnlyList<AclCommandEntry> TopLevel { get; }

    /// <summary>Commands and subcommands: the size of a command bitmap.</summary>
    public static int Count { get; }

    private static readonly Dictionary<CommandSpec, AclCommandEntry> BySpec = new(ReferenceEqualityComparer.Instance);
    private static readonly Dictionary<string, AclCommandEntry> ByName = new(StringComparer.OrdinalIgnoreCase);

    static AclCommands()
    {
        var id = 0;
        var top = new List<AclCommandEntry>();
        foreach (var spec in CommandTable.All)
        {
            var entry = new AclCommandEntry(spec, id++, null);
            entry.Subcommands = [.. spec.Subcommands.Select(sub => new AclCommandEntry(sub, id++, entry))];
            top.Add(entry);
            foreach (var e in (AclCommandEntry[])[entry, .. entry.Subcommands])
            {
                BySpec.Add(e.Spec, e);
                ByName.Add(e.FullName, e);
            }
        }

        TopLevel = top;
        Count = id;
        CategoryMembers = [.. AclCategoryNames.All.Select(static c => Flattened.Where(e => (e.Categories & c.Category) != 0).Select(static e => e.Id).ToArray())];
    }

    /// <summary>Every command and subcommand, each command followed by its subcommands.</summary>
    public static IEnumerable<AclCommandEntry> Flattened => TopLevel.SelectMany(static entry => (AclCommandEntry[])[entry, .. entry.Subcommands]);

    public static AclCommandEntry Of(CommandSpec spec) => BySpec[spec];

    /// <summary>The ids of each category's commands and subcommands, in <see cref="AclCategoryNames.All"/>'s order.</summary>
    public static int[][] CategoryMembers { get; }

    /// <summary>Redis's <c>ACLLookupCommand</c>: <c>name</c> or <c>name|sub</c> (ASCII case ignored); null otherwise.</summary>
    public static AclCommandEntry? Lookup(ReadOnlySpan<byte> name)
    {
        if (name.Length is 0 or > 64 || !Ascii.IsValid(name))
            return null;
        return ByName.GetValueOrDefault(Encoding.ASCII.GetString(name));
    }
}
