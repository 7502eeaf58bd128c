using System.Globalization;

namespace RaftKv.Node.Resp;

/// <summary>
/// The client limits a running node may change (<c>CONFIG SET maxclients|timeout|client-output-buffer-limit|
/// client-query-buffer-limit|proto-max-bulk-len</c>), starting from <see cref="RespLimits"/>. One instance per node,
/// shared by the RESP server, the parser and <see cref="Routing.WriteLimits"/>, which read the live values on every
/// use, so a change applies to connections already open, as in Redis.
/// </summary>
/// <remarks>
/// Each value is read and written whole (a <see langword="long"/> or an immutable object behind a volatile field);
/// the setters check the same ranges as <see cref="RespLimits.Validate"/>, and <c>CONFIG SET</c> checks them before
/// calling one.
/// </remarks>
public sealed class ClientLimits
{
    private long _maxClients;
    private long _idleTimeoutSeconds;
    private long _maxQueryBuffer;
    private long _maxBulkLength;
    private volatile OutputBufferLimits _outputBuffer;

    /// <summary>Starts from <paramref name="configured"/> (validated here).</summary>
    /// <exception cref="ArgumentException">A limit in <paramref name="configured"/> is out of range.</exception>
    public ClientLimits(RespLimits configured)
    {
        ArgumentNullException.ThrowIfNull(configured);
        configured.Validate();
        Configured = configured;
        _maxClients = configured.MaxClients;
        _idleTimeoutSeconds = configured.IdleTimeoutSeconds;
        _maxQueryBuffer = configured.MaxQueryBuffer;
        _maxBulkLength = configured.MaxBulkLength;
        _outputBuffer = OutputBufferLimits.Default with
        {
            Normal = new OutputBufferLimit(configured.OutputBufferHardLimit, configured.OutputBufferSoftLimit, configured.OutputBufferSoftSeconds),
        };
    }

    /// <summary>The limits as configured at start; those not listed here (argument count, inline length...) never change.</summary>
    public RespLimits Configured { get; }

    /// <summary>Redis's <c>maxclients</c>: a connection beyond this many is refused.</summary>
    public long MaxClients
    {
        get => Volatile.Read(ref _maxClients);
        set => Volatile.Write(ref _maxClients, value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "at least 1"));
    }

    /// <summary>Redis's <c>timeout</c>: a connection idle this many seconds is closed; 0 turns it off.</summary>
    public long IdleTimeoutSeconds
    {
        get => Volatile.Read(ref _idleTimeoutSeconds);
        set => Volatile.Write(ref _idleTimeoutSeconds, value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "at least 0"));
    }

    /// <summary>Redis's <c>client-query-buffer-limit</c>: the largest request, in bytes.</summary>
    public long MaxQueryBuffer
    {
        get => Volatile.Read(ref _maxQueryBuffer);
        set => Volatile.Write(ref _maxQueryBuffer, value >= Configured.MaxInlineLength && value <= Array.MaxLength
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"between {Configured.MaxInlineLength} and {Array.MaxLength}"));
    }

    /// <summary>Redis's <c>proto-max-bulk-len</c>: the longest bulk argument, and the longest string a write may make.</summary>
    public long MaxBulkLength
    {
        get => Volatile.Read(ref _maxBulkLength);
        set => Volatile.Write(ref _maxBulkLength, value >= 0 && value <= StateMachine.Commands.IStringLengthLimited.MaxLengthCeiling
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"between 0 and {StateMachine.Commands.IStringLengthLimited.MaxLengthCeiling}"));
    }

    /// <summary>Redis's <c>client-output-buffer-limit</c>, every class; RaftKv's clients are all of class normal.</summary>
    public OutputBufferLimits OutputBuffer
    {
        get => _outputBuffer;
        set => _outputBuffer = value ?? throw new ArgumentNullException(nameof(value));
    }
}

/// <summary>One class's output buffer limit (bytes; 0 = none) and how long the soft limit may be exceeded.</summary>
/// <param name="Hard">A client holding at least this many bytes of output is disconnected at once.</param>
/// <param name="Soft">A client holding at least this many bytes for longer than <paramref name="SoftSeconds"/> is disconnected.</param>
/// <param name="SoftSeconds">How long the soft limit may be exceeded.</param>
public sealed record OutputBufferLimit(long Hard, long Soft, long SoftSeconds)
{
    /// <summary>No limit (Redis's default for normal clients).</summary>
    public static OutputBufferLimit None { get; } = new(0, 0, 0);

    /// <summary>As <c>CONFIG GET</c> prints it: <c>hard soft seconds</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Hard} {Soft} {SoftSeconds}");
}

/// <summary>The output buffer limits of Redis's client classes (<c>normal</c>, <c>replica</c>, <c>pubsub</c>).</summary>
/// <param name="Normal">Every RESP client of RaftKv.</param>
/// <param name="Replica">Accepted and shown for compatibility; RaftKv's replicas follow over Raft, not RESP.</param>
/// <param name="PubSub">Accepted and shown for compatibility; RaftKv has no pub/sub.</param>
public sealed record OutputBufferLimits(OutputBufferLimit Normal, OutputBufferLimit Replica, OutputBufferLimit PubSub)
{
    /// <summary>
    /// RaftKv's defaults: normal <c>1gb 256mb 60</c> (see <see cref="RespLimits.OutputBufferHardLimit"/>), and Redis's
    /// own for the other classes (replica <c>256mb 64mb 60</c>, pubsub <c>32mb 8mb 60</c>).
    /// </summary>
    public static OutputBufferLimits Default { get; } = new(
        new OutputBufferLimit(RespLimits.DefaultOutputBufferHardLimit, RespLimits.DefaultOutputBufferSoftLimit, RespLimits.DefaultOutputBufferSoftSeconds),
        new OutputBufferLimit(256L * 1024 * 1024, 64L * 1024 * 1024, 60),
        new OutputBufferLimit(32L * 1024 * 1024, 8L * 1024 * 1024, 60));

    /// <summary>As <c>CONFIG GET client-output-buffer-limit</c> prints it.</summary>
    public override string ToString() => $"normal {Normal} slave {Replica} pubsub {PubSub}";
}
