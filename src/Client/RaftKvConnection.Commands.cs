using RaftKv.Client.Commands;
using RaftKv.Client.Protocol;

namespace RaftKv.Client;

// The data API, named after StackExchange.Redis's where the meaning is the same.
public sealed partial class RaftKvConnection
{
    /// <summary>Sets <paramref name="key"/> to a text value (UTF-8), optionally with a TTL and a condition (<c>SET key value [PX ms] [NX|XX]</c>).</summary>
    /// <returns>True when the value was set; false when <paramref name="when"/> was not met.</returns>
    public Task<bool> StringSetAsync(string key, string value, TimeSpan? expiry = null, When when = When.Always, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return StringSetCoreAsync(key, value, expiry, when, cancellationToken);
    }

    /// <summary>Sets <paramref name="key"/> to a binary value, optionally with a TTL and a condition (<c>SET key value [PX ms] [NX|XX]</c>).</summary>
    /// <returns>True when the value was set; false when <paramref name="when"/> was not met.</returns>
    public Task<bool> StringSetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan? expiry = null, When when = When.Always, CancellationToken cancellationToken = default)
        => StringSetCoreAsync(key, value, expiry, when, cancellationToken);

    /// <summary>Gets the value of <paramref name="key"/> as text (UTF-8); null when the key does not exist.</summary>
    public async Task<string?> StringGetAsync(string key, CancellationToken cancellationToken = default)
        => (await RunReadAsync("GET", [Key(key)], cancellationToken).ConfigureAwait(false)).AsString();

    /// <summary>Gets the value of <paramref name="key"/> as bytes; null when the key does not exist.</summary>
    public async Task<byte[]?> StringGetBytesAsync(string key, CancellationToken cancellationToken = default)
        => (await RunReadAsync("GET", [Key(key)], cancellationToken).ConfigureAwait(false)).AsBytes();

    /// <summary>Adds <paramref name="value"/> to the integer at <paramref name="key"/> (a missing key counts as 0), exactly once.</summary>
    /// <returns>The value after the increment.</returns>
    public async Task<long> StringIncrementAsync(string key, long value = 1, CancellationToken cancellationToken = default)
    {
        var reply = value == 1
            ? await RunWriteAsync("INCR", [Key(key)], cancellationToken).ConfigureAwait(false)
            : await RunWriteAsync("INCRBY", [Key(key), value], cancellationToken).ConfigureAwait(false);
        return reply.AsInt64();
    }

    /// <summary>Deletes <paramref name="key"/>.</summary>
    /// <returns>True when the key existed.</returns>
    public async Task<bool> KeyDeleteAsync(string key, CancellationToken cancellationToken = default)
        => (await RunWriteAsync("DEL", [Key(key)], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>Deletes <paramref name="keys"/>.</summary>
    /// <returns>How many of them existed.</returns>
    public async Task<long> KeyDeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
            return 0;
        return (await RunWriteAsync("DEL", [.. keys.Select(Key)], cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    /// <summary>
    /// Sets a TTL on <paramref name="key"/> (<c>PEXPIRE</c>), or removes it when <paramref name="expiry"/> is null
    /// (<c>PERSIST</c>).
    /// </summary>
    /// <returns>True when the key exists and its TTL was changed.</returns>
    public async Task<bool> KeyExpireAsync(string key, TimeSpan? expiry, CancellationToken cancellationToken = default)
    {
        var reply = expiry is { } ttl
            ? await RunWriteAsync("PEXPIRE", [Key(key), Milliseconds(ttl, nameof(expiry))], cancellationToken).ConfigureAwait(false)
            : await RunWriteAsync("PERSIST", [Key(key)], cancellationToken).ConfigureAwait(false);
        return reply.AsInt64() == 1;
    }

    /// <summary>The remaining TTL of <paramref name="key"/> (<c>PTTL</c>); null when the key does not exist or has no TTL.</summary>
    public async Task<TimeSpan?> KeyTimeToLiveAsync(string key, CancellationToken cancellationToken = default)
    {
        var milliseconds = (await RunReadAsync("PTTL", [Key(key)], cancellationToken).ConfigureAwait(false)).AsInt64();
        return milliseconds < 0 ? null : TimeSpan.FromMilliseconds(milliseconds);
    }

    /// <summary>Runs a Lua script (<c>EVAL script numkeys keys... args...</c>) exactly once, atomically, on every replica.</summary>
    /// <param name="script">The Lua source.</param>
    /// <param name="keys">The keys the script touches (<c>KEYS</c>).</param>
    /// <param name="values">Further arguments (<c>ARGV</c>): text, bytes or numbers.</param>
    /// <param name="cancellationToken">Cancels the wait; a script already sent may still run.</param>
    /// <exception cref="RaftKvServerException">The script raised an error.</exception>
    public Task<RespValue> ScriptEvaluateAsync(
        string script, IReadOnlyList<string>? keys = null, IReadOnlyList<object>? values = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        keys ??= [];
        values ??= [];
        var arguments = new RespArgument[2 + keys.Count + values.Count];
        arguments[0] = script;
        arguments[1] = keys.Count;
        for (var i = 0; i < keys.Count; i++)
            arguments[2 + i] = Key(keys[i]);
        for (var i = 0; i < values.Count; i++)
            arguments[2 + keys.Count + i] = RespArgument.From(values[i]);
        return RunWriteAsync("EVAL", arguments, cancellationToken);
    }

    /// <summary>
    /// Runs any command: <c>ExecuteAsync("HSET", "h", "f", 1)</c>. Arguments may be text, bytes or numbers. Commands
    /// known to be reads are sent plain; everything else runs exactly once through the session.
    /// </summary>
    /// <exception cref="RaftKvServerException">The server answered with an error.</exception>
    /// <exception cref="NotSupportedException">The command changes connection state (<c>SELECT</c>, <c>MULTI</c>, ...).</exception>
    public Task<RespValue> ExecuteAsync(string command, params object[] args)
        => ExecuteAsync(command, (IReadOnlyList<object>)args, CancellationToken.None);

    /// <summary>Runs any command, with a cancellation token: see <see cref="ExecuteAsync(string, object[])"/>.</summary>
    public Task<RespValue> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        ArgumentNullException.ThrowIfNull(args);
        CommandCatalog.EnsureShareable(command, args);
        var arguments = new RespArgument[args.Count];
        for (var i = 0; i < arguments.Length; i++)
            arguments[i] = RespArgument.From(args[i]);
        return ExecuteAsync(new RaftKvCommand(command, arguments, DeliveryOf(command)), cancellationToken);
    }

    private async Task<bool> StringSetCoreAsync(string key, RespArgument value, TimeSpan? expiry, When when, CancellationToken cancellationToken)
    {
        var arguments = new List<RespArgument>(5) { Key(key), value };
        if (expiry is { } ttl)
        {
            arguments.Add("PX");
            arguments.Add(Milliseconds(ttl, nameof(expiry)));
        }

        switch (when)
        {
            case When.NotExists:
                arguments.Add("NX");
                break;
            case When.Exists:
                arguments.Add("XX");
                break;
            case When.Always:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(when), when, null);
        }

        var reply = await RunWriteAsync("SET", [.. arguments], cancellationToken).ConfigureAwait(false);
        return !reply.IsNull;
    }

    private Task<RespValue> RunReadAsync(string name, RespArgument[] arguments, CancellationToken cancellationToken)
        => ExecuteAsync(new RaftKvCommand(name, arguments, Delivery.Idempotent), cancellationToken);

    private Task<RespValue> RunWriteAsync(string name, RespArgument[] arguments, CancellationToken cancellationToken)
        => ExecuteAsync(new RaftKvCommand(name, arguments, DeliveryOf(name)), cancellationToken);

    private static RespArgument Key(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key;
    }

    private static long Milliseconds(TimeSpan ttl, string parameter)
    {
        var milliseconds = (long)ttl.TotalMilliseconds;
        return milliseconds >= 1
            ? milliseconds
            : throw new ArgumentOutOfRangeException(parameter, ttl, "A TTL must be at least one millisecond.");
    }
}
