using System.Text;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Acl;

/// <summary>
/// The ACL users, replicated like the data: changed only by the log (<c>ACL SETUSER</c>, <c>ACL DELUSER</c>, the
/// node's <c>ACL LOAD</c> of its configuration), in snapshots and the digest. Starts with <c>default</c> =
/// <c>on nopass ~* &amp;* +@all</c>, as Redis does, and <see cref="Initialized"/> false.
/// </summary>
/// <remarks>
/// Users are replaced, never changed in place, so a reader holding an <see cref="AclUser"/> sees a consistent one.
/// </remarks>
public sealed class AclTable
{
    /// <summary>The user every connection starts as, which cannot be deleted.</summary>
    public const string DefaultUserName = "default";

    /// <summary>
    /// The most users the table holds (a constant of the state machine: every replica refuses the same
    /// <c>ACL SETUSER</c>), so that applying or describing the table stays bounded.
    /// </summary>
    public const int MaxUsers = 10_000;

    /// <summary>
    /// The longest user name, in bytes (Redis has no limit): a name travels with every forwarded write of its user
    /// and sits in every ACL log entry, so it is bounded like the rest of the table, alike on every replica.
    /// </summary>
    public const int MaxNameBytes = 1024;

    // Ordinal order of Latin-1 names is byte order: Redis keeps users in a radix tree, so ACL USERS and ACL LIST list
    // them so.
    private readonly SortedDictionary<string, AclUser> users = new(StringComparer.Ordinal);

    /// <summary>Creates the table Redis starts with.</summary>
    public AclTable() => Reset();

    /// <summary>Increases on every change of the table (never goes back; restored from snapshots).</summary>
    public long Version { get; private set; }

    /// <summary>
    /// True once any <c>ACL SETUSER</c>, <c>DELUSER</c> or <c>LOAD</c> applied: a node's configuration
    /// (<c>requirepass</c>, <c>aclfile</c>) is loaded only into a table still uninitialized.
    /// </summary>
    public bool Initialized { get; private set; }

    /// <summary>The users, by name in byte order.</summary>
    public IEnumerable<AclUser> Users => users.Values;

    /// <summary>How many users the table holds.</summary>
    public int Count => users.Count;

    /// <summary>The user <c>default</c> (always present).</summary>
    /// <remarks>Kept in a field: every command of <c>default</c> resolves it, in apply and in reads.</remarks>
    public AclUser Default { get; private set; } = null!;

    /// <summary>What the users cost in <c>used_memory</c>, kept up to date by every change.</summary>
    public long UsedMemory { get; private set; }

    /// <summary>
    /// What a user costs in <c>used_memory</c>: <c>default</c> always exists, so it is part of the empty store and costs 0,
    /// as every user costs in Redis's <c>used_memory</c> baseline.
    /// </summary>
    internal static long Cost(AclUser user) => user.Name == DefaultUserName ? 0 : user.MemoryCost();

    /// <summary>The user named <paramref name="name"/>; null when there is none.</summary>
    public AclUser? Find(string name) => users.GetValueOrDefault(name);

    /// <summary>The user named <paramref name="name"/> (its bytes); null when there is none.</summary>
    public AclUser? Find(ReadOnlySpan<byte> name) => users.GetValueOrDefault(Encoding.Latin1.GetString(name));

    /// <summary>
    /// A copy that later changes of this table do not touch (users are immutable, so it shares them): what a node
    /// publishes for its connections to check against without the state's lock.
    /// </summary>
    public AclTable Clone()
    {
        var copy = new AclTable();
        copy.users.Clear();
        foreach (var (name, user) in users)
            copy.users.Add(name, user);
        copy.Default = Default;
        copy.Version = Version;
        copy.Initialized = Initialized;
        copy.UsedMemory = UsedMemory;
        return copy;
    }

    /// <summary>A table holding the users of <paramref name="load"/> (the node's configured users), as if it applied.</summary>
    /// <remarks>Only for a node's stand-in before its cluster's state ever held users; never part of the replicated state.</remarks>
    public static AclTable FromLoad(AclLoadCommand load)
    {
        var store = new KeyValueStore();
        store.Apply(new CommandBatch { Timestamp = 0, Commands = [load] }, 1);
        return store.Acl.Clone();
    }

    /// <summary>The users as <c>ACL LIST</c> prints them (and <c>ACL SAVE</c> writes them), one line each.</summary>
    public IEnumerable<string> ListLines() => users.Values.Select(static u => u.Describe());

    /// <summary>Puts <paramref name="user"/> in place of the one of that name, or adds it.</summary>
    internal void Put(AclUser user)
    {
        if (users.Remove(user.Name, out var old))
            UsedMemory -= Cost(old);
        users.Add(user.Name, user);
        UsedMemory += Cost(user);
        if (user.Name == DefaultUserName)
            Default = user;
        Changed();
    }

    /// <summary>Removes the user; false when there was none. <c>default</c> is never removed.</summary>
    internal bool Remove(string name)
    {
        if (name == DefaultUserName || !users.Remove(name, out var old))
            return false;
        UsedMemory -= Cost(old);
        return true;
    }

    /// <summary>Replaces every user (<c>ACL LOAD</c>); <c>default</c> is added as Redis starts with it when missing.</summary>
    internal void ReplaceAll(IEnumerable<AclUser> replacement)
    {
        users.Clear();
        UsedMemory = 0;
        foreach (var user in replacement)
        {
            users.Add(user.Name, user);
            UsedMemory += Cost(user);
        }

        if (!users.ContainsKey(DefaultUserName))
        {
            var user = AclUser.CreateDefault();
            users.Add(user.Name, user);
            UsedMemory += Cost(user);
        }

        Default = users[DefaultUserName];
        Changed();
    }

    /// <summary>Records a change: a new <see cref="Version"/>, and the table is initialized.</summary>
    internal void Changed()
    {
        Version++;
        Initialized = true;
    }

    /// <summary>Back to the table Redis starts with (before a snapshot restore).</summary>
    internal void Reset()
    {
        users.Clear();
        var user = AclUser.CreateDefault();
        users.Add(user.Name, user);
        Default = user;
        UsedMemory = Cost(user);
        Version = 0;
        Initialized = false;
    }

    /// <summary>Puts back the state read from a snapshot.</summary>
    internal void Restore(bool initialized, long version, IEnumerable<AclUser> restored)
    {
        users.Clear();
        UsedMemory = 0;
        foreach (var user in restored)
        {
            users.Add(user.Name, user);
            UsedMemory += Cost(user);
        }

        if (!users.TryGetValue(DefaultUserName, out var defaultUser))
            throw new InvalidDataException("Snapshot ACL table lacks the default user.");
        Default = defaultUser;
        Initialized = initialized;
        Version = version;
    }

    /// <summary>
    /// Builds a user from rules applied to a new one (<see cref="AclUser.CreateNew"/>): the user, or the first failing
    /// rule and Redis's reason.
    /// </summary>
    internal static AclUser? Build(string name, IEnumerable<byte[]> rules, out byte[]? failedRule, out string? reason)
    {
        var user = AclUser.CreateNew(name);
        foreach (var rule in rules)
        {
            if (user.Apply(rule) is { } problem)
            {
                (failedRule, reason) = (rule, problem);
                return null;
            }
        }

        (failedRule, reason) = (null, null);
        return user;
    }
}
