using System.Globalization;
using RaftKv.Node.Raft;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// <c>maxmemory</c> and <c>maxmemory-policy</c>. <c>maxmemory</c> is replicated state: <c>CONFIG SET</c> proposes a
/// <see cref="ConfigSetCommand"/>, so every replica starts refusing writes at the same entry, and <c>CONFIG GET</c>
/// shows what this node has applied. The only policy is <c>noeviction</c> (writes that would grow memory past the limit
/// answer <c>-OOM</c>; nothing is evicted).
/// </summary>
public sealed class MemoryConfigParameters(RaftStateMachine stateMachine) : IConfigParameters
{
    /// <summary>The one eviction policy: none.</summary>
    public const string NoEviction = "noeviction";

    private static readonly string[] RedisPolicies =
        ["volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random", "allkeys-random", "volatile-ttl", NoEviction];

    /// <inheritdoc/>
    public IEnumerable<ConfigParameter> Parameters =>
    [
        new("maxmemory", () => stateMachine.Inspect(static s => s.MaxMemory).ToString(CultureInfo.InvariantCulture), SetMaxMemory),
        new("maxmemory-policy", static () => NoEviction, SetPolicy),
    ];

    private static ConfigChange SetMaxMemory(string value)
        => TryParseMemory(value, out var bytes)
            ? new ConfigChange.Replicated(new ConfigSetCommand { Setting = ReplicatedSetting.MaxMemory, Value = bytes })
            : new ConfigChange.Invalid("argument must be a memory value");

    private static ConfigChange SetPolicy(string value)
    {
        var policy = value.ToLowerInvariant();
        return policy == NoEviction ? new ConfigChange.Local(static () => { })
            : RedisPolicies.Contains(policy) ? new ConfigChange.Invalid("RaftKv supports only noeviction")
            : new ConfigChange.Invalid("argument(s) must be one of the following: " + string.Join(", ", RedisPolicies));
    }

    /// <summary>
    /// Redis's <c>memtoull</c>: digits, then an optional unit, any case — <c>b</c>, <c>k</c> (1000), <c>kb</c> (1024),
    /// <c>m</c>, <c>mb</c>, <c>g</c>, <c>gb</c>. A value that does not fit in a <see langword="long"/> is refused
    /// (Redis lets the multiplication wrap).
    /// </summary>
    public static bool TryParseMemory(string text, out long bytes)
    {
        bytes = 0;
        var digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
            digits++;

        long multiplier = text[digits..].ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" => 1000,
            "kb" => 1024,
            "m" => 1000 * 1000,
            "mb" => 1024 * 1024,
            "g" => 1000L * 1000 * 1000,
            "gb" => 1024L * 1024 * 1024,
            _ => 0,
        };
        if (multiplier == 0)
            return false;
        if (digits == 0)
            return true; // strtoull of no digits is 0, as in Redis ("mb" is 0).
        if (!long.TryParse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            return false;

        try
        {
            bytes = checked(value * multiplier);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>Bytes as Redis's <c>bytesToHuman</c> prints them: <c>512B</c>, <c>1.50K</c>, <c>100.00M</c>, <c>2.00G</c>...</summary>
    public static string ToHuman(long bytes)
    {
        if (bytes < 1024)
            return bytes.ToString(CultureInfo.InvariantCulture) + "B";
        string[] units = ["K", "M", "G", "T", "P", "E"];
        double value = bytes;
        var unit = -1;
        do
        {
            value /= 1024;
            unit++;
        }
        while (value >= 1024 && unit < units.Length - 1);
        return value.ToString("0.00", CultureInfo.InvariantCulture) + units[unit];
    }
}
