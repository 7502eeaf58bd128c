using System.Collections.Concurrent;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// Scripting for one <see cref="KeyValueStore"/>: the engine that runs scripts inside apply, a pool of engines for
/// read-only scripts (reads run concurrently), and compiled bytecode by SHA1.
/// </summary>
/// <remarks>
/// Bytecode is a pure function of the script body, so caching it is invisible to replies and state: a replica that
/// compiles a script for the first time gets the bytes another replica cached long ago. That is why caching it is
/// sound where caching live Lua functions in a long-lived state would not be (their state could leak between scripts).
/// </remarks>
public sealed class ScriptRuntime : IDisposable
{
    // Bytecode of scripts that stopped being cached is dropped wholesale beyond this many; recompiling is cheap.
    private const int MaxCachedBytecode = 10_000;

    private readonly KeyValueStore store;
    private readonly ScriptLimits limits;
    private readonly ConcurrentDictionary<string, byte[]> bytecode = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<ScriptEngine> readers = [];
    private readonly Lock writerGate = new();
    private ScriptEngine? writer;
    private bool disposed;

    internal ScriptRuntime(KeyValueStore store, ScriptLimits limits)
    {
        limits.Validate();
        this.store = store;

        // A copy: a store's limits must not change under it (replicas would stop scripts at different points).
        this.limits = new ScriptLimits { InstructionBudget = limits.InstructionBudget, MemoryLimitBytes = limits.MemoryLimitBytes };
    }

    /// <summary><c>NOSCRIPT No matching script. Please use EVAL.</c></summary>
    public static Reply NoScript { get; } = Reply.Error("NOSCRIPT No matching script. Please use EVAL.");

    /// <summary>The limits every script runs under.</summary>
    public ScriptLimits Limits => limits;

    /// <summary><c>EVAL</c> (apply path): compiles, caches the script as Redis does, and runs it.</summary>
    internal Reply Eval(in CommandContext context, byte[] body, byte[][] keys, byte[][] arguments)
    {
        var engine = Writer();
        var sha = ScriptCache.Sha1Hex(body);
        if (Compiled(engine, sha, body, out var error) is not { } code)
            return error!;
        if (!store.Scripts.Contains(sha))
            store.Scripts.Add(body);
        return engine.Run(code, new ScriptCallContext(store, context.Database, context.Now, readOnly: false, sha, keys, arguments, context.User));
    }

    /// <summary><c>EVALSHA</c> (apply path).</summary>
    internal Reply EvalSha(in CommandContext context, string sha, byte[][] keys, byte[][] arguments)
    {
        if (!store.Scripts.TryGet(sha, out var body))
            return NoScript;
        var engine = Writer();
        sha = sha.ToLowerInvariant();
        return Compiled(engine, sha, body, out var error) is { } code
            ? engine.Run(code, new ScriptCallContext(store, context.Database, context.Now, readOnly: false, sha, keys, arguments, context.User))
            : error!;
    }

    /// <summary><c>SCRIPT LOAD</c> (apply path): the SHA1, or the compile error; nothing is cached on error.</summary>
    internal Reply Load(byte[] body)
    {
        var sha = ScriptCache.Sha1Hex(body);
        if (Compiled(Writer(), sha, body, out var error) is null)
            return error!;
        if (!store.Scripts.Contains(sha))
            store.Scripts.Add(body);
        return Reply.FromBulk(sha);
    }

    /// <summary><c>SCRIPT FLUSH</c> (apply path).</summary>
    internal void Flush()
    {
        store.Scripts.Clear();
        bytecode.Clear();
    }

    /// <summary>
    /// <c>EVAL_RO</c> / <c>EVALSHA_RO</c> (read path, any node, concurrently): writes are refused, and the script is
    /// not added to the cache (that would be a write).
    /// </summary>
    internal Reply EvalReadOnly(in CommandContext context, byte[]? body, string? sha, byte[][] keys, byte[][] arguments)
    {
        if (body is null)
        {
            if (sha is null || !store.Scripts.TryGet(sha, out body))
                return NoScript;
            sha = sha.ToLowerInvariant();
        }
        else
        {
            sha = ScriptCache.Sha1Hex(body);
        }

        ObjectDisposedException.ThrowIf(disposed, this);
        if (!readers.TryTake(out var engine))
            engine = new ScriptEngine(limits);
        try
        {
            return Compiled(engine, sha, body, out var error) is { } code
                ? engine.Run(code, new ScriptCallContext(store, context.Database, context.Now, readOnly: true, sha, keys, arguments, context.User))
                : error!;
        }
        finally
        {
            if (readers.Count < Environment.ProcessorCount * 2)
                readers.Add(engine);
            else
                engine.Dispose();
        }
    }

    private byte[]? Compiled(ScriptEngine engine, string sha, byte[] body, out Reply? error)
    {
        error = null;
        if (bytecode.TryGetValue(sha, out var code))
            return code;

        code = engine.Compile(body, out var message);
        if (code is null)
        {
            error = Reply.Error("ERR Error compiling script (new function): " + message);
            return null;
        }

        if (bytecode.Count >= MaxCachedBytecode)
            bytecode.Clear();
        bytecode[sha] = code;
        return code;
    }

    private ScriptEngine Writer()
    {
        lock (writerGate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (writer is null)
            {
                try
                {
                    writer = new ScriptEngine(limits);
                }
                catch (Exception e) when (e is InvalidOperationException or DllNotFoundException or EntryPointNotFoundException)
                {
                    // A replica that cannot run scripts cannot apply this log like the others: stop rather than diverge.
                    Environment.FailFast("RaftKv: the Lua script engine could not start; this replica cannot apply scripts.", e);
                }
            }

            return writer!;
        }
    }

    /// <summary>Releases the engines' native memory.</summary>
    public void Dispose()
    {
        lock (writerGate)
        {
            disposed = true;
            writer?.Dispose();
            writer = null;
        }

        while (readers.TryTake(out var engine))
            engine.Dispose();
    }
}
