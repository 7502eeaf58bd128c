using System.Globalization;
using System.Text;
using RaftKv.Node.Resp;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// The client limits under Redis's names — <c>maxclients</c>, <c>timeout</c>, <c>client-output-buffer-limit</c>,
/// <c>client-query-buffer-limit</c>, <c>proto-max-bulk-len</c> — settable per node (<see cref="ConfigChange.Local"/>)
/// with Redis 7.0's syntax and error texts. A change applies to every connection, open ones included.
/// </summary>
/// <remarks>
/// Ranges follow Redis, except where RaftKv's limits are tighter: a request and a string are held in one array, so
/// <c>client-query-buffer-limit</c> and <c>proto-max-bulk-len</c> stop at <see cref="Array.MaxLength"/> and
/// <see cref="IStringLengthLimited.MaxLengthCeiling"/>. <c>proto-max-bulk-len</c> also bounds what a write may make
/// (<see cref="Routing.WriteLimits"/>): on the leader, it travels in the log with each write.
/// </remarks>
public sealed class ClientConfigParameters(ClientLimits limits) : IConfigParameters
{
    private const long MinBufferLimit = 1024 * 1024;
    private const string NotAnInteger = "argument couldn't be parsed into an integer";
    private const string NotAMemoryValue = "argument must be a memory value";
    private const string WrongBufferLimitArity = "Wrong number of arguments in buffer limit configuration.";
    private const string InvalidBufferLimitClass = "Invalid client class specified in buffer limit configuration.";
    private const string InvalidBufferLimitValue = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";

    /// <inheritdoc/>
    public IEnumerable<ConfigParameter> Parameters =>
    [
        new("maxclients", () => Format(limits.MaxClients), SetMaxClients) { Persisted = () => [Key(nameof(RespLimits.MaxClients), limits.MaxClients)] },
        new("timeout", () => Format(limits.IdleTimeoutSeconds), SetTimeout) { Persisted = () => [Key(nameof(RespLimits.IdleTimeoutSeconds), limits.IdleTimeoutSeconds)] },

        // Only the normal class has configuration keys: the replica and pubsub classes are not written.
        new("client-output-buffer-limit", () => limits.OutputBuffer.ToString(), SetOutputBufferLimit)
        {
            Persisted = PersistedOutputBufferLimit,
        },
        new("client-query-buffer-limit", () => Format(limits.MaxQueryBuffer), SetQueryBufferLimit) { Persisted = () => [Key(nameof(RespLimits.MaxQueryBuffer), limits.MaxQueryBuffer)] },
        new("proto-max-bulk-len", () => Format(limits.MaxBulkLength), SetMaxBulkLength) { Persisted = () => [Key(nameof(RespLimits.MaxBulkLength), limits.MaxBulkLength)] },
    ];

    private ConfigChange SetMaxClients(string value)
        => Integer(value, 1, uint.MaxValue) is { } invalid ? invalid : new ConfigChange.Local(() => limits.MaxClients = long.Parse(value, CultureInfo.InvariantCulture));

    private ConfigChange SetTimeout(string value)
        => Integer(value, 0, int.MaxValue) is { } invalid ? invalid : new ConfigChange.Local(() => limits.IdleTimeoutSeconds = long.Parse(value, CultureInfo.InvariantCulture));

    private ConfigChange SetQueryBufferLimit(string value)
    {
        var min = Math.Max(MinBufferLimit, limits.Configured.MaxInlineLength);
        return Memory(value, min, Array.MaxLength, out var bytes) ?? (ConfigChange)new ConfigChange.Local(() => limits.MaxQueryBuffer = bytes);
    }

    private ConfigChange SetMaxBulkLength(string value)
        => Memory(value, MinBufferLimit, IStringLengthLimited.MaxLengthCeiling, out var bytes)
            ?? (ConfigChange)new ConfigChange.Local(() => limits.MaxBulkLength = bytes);

    // config.c setConfigClientOutputBufferLimitOption: "<class> <hard> <soft> <soft seconds>" any number of times,
    // checked whole before any of it applies; the last setting of a class wins; an empty value changes nothing.
    private ConfigChange SetOutputBufferLimit(string value)
    {
        var words = value.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length % 4 != 0)
            return new ConfigChange.Invalid(WrongBufferLimitArity);

        var changes = new List<(string Class, OutputBufferLimit Limit)>();
        for (var i = 0; i < words.Length; i += 4)
        {
            var clientClass = words[i].ToLowerInvariant() switch
            {
                "normal" => "normal",
                "slave" or "replica" => "replica",
                "pubsub" => "pubsub",
                _ => null,
            };
            if (clientClass is null)
                return new ConfigChange.Invalid(InvalidBufferLimitClass);
            if (!MemoryConfigParameters.TryParseMemory(words[i + 1], out var hard) || !MemoryConfigParameters.TryParseMemory(words[i + 2], out var soft)
                || !long.TryParse(words[i + 3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds) || seconds < 0)
            {
                return new ConfigChange.Invalid(InvalidBufferLimitValue);
            }

            changes.Add((clientClass, new OutputBufferLimit(hard, soft, seconds)));
        }

        return new ConfigChange.Local(() =>
        {
            var updated = limits.OutputBuffer;
            foreach (var (clientClass, limit) in changes)
            {
                updated = clientClass switch
                {
                    "normal" => updated with { Normal = limit },
                    "replica" => updated with { Replica = limit },
                    _ => updated with { PubSub = limit },
                };
            }

            limits.OutputBuffer = updated;
        });
    }

    // An integer parameter: string2ll's syntax (no '+', no leading zeros, no spaces), then the range.
    private static ConfigChange.Invalid? Integer(string value, long min, long max)
    {
        if (!RespRequestParser.TryParseInteger(Encoding.UTF8.GetBytes(value), out var parsed))
            return new(NotAnInteger);
        return parsed < min || parsed > max ? new(Range(min, max)) : null;
    }

    private static ConfigChange.Invalid? Memory(string value, long min, long max, out long bytes)
    {
        if (!MemoryConfigParameters.TryParseMemory(value, out bytes))
            return new(NotAMemoryValue);
        return bytes < min || bytes > max ? new(Range(min, max)) : null;
    }

    private static string Range(long min, long max)
        => string.Create(CultureInfo.InvariantCulture, $"argument must be between {min} and {max} inclusive");

    private KeyValuePair<string, long>[] PersistedOutputBufferLimit()
    {
        var normal = limits.OutputBuffer.Normal;
        return [Key(nameof(RespLimits.OutputBufferHardLimit), normal.Hard), Key(nameof(RespLimits.OutputBufferSoftLimit), normal.Soft), Key(nameof(RespLimits.OutputBufferSoftSeconds), normal.SoftSeconds)];
    }

    private static KeyValuePair<string, long> Key(string option, long value) => KeyValuePair.Create($"{RespLimits.SectionName}:{option}", value);

    private static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
