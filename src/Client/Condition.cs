using System.Text;
using RaftKv.Client.Commands;

namespace RaftKv.Client;

/// <summary>
/// A precondition of a <see cref="RaftKvTransaction"/>, named as in StackExchange.Redis: the transaction commits only
/// if every condition holds when it runs. Its key is watched (<c>WATCH</c>) before the condition is read, so a change
/// between the read and <c>EXEC</c> makes the transaction not commit rather than commit on a stale reading.
/// </summary>
public sealed class Condition
{
    private readonly Func<RespValue, bool> holds;
    private readonly string description;

    private Condition(string key, RaftKvCommand check, Func<RespValue, bool> holds, string description)
    {
        Key = key;
        Check = check;
        this.holds = holds;
        this.description = description;
    }

    internal string Key { get; }

    /// <summary>The read whose reply tells whether the condition holds.</summary>
    internal RaftKvCommand Check { get; }

    /// <summary>The condition holds when <paramref name="key"/> exists.</summary>
    public static Condition KeyExists(string key)
        => new(Checked(key), Exists(key), static reply => reply.AsInt64() == 1, $"{key} exists");

    /// <summary>The condition holds when <paramref name="key"/> does not exist.</summary>
    public static Condition KeyNotExists(string key)
        => new(Checked(key), Exists(key), static reply => reply.AsInt64() == 0, $"{key} does not exist");

    /// <summary>The condition holds when <paramref name="key"/> holds exactly <paramref name="value"/> (UTF-8).</summary>
    public static Condition StringEqual(string key, string value)
    {
        var expected = Encoding.UTF8.GetBytes(value ?? throw new ArgumentNullException(nameof(value)));
        return new(Checked(key), Get(key), reply => reply.AsBytes() is { } actual && actual.AsSpan().SequenceEqual(expected), $"{key} == \"{value}\"");
    }

    /// <summary>The condition holds when <paramref name="key"/> does not exist or holds another value than <paramref name="value"/>.</summary>
    public static Condition StringNotEqual(string key, string value)
    {
        var expected = Encoding.UTF8.GetBytes(value ?? throw new ArgumentNullException(nameof(value)));
        return new(Checked(key), Get(key), reply => reply.AsBytes() is not { } actual || !actual.AsSpan().SequenceEqual(expected), $"{key} != \"{value}\"");
    }

    /// <summary>Whether the condition holds, given the reply to <see cref="Check"/>.</summary>
    internal bool HoldsFor(RespValue reply) => holds(reply);

    /// <inheritdoc/>
    public override string ToString() => description;

    private static string Checked(string key) => key ?? throw new ArgumentNullException(nameof(key));

    private static RaftKvCommand Exists(string key) => new("EXISTS", [Checked(key)], Delivery.Idempotent);

    private static RaftKvCommand Get(string key) => new("GET", [Checked(key)], Delivery.Idempotent);
}
