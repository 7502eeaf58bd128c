using System.Globalization;
using RaftKv.Client.Commands;
using RaftKv.Client.Protocol;

namespace RaftKv.Client;

/// <summary>
/// The data commands, named after StackExchange.Redis's <c>IDatabaseAsync</c> where the meaning is the same. Written
/// once and run three ways: at once on the shared connection (<see cref="RaftKvConnection"/>), queued and sent together
/// (<see cref="RaftKvBatch"/>), or queued inside <c>MULTI</c>/<c>EXEC</c> (<see cref="RaftKvTransaction"/>).
/// </summary>
/// <remarks>
/// Values are text (UTF-8) or bytes; a method returning text decodes the stored bytes as UTF-8. Keys are text. A
/// <see cref="CancellationToken"/> cancels the caller's wait: a write already sent may still be applied (see
/// <see cref="RaftKvConnection"/> for what each outcome means).
/// </remarks>
public abstract partial class RaftKvCommands
{
    private protected static readonly Func<RespValue, RespValue> AsIs = static reply => reply;
    private protected static readonly Func<RespValue, string?> AsText = static reply => reply.AsString();
    private protected static readonly Func<RespValue, byte[]?> AsBinary = static reply => reply.AsBytes();
    private protected static readonly Func<RespValue, long> AsInteger = static reply => reply.AsInt64();
    private protected static readonly Func<RespValue, bool> IsOne = static reply => reply.AsInt64() == 1;
    private protected static readonly Func<RespValue, bool> IsNotNull = static reply => !reply.IsNull;
    private protected static readonly Func<RespValue, bool> IsOk = static reply => reply.AsString() == "OK";

    private protected static readonly Func<RespValue, double> AsDouble = static reply
        => double.TryParse(reply.AsString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidCastException($"The reply {reply} is not a number.");

    // Only this assembly derives: the three ways of running a command are the whole set.
    private protected RaftKvCommands()
    {
    }

    /// <summary>
    /// Runs any command: <c>ExecuteAsync("SETRANGE", "k", 3, "abc")</c>. Arguments may be text, bytes or numbers.
    /// Commands known to be reads are sent plain; everything else runs exactly once through the session.
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
        return SubmitAsync(new RaftKvCommand(command, arguments, CommandCatalog.Classify(command)), AsIs, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="command"/> the way this object runs commands and converts its reply with
    /// <paramref name="convert"/>. An error reply fails the task with <see cref="RaftKvServerException"/>; a reply
    /// <paramref name="convert"/> cannot read fails it with <see cref="InvalidCastException"/>.
    /// </summary>
    private protected abstract Task<T> SubmitAsync<T>(RaftKvCommand command, Func<RespValue, T> convert, CancellationToken cancellationToken);

    private protected Task<T> ReadAsync<T>(string name, RespArgument[] arguments, Func<RespValue, T> convert, CancellationToken cancellationToken)
        => SubmitAsync(new RaftKvCommand(name, arguments, Delivery.Idempotent), convert, cancellationToken);

    private protected Task<T> WriteAsync<T>(string name, RespArgument[] arguments, Func<RespValue, T> convert, CancellationToken cancellationToken)
        => SubmitAsync(new RaftKvCommand(name, arguments, Delivery.ExactlyOnce), convert, cancellationToken);

    private protected static RespArgument Key(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key;
    }

    private protected static RespArgument[] Keys(IReadOnlyCollection<string> keys, string parameter)
    {
        ArgumentNullException.ThrowIfNull(keys, parameter);
        var arguments = new RespArgument[keys.Count];
        var i = 0;
        foreach (var key in keys)
            arguments[i++] = Key(key);
        return arguments;
    }

    private protected static RespArgument Text(string value, string parameter)
    {
        ArgumentNullException.ThrowIfNull(value, parameter);
        return value;
    }

    /// <summary>A TTL in whole milliseconds, at least 1 (Redis refuses 0 for <c>SET PX</c> and deletes on <c>PEXPIRE 0</c>).</summary>
    private protected static long Milliseconds(TimeSpan ttl, string parameter)
    {
        var milliseconds = (long)ttl.TotalMilliseconds;
        return milliseconds >= 1
            ? milliseconds
            : throw new ArgumentOutOfRangeException(parameter, ttl, "A TTL must be at least one millisecond.");
    }

    /// <summary>A point in time as Unix milliseconds. As StackExchange.Redis, refuses a time of unspecified kind: UTC or local?</summary>
    private protected static long UnixMilliseconds(DateTime time, string parameter)
        => time.Kind != DateTimeKind.Unspecified
            ? new DateTimeOffset(time).ToUnixTimeMilliseconds()
            : throw new ArgumentException("An expiry time must be DateTimeKind.Utc or DateTimeKind.Local.", parameter);
}
