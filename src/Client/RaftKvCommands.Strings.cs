using System.Globalization;
using RaftKv.Client.Protocol;

namespace RaftKv.Client;

// Strings: GET, SET and its options, MGET/MSET, GETSET/GETDEL/GETEX, APPEND, STRLEN, INCR/DECR, GETRANGE/SETRANGE.
public abstract partial class RaftKvCommands
{
    /// <summary>Gets the value of <paramref name="key"/> as text (UTF-8); null when the key does not exist.</summary>
    public Task<string?> StringGetAsync(string key, CancellationToken cancellationToken = default)
        => ReadAsync("GET", [Key(key)], AsText, cancellationToken);

    /// <summary>Gets the value of <paramref name="key"/> as bytes; null when the key does not exist.</summary>
    public Task<byte[]?> StringGetBytesAsync(string key, CancellationToken cancellationToken = default)
        => ReadAsync("GET", [Key(key)], AsBinary, cancellationToken);

    /// <summary>Gets the values of <paramref name="keys"/> as text, in their order, null for each that does not exist (<c>MGET</c>).</summary>
    public Task<string?[]> StringGetAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
        => keys is { Count: 0 }
            ? Task.FromResult(Array.Empty<string?>())
            : ReadAsync("MGET", Keys(keys, nameof(keys)), static reply => reply.Elements.Select(static e => e.AsString()).ToArray(), cancellationToken);

    /// <summary>Gets the values of <paramref name="keys"/> as bytes, in their order, null for each that does not exist (<c>MGET</c>).</summary>
    public Task<byte[]?[]> StringGetBytesAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
        => keys is { Count: 0 }
            ? Task.FromResult(Array.Empty<byte[]?>())
            : ReadAsync("MGET", Keys(keys, nameof(keys)), static reply => reply.Elements.Select(static e => e.AsBytes()).ToArray(), cancellationToken);

    /// <summary>Sets <paramref name="key"/> to a text value (UTF-8), optionally with a TTL and a condition (<c>SET key value [PX ms] [NX|XX]</c>).</summary>
    /// <returns>True when the value was set; false when <paramref name="when"/> was not met.</returns>
    public Task<bool> StringSetAsync(string key, string value, TimeSpan? expiry = null, When when = When.Always, CancellationToken cancellationToken = default)
        => WriteAsync("SET", SetArguments(key, Text(value, nameof(value)), expiry, keepTtl: false, when, get: false), IsNotNull, cancellationToken);

