namespace RaftKv.Client;

/// <summary>
/// When <see cref="RaftKvCommands.KeyExpireAsync(string, TimeSpan?, ExpireWhen, CancellationToken)"/> changes a TTL
/// (<c>PEXPIRE key ms [NX|XX|GT|LT]</c>), named as in StackExchange.Redis.
/// </summary>
public enum ExpireWhen
{
    /// <summary>Always set the TTL.</summary>
    Always,

    /// <summary>Only when the key already has a TTL (<c>XX</c>).</summary>
    HasExpiry,

    /// <summary>Only when the key has no TTL (<c>NX</c>).</summary>
    HasNoExpiry,

    /// <summary>Only when the new expiry is later than the current one; a key without a TTL counts as never expiring (<c>GT</c>).</summary>
    GreaterThanCurrentExpiry,

    /// <summary>Only when the new expiry is earlier than the current one; a key without a TTL counts as never expiring (<c>LT</c>).</summary>
    LessThanCurrentExpiry,
}
