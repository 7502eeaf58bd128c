using RaftKv.Client.Protocol;

namespace RaftKv.Client;

// Lua scripts: EVAL, EVALSHA, their read-only forms, SCRIPT LOAD.
public abstract partial class RaftKvCommands
{
    /// <summary>Runs a Lua script (<c>EVAL script numkeys keys... args...</c>) exactly once, atomically, on every replica.</summary>
    /// <param name="script">The Lua source.</param>
    /// <param name="keys">The keys the script touches (<c>KEYS</c>).</param>
    /// <param name="values">Further arguments (<c>ARGV</c>): text, bytes or numbers.</param>
    /// <param name="cancellationToken">Cancels the wait; a script already sent may still run.</param>
    /// <exception cref="RaftKvServerException">The script raised an error.</exception>
    public Task<RespValue> ScriptEvaluateAsync(
        string script, IReadOnlyList<string>? keys = null, IReadOnlyList<object>? values = null, CancellationToken cancellationToken = default)
        => WriteAsync("EVAL", ScriptArguments(Text(script, nameof(script)), keys, values), AsIs, cancellationToken);

    /// <summary>
    /// Runs a script the cluster has cached, by its SHA-1 (<c>EVALSHA</c>; see <see cref="ScriptLoadAsync"/>), exactly once.
    /// </summary>
    /// <exception cref="RaftKvServerException">The script raised an error, or is not cached (<c>Prefix</c> <c>NOSCRIPT</c>; nothing ran).</exception>
    public Task<RespValue> ScriptEvaluateAsync(
        byte[] hash, IReadOnlyList<string>? keys = null, IReadOnlyList<object>? values = null, CancellationToken cancellationToken = default)
        => WriteAsync("EVALSHA", ScriptArguments(Sha1Hex(hash), keys, values), AsIs, cancellationToken);

    /// <summary>
    /// Runs a read-only script (<c>EVAL_RO</c>): served as a read, by any node, after a read barrier; a script that
    /// tries to write fails.
    /// </summary>
    public Task<RespValue> ScriptEvaluateReadOnlyAsync(
        string script, IReadOnlyList<string>? keys = null, IReadOnlyList<object>? values = null, CancellationToken cancellationToken = default)
        => ReadAsync("EVAL_RO", ScriptArguments(Text(script, nameof(script)), keys, values), AsIs, cancellationToken);

    /// <summary>Runs a cached read-only script by its SHA-1 (<c>EVALSHA_RO</c>).</summary>
    public Task<RespValue> ScriptEvaluateReadOnlyAsync(
        byte[] hash, IReadOnlyList<string>? keys = null, IReadOnlyList<object>? values = null, CancellationToken cancellationToken = default)
        => ReadAsync("EVALSHA_RO", ScriptArguments(Sha1Hex(hash), keys, values), AsIs, cancellationToken);

    /// <summary>
    /// Caches <paramref name="script"/> on every replica (<c>SCRIPT LOAD</c>, through the log) and returns its SHA-1
    /// for <see cref="ScriptEvaluateAsync(byte[], IReadOnlyList{string}?, IReadOnlyList{object}?, CancellationToken)"/>.
    /// Loading the same script again is harmless, so a lost reply is simply retried.
    /// </summary>
    public Task<byte[]> ScriptLoadAsync(string script, CancellationToken cancellationToken = default)
        => SubmitAsync(
            new Commands.RaftKvCommand("SCRIPT", ["LOAD", Text(script, nameof(script))], Commands.Delivery.Idempotent),
            static reply => Convert.FromHexString(reply.AsString() ?? throw new InvalidCastException("SCRIPT LOAD answered nil.")),
            cancellationToken);

    private static RespArgument[] ScriptArguments(RespArgument script, IReadOnlyList<string>? keys, IReadOnlyList<object>? values)
    {
        keys ??= [];
        values ??= [];
        var arguments = new RespArgument[2 + keys.Count + values.Count];
        arguments[0] = script;
        arguments[1] = keys.Count;
        for (var i = 0; i < keys.Count; i++)
            arguments[2 + i] = Key(keys[i]);
        for (var i = 0; i < values.Count; i++)
            arguments[2 + keys.Count + i] = RespArgument.From(values[i]);
        return arguments;
    }

    private static string Sha1Hex(byte[] hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        return hash.Length == 20
            ? Convert.ToHexStringLower(hash)
            : throw new ArgumentException($"A script's SHA-1 is 20 bytes, not {hash.Length}.", nameof(hash));
    }
}