    /// <summary>Sets <paramref name="key"/> to a binary value, optionally with a TTL and a condition (<c>SET key value [PX ms] [NX|XX]</c>).</summary>
    /// <returns>True when the value was set; false when <paramref name="when"/> was not met.</returns>
    public Task<bool> StringSetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan? expiry = null, When when = When.Always, CancellationToken cancellationToken = default)
        => WriteAsync("SET", SetArguments(key, value, expiry, keepTtl: false, when, get: false), IsNotNull, cancellationToken);

    /// <summary>
    /// Sets <paramref name="key"/> to a text value; <paramref name="keepTtl"/> keeps the key's TTL
    /// (<c>SET key value [PX ms|KEEPTTL] [NX|XX]</c>). Without either the key loses its TTL, as in Redis.
    /// </summary>
    /// <returns>True when the value was set; false when <paramref name="when"/> was not met.</returns>
    public Task<bool> StringSetAsync(string key, string value, TimeSpan? expiry, bool keepTtl, When when = When.Always, CancellationToken cancellationToken = default)
        => WriteAsync("SET", SetArguments(key, Text(value, nameof(value)), expiry, keepTtl, when, get: false), IsNotNull, cancellationToken);

    /// <summary>Sets <paramref name="key"/> to a binary value; <paramref name="keepTtl"/> keeps the key's TTL (<c>KEEPTTL</c>).</summary>
    /// <returns>True when the value was set; false when <paramref name="when"/> was not met.</returns>
    public Task<bool> StringSetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan? expiry, bool keepTtl, When when = When.Always, CancellationToken cancellationToken = default)
        => WriteAsync("SET", SetArguments(key, value, expiry, keepTtl, when, get: false), IsNotNull, cancellationToken);

    /// <summary>
    /// Sets several keys at once (<c>MSET</c>), or only when none of them exists (<c>MSETNX</c>, <see cref="When.NotExists"/>).
    /// </summary>
    /// <returns>True when the values were set; false when a key existed under <see cref="When.NotExists"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="when"/> is <see cref="When.Exists"/>, which Redis has no command for.</exception>
    public Task<bool> StringSetAsync(IReadOnlyCollection<KeyValuePair<string, string>> values, When when = When.Always, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var name = when switch
        {
            When.Always => "MSET",
            When.NotExists => "MSETNX",
            _ => throw new ArgumentOutOfRangeException(nameof(when), when, "Setting many keys only when all exist has no Redis command."),
        };
        if (values.Count == 0)
            return Task.FromResult(true);

        var arguments = new RespArgument[values.Count * 2];
        var i = 0;
        foreach (var (key, value) in values)
        {
            arguments[i++] = Key(key);
            arguments[i++] = Text(value, nameof(values));
        }

        return WriteAsync(name, arguments, when == When.Always ? IsOk : IsOne, cancellationToken);
    }

    /// <summary>Sets <paramref name="key"/> and returns the value it had (<c>SET ... GET</c>); null when it did not exist.</summary>
    /// <remarks>Under <see cref="When.NotExists"/>/<see cref="When.Exists"/> the old value is returned whether or not the set happened, as in Redis.</remarks>
    public Task<string?> StringSetAndGetAsync(
        string key, string value, TimeSpan? expiry = null, bool keepTtl = false, When when = When.Always, CancellationToken cancellationToken = default)
        => WriteAsync("SET", SetArguments(key, Text(value, nameof(value)), expiry, keepTtl, when, get: true), AsText, cancellationToken);

    /// <summary>Sets <paramref name="key"/> and returns its old value, dropping any TTL (<c>GETSET</c>); null when it did not exist.</summary>
    public Task<string?> StringGetSetAsync(string key, string value, CancellationToken cancellationToken = default)
        => WriteAsync("GETSET", [Key(key), Text(value, nameof(value))], AsText, cancellationToken);

    /// <summary>Gets the value of <paramref name="key"/> and deletes the key (<c>GETDEL</c>); null when it did not exist.</summary>
    public Task<string?> StringGetDeleteAsync(string key, CancellationToken cancellationToken = default)
        => WriteAsync("GETDEL", [Key(key)], AsText, cancellationToken);

    /// <summary>
    /// Gets the value of <paramref name="key"/> and sets its TTL (<c>GETEX key PX ms</c>), or removes it when
    /// <paramref name="expiry"/> is null (<c>GETEX key PERSIST</c>); null when the key does not exist.
    /// </summary>
    public Task<string?> StringGetSetExpiryAsync(string key, TimeSpan? expiry, CancellationToken cancellationToken = default)
        => WriteAsync(
            "GETEX",
            expiry is { } ttl ? [Key(key), "PX", Milliseconds(ttl, nameof(expiry))] : [Key(key), "PERSIST"],
            AsText,
            cancellationToken);

    /// <summary>Gets the value of <paramref name="key"/> and makes it expire at <paramref name="expiry"/> (<c>GETEX key PXAT ms</c>).</summary>
    public Task<string?> StringGetSetExpiryAsync(string key, DateTime expiry, CancellationToken cancellationToken = default)
        => WriteAsync("GETEX", [Key(key), "PXAT", UnixMilliseconds(expiry, nameof(expiry))], AsText, cancellationToken);

    /// <summary>Appends text to the value of <paramref name="key"/>, creating it if missing (<c>APPEND</c>).</summary>
    /// <returns>The length of the value afterwards, in bytes.</returns>
    public Task<long> StringAppendAsync(string key, string value, CancellationToken cancellationToken = default)
        => WriteAsync("APPEND", [Key(key), Text(value, nameof(value))], AsInteger, cancellationToken);

    /// <summary>Appends bytes to the value of <paramref name="key"/>, creating it if missing (<c>APPEND</c>).</summary>
    /// <returns>The length of the value afterwards, in bytes.</returns>
    public Task<long> StringAppendAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => WriteAsync("APPEND", [Key(key), value], AsInteger, cancellationToken);

    /// <summary>The length in bytes of the value of <paramref name="key"/>; 0 when it does not exist (<c>STRLEN</c>).</summary>
    public Task<long> StringLengthAsync(string key, CancellationToken cancellationToken = default)
        => ReadAsync("STRLEN", [Key(key)], AsInteger, cancellationToken);

    /// <summary>Adds <paramref name="value"/> to the integer at <paramref name="key"/> (a missing key counts as 0), exactly once.</summary>
    /// <returns>The value after the increment.</returns>
    public Task<long> StringIncrementAsync(string key, long value = 1, CancellationToken cancellationToken = default)
        => value == 1
            ? WriteAsync("INCR", [Key(key)], AsInteger, cancellationToken)
            : WriteAsync("INCRBY", [Key(key), value], AsInteger, cancellationToken);

    /// <summary>Adds <paramref name="value"/> to the number at <paramref name="key"/> (<c>INCRBYFLOAT</c>), exactly once.</summary>
    /// <returns>The value after the increment.</returns>
    public Task<double> StringIncrementAsync(string key, double value, CancellationToken cancellationToken = default)
        => WriteAsync("INCRBYFLOAT", [Key(key), value.ToString("R", CultureInfo.InvariantCulture)], AsDouble, cancellationToken);

    /// <summary>Subtracts <paramref name="value"/> from the integer at <paramref name="key"/> (a missing key counts as 0), exactly once.</summary>
    /// <returns>The value after the decrement.</returns>
    public Task<long> StringDecrementAsync(string key, long value = 1, CancellationToken cancellationToken = default)
        => value == 1
            ? WriteAsync("DECR", [Key(key)], AsInteger, cancellationToken)
            : WriteAsync("DECRBY", [Key(key), value], AsInteger, cancellationToken);

    /// <summary>Subtracts <paramref name="value"/> from the number at <paramref name="key"/> (<c>INCRBYFLOAT key -value</c>), exactly once.</summary>
    /// <returns>The value after the decrement.</returns>
    public Task<double> StringDecrementAsync(string key, double value, CancellationToken cancellationToken = default)
        => StringIncrementAsync(key, -value, cancellationToken);

    /// <summary>
    /// The bytes of the value of <paramref name="key"/> from <paramref name="start"/> to <paramref name="end"/>
    /// inclusive, negative offsets counting from the end, decoded as UTF-8 (<c>GETRANGE</c>); empty when the key does
    /// not exist.
    /// </summary>
    public Task<string> StringGetRangeAsync(string key, long start, long end, CancellationToken cancellationToken = default)
        => ReadAsync("GETRANGE", [Key(key), start, end], static reply => reply.AsString() ?? "", cancellationToken);

    /// <summary>Overwrites the value of <paramref name="key"/> from byte <paramref name="offset"/> with text, padding with zero bytes (<c>SETRANGE</c>).</summary>
    /// <returns>The length of the value afterwards, in bytes.</returns>
    public Task<long> StringSetRangeAsync(string key, long offset, string value, CancellationToken cancellationToken = default)
        => WriteAsync("SETRANGE", [Key(key), offset, Text(value, nameof(value))], AsInteger, cancellationToken);

    /// <summary>Overwrites the value of <paramref name="key"/> from byte <paramref name="offset"/> with bytes, padding with zero bytes (<c>SETRANGE</c>).</summary>
    /// <returns>The length of the value afterwards, in bytes.</returns>
    public Task<long> StringSetRangeAsync(string key, long offset, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => WriteAsync("SETRANGE", [Key(key), offset, value], AsInteger, cancellationToken);

    private static RespArgument[] SetArguments(string key, RespArgument value, TimeSpan? expiry, bool keepTtl, When when, bool get)
    {
        if (keepTtl && expiry is not null)
            throw new ArgumentException("A value gets either a new TTL (expiry) or keeps its TTL (keepTtl), not both.", nameof(keepTtl));

        var arguments = new List<RespArgument>(6) { Key(key), value };
        if (expiry is { } ttl)
        {
            arguments.Add("PX");
            arguments.Add(Milliseconds(ttl, nameof(expiry)));
        }
        else if (keepTtl)
        {
            arguments.Add("KEEPTTL");
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

        if (get)
            arguments.Add("GET");
        return [.. arguments];
    }
}
