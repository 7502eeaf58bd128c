using RaftKv.Client.Protocol;

namespace RaftKv.Client;

// Keys and TTLs: EXISTS, DEL, PEXPIRE/PEXPIREAT/PERSIST, PTTL/PEXPIRETIME, RENAME, TYPE, COPY, RANDOMKEY.
public abstract partial class RaftKvCommands
{
    /// <summary>Whether <paramref name="key"/> exists (<c>EXISTS</c>).</summary>
    public Task<bool> KeyExistsAsync(string key, CancellationToken cancellationToken = default)
        => ReadAsync("EXISTS", [Key(key)], IsOne, cancellationToken);

    /// <summary>How many of <paramref name="keys"/> exist, a key named twice counting twice (<c>EXISTS</c>).</summary>
    public Task<long> KeyExistsAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
        => keys is { Count: 0 } ? Task.FromResult(0L) : ReadAsync("EXISTS", Keys(keys, nameof(keys)), AsInteger, cancellationToken);

    /// <summary>Deletes <paramref name="key"/>.</summary>
    /// <returns>True when the key existed.</returns>
    public Task<bool> KeyDeleteAsync(string key, CancellationToken cancellationToken = default)
        => WriteAsync("DEL", [Key(key)], IsOne, cancellationToken);

    /// <summary>Deletes <paramref name="keys"/>.</summary>
    /// <returns>How many of them existed.</returns>
    public Task<long> KeyDeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
        => keys is { Count: 0 } ? Task.FromResult(0L) : WriteAsync("DEL", Keys(keys, nameof(keys)), AsInteger, cancellationToken);

    /// <summary>
    /// Sets a TTL on <paramref name="key"/> (<c>PEXPIRE</c>), or removes it when <paramref name="expiry"/> is null
    /// (<c>PERSIST</c>).
    /// </summary>
    /// <returns>True when the key exists and its TTL was changed.</returns>
    public Task<bool> KeyExpireAsync(string key, TimeSpan? expiry, CancellationToken cancellationToken = default)
        => KeyExpireAsync(key, expiry, ExpireWhen.Always, cancellationToken);

    /// <summary>Sets a TTL on <paramref name="key"/> under a condition (<c>PEXPIRE key ms [NX|XX|GT|LT]</c>); null removes the TTL (<c>PERSIST</c>, <see cref="ExpireWhen.Always"/> only).</summary>
    /// <returns>True when the key exists, the condition held and its TTL was changed.</returns>
    public Task<bool> KeyExpireAsync(string key, TimeSpan? expiry, ExpireWhen when, CancellationToken cancellationToken = default)
    {
        if (expiry is not { } ttl)
        {
            return when == ExpireWhen.Always
                ? KeyPersistAsync(key, cancellationToken)
                : throw new ArgumentException("Removing a TTL (a null expiry) takes no condition.", nameof(when));
        }

        return WriteAsync("PEXPIRE", ExpireArguments(key, Milliseconds(ttl, nameof(expiry)), when), IsOne, cancellationToken);
    }

    /// <summary>Makes <paramref name="key"/> expire at <paramref name="expiry"/> (<c>PEXPIREAT</c>; a time in the past deletes it).</summary>
    /// <returns>True when the key exists and its TTL was changed.</returns>
    public Task<bool> KeyExpireAsync(string key, DateTime expiry, CancellationToken cancellationToken = default)
        => KeyExpireAsync(key, expiry, ExpireWhen.Always, cancellationToken);

    /// <summary>Makes <paramref name="key"/> expire at <paramref name="expiry"/> under a condition (<c>PEXPIREAT key ms [NX|XX|GT|LT]</c>).</summary>
    /// <returns>True when the key exists, the condition held and its TTL was changed.</returns>
    public Task<bool> KeyExpireAsync(string key, DateTime expiry, ExpireWhen when, CancellationToken cancellationToken = default)
        => WriteAsync("PEXPIREAT", ExpireArguments(key, UnixMilliseconds(expiry, nameof(expiry)), when), IsOne, cancellationToken);

