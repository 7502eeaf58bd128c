namespace RaftKv.Client;

/// <summary>The condition under which <see cref="RaftKvCommands.StringSetAsync(string, string, TimeSpan?, When, CancellationToken)"/> and its relatives (MSET, RENAME) write.</summary>
public enum When
{
    /// <summary>Always set the value.</summary>
    Always,

    /// <summary>Set only when the key already exists (<c>XX</c>).</summary>
    Exists,

    /// <summary>Set only when the key does not exist (<c>NX</c>): the basic lock acquisition.</summary>
    NotExists,
}
