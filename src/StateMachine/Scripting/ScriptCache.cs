using System.Security.Cryptography;

namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// Scripts known by their SHA1 (<c>SCRIPT LOAD</c>, and every <c>EVAL</c>), as replicated state: <c>EVALSHA</c> works on
/// every replica, after a failover and after a snapshot restore.
/// </summary>
public sealed class ScriptCache
{
    private readonly Dictionary<string, byte[]> scripts = new(StringComparer.Ordinal);

    /// <summary>Scripts cached.</summary>
    public int Count => scripts.Count;

    /// <summary>Every cached script as (lower-case SHA1 hex, body), in an order identical on replicas with the same history.</summary>
    public IEnumerable<KeyValuePair<string, byte[]>> Entries => scripts;

    /// <summary>The lower-case hex SHA1 of <paramref name="body"/>, as Redis names scripts.</summary>
    public static string Sha1Hex(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA1.HashData(body));

    /// <summary>Caches a script; returns its SHA1.</summary>
    public string Add(byte[] body)
    {
        var sha = Sha1Hex(body);
        scripts.TryAdd(sha, body);
        return sha;
    }

    /// <summary>Adds a script under a SHA1 already computed (snapshot restore).</summary>
    internal void Restore(string sha, byte[] body) => scripts[sha] = body;

    /// <summary>Finds a script by SHA1, in any letter case.</summary>
    public bool TryGet(string sha, out byte[] body) => scripts.TryGetValue(sha.ToLowerInvariant(), out body!);

    /// <summary>True when a script with this SHA1 is cached.</summary>
    public bool Contains(string sha) => scripts.ContainsKey(sha.ToLowerInvariant());

    /// <summary>Forgets every script (<c>SCRIPT FLUSH</c>).</summary>
    public void Clear() => scripts.Clear();
}