    /// <summary>The remaining TTL of <paramref name="key"/> (<c>PTTL</c>); null when the key does not exist or has no TTL.</summary>
    public Task<TimeSpan?> KeyTimeToLiveAsync(string key, CancellationToken cancellationToken = default)
        => ReadAsync("PTTL", [Key(key)], static reply => reply.AsInt64() is var ms and >= 0 ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null, cancellationToken);

    /// <summary>When <paramref name="key"/> expires, in UTC (<c>PEXPIRETIME</c>); null when the key does not exist or has no TTL.</summary>
    public Task<DateTime?> KeyExpireTimeAsync(string key, CancellationToken cancellationToken = default)
        => ReadAsync(
            "PEXPIRETIME",
            [Key(key)],
            static reply => reply.AsInt64() is var ms and >= 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime : (DateTime?)null,
            cancellationToken);

    /// <summary>Removes the TTL of <paramref name="key"/> (<c>PERSIST</c>).</summary>
    /// <returns>True when the key existed and had a TTL.</returns>
    public Task<bool> KeyPersistAsync(string key, CancellationToken cancellationToken = default)
        => WriteAsync("PERSIST", [Key(key)], IsOne, cancellationToken);

    /// <summary>
    /// Renames <paramref name="key"/> to <paramref name="newKey"/>, replacing it (<c>RENAME</c>), or only when
    /// <paramref name="newKey"/> does not exist (<c>RENAMENX</c>, <see cref="When.NotExists"/>).
    /// </summary>
    /// <returns>True when renamed; false when <paramref name="newKey"/> existed under <see cref="When.NotExists"/>.</returns>
    /// <exception cref="RaftKvServerException"><paramref name="key"/> does not exist (<c>ERR no such key</c>).</exception>
    public Task<bool> KeyRenameAsync(string key, string newKey, When when = When.Always, CancellationToken cancellationToken = default)
        => when switch
        {
            When.Always => WriteAsync("RENAME", [Key(key), Key(newKey)], IsOk, cancellationToken),
            When.NotExists => WriteAsync("RENAMENX", [Key(key), Key(newKey)], IsOne, cancellationToken),
            _ => throw new ArgumentOutOfRangeException(nameof(when), when, "A rename only when the new name exists has no Redis command."),
        };

    /// <summary>Copies the value and TTL of <paramref name="source"/> to <paramref name="destination"/> (<c>COPY [REPLACE]</c>).</summary>
    /// <returns>True when copied; false when <paramref name="source"/> does not exist, or <paramref name="destination"/> does and <paramref name="replace"/> is false.</returns>
    public Task<bool> KeyCopyAsync(string source, string destination, bool replace = false, CancellationToken cancellationToken = default)
        => WriteAsync("COPY", replace ? [Key(source), Key(destination), "REPLACE"] : [Key(source), Key(destination)], IsOne, cancellationToken);

    /// <summary>The type of the value at <paramref name="key"/> as Redis names it (<c>TYPE</c>): <c>"string"</c>, or <c>"none"</c> when it does not exist.</summary>
    public Task<string> KeyTypeAsync(string key, CancellationToken cancellationToken = default)
        => ReadAsync("TYPE", [Key(key)], static reply => reply.AsString() ?? "none", cancellationToken);

    /// <summary>A key of the database (<c>RANDOMKEY</c>; RaftKv's choice is deterministic per millisecond); null when it is empty.</summary>
    public Task<string?> KeyRandomAsync(CancellationToken cancellationToken = default)
        => ReadAsync("RANDOMKEY", [], AsText, cancellationToken);

    private static RespArgument[] ExpireArguments(string key, long milliseconds, ExpireWhen when) => when switch
    {
        ExpireWhen.Always => [Key(key), milliseconds],
        ExpireWhen.HasExpiry => [Key(key), milliseconds, "XX"],
        ExpireWhen.HasNoExpiry => [Key(key), milliseconds, "NX"],
        ExpireWhen.GreaterThanCurrentExpiry => [Key(key), milliseconds, "GT"],
        ExpireWhen.LessThanCurrentExpiry => [Key(key), milliseconds, "LT"],
        _ => throw new ArgumentOutOfRangeException(nameof(when), when, null),
    };
}
