namespace RaftKv.StateMachine.Acl;

/// <summary>
/// Redis 7.0's ACL command categories (<c>ACL CAT</c>), one bit each, in Redis's order. Every command in
/// <see cref="Commands.CommandTable"/> carries the categories Redis gives it; <c>+@category</c> and <c>-@category</c>
/// act on them.
/// </summary>
/// <remarks>Not persisted as numbers (rules travel as text), so the values may change; the order may not (it is
/// <c>ACL CAT</c>'s and the order rule descriptions try categories in).</remarks>
[Flags]
public enum AclCategories : uint
{
    /// <summary>No category.</summary>
    None = 0,
    /// <summary><c>@keyspace</c>.</summary>
    Keyspace = 1 << 0,
    /// <summary><c>@read</c>.</summary>
    Read = 1 << 1,
    /// <summary><c>@write</c>.</summary>
    Write = 1 << 2,
    /// <summary><c>@set</c>.</summary>
    Set = 1 << 3,
    /// <summary><c>@sortedset</c>.</summary>
    SortedSet = 1 << 4,
    /// <summary><c>@list</c>.</summary>
    List = 1 << 5,
    /// <summary><c>@hash</c>.</summary>
    Hash = 1 << 6,
    /// <summary><c>@string</c>.</summary>
    String = 1 << 7,
    /// <summary><c>@bitmap</c>.</summary>
    Bitmap = 1 << 8,
    /// <summary><c>@hyperloglog</c>.</summary>
    HyperLogLog = 1 << 9,
    /// <summary><c>@geo</c>.</summary>
    Geo = 1 << 10,
    /// <summary><c>@stream</c>.</summary>
    Stream = 1 << 11,
    /// <summary><c>@pubsub</c>.</summary>
    PubSub = 1 << 12,
    /// <summary><c>@admin</c>.</summary>
    Admin = 1 << 13,
    /// <summary><c>@fast</c>.</summary>
    Fast = 1 << 14,
    /// <summary><c>@slow</c>.</summary>
    Slow = 1 << 15,
    /// <summary><c>@blocking</c>.</summary>
    Blocking = 1 << 16,
    /// <summary><c>@dangerous</c>.</summary>
    Dangerous = 1 << 17,
    /// <summary><c>@connection</c>.</summary>
    Connection = 1 << 18,
    /// <summary><c>@transaction</c>.</summary>
    Transaction = 1 << 19,
    /// <summary><c>@scripting</c>.</summary>
    Scripting = 1 << 20,
}

/// <summary>
/// What ACL key patterns a command needs for one of its keys: Redis's key-spec flags reduced to what ACL looks at
/// (<c>ACCESS</c> needs read; <c>INSERT</c>, <c>DELETE</c>, <c>UPDATE</c> need write). <see cref="None"/> (e.g.
/// <c>EXISTS</c>, <c>STRLEN</c>) is satisfied by any pattern that matches the key, whatever its permissions.
/// </summary>
[Flags]
public enum KeyAccess : byte
{
    /// <summary>Neither reads the value nor writes: any matching pattern will do.</summary>
    None = 0,
    /// <summary>Reads the value (<c>%R~</c> or <c>~</c>).</summary>
    Read = 1,
    /// <summary>Writes or deletes (<c>%W~</c> or <c>~</c>).</summary>
    Write = 2,
    /// <summary>Both.</summary>
    ReadWrite = Read | Write,
}

/// <summary>The names of <see cref="AclCategories"/> as Redis spells them.</summary>
public static class AclCategoryNames
{
    /// <summary>Every category with its name, in Redis's order (<c>ACL CAT</c>).</summary>
    public static IReadOnlyList<(AclCategories Category, string Name)> All { get; } =
    [
        (AclCategories.Keyspace, "keyspace"), (AclCategories.Read, "read"), (AclCategories.Write, "write"),
        (AclCategories.Set, "set"), (AclCategories.SortedSet, "sortedset"), (AclCategories.List, "list"),
        (AclCategories.Hash, "hash"), (AclCategories.String, "string"), (AclCategories.Bitmap, "bitmap"),
        (AclCategories.HyperLogLog, "hyperloglog"), (AclCategories.Geo, "geo"), (AclCategories.Stream, "stream"),
        (AclCategories.PubSub, "pubsub"), (AclCategories.Admin, "admin"), (AclCategories.Fast, "fast"),
        (AclCategories.Slow, "slow"), (AclCategories.Blocking, "blocking"), (AclCategories.Dangerous, "dangerous"),
        (AclCategories.Connection, "connection"), (AclCategories.Transaction, "transaction"),
        (AclCategories.Scripting, "scripting"),
    ];

    /// <summary>The category named <paramref name="name"/> (ASCII case ignored, as Redis's <c>strcasecmp</c>).</summary>
    public static bool TryParse(ReadOnlySpan<byte> name, out AclCategories category)
    {
        foreach (var (value, text) in All)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(name, text))
            {
                category = value;
                return true;
            }
        }

        category = AclCategories.None;
        return false;
    }
}
