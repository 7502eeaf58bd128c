using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Benchmarks;

/// <summary>The apply path: parsing a command, encoding a batch into a log entry, decoding it, applying it.</summary>
[MemoryDiagnoser]
public class StateMachineBenchmarks
{
    private const int BatchSize = 64;
    private readonly ArrayBufferWriter<byte> payload = new(1 << 16);
    private readonly ReadOnlyMemory<byte>[] setArgv =
        [.. new[] { "SET", "lock:orders", "token-1234567890", "NX", "PX", "30000" }.Select(static s => new ReadOnlyMemory<byte>(Encoding.ASCII.GetBytes(s)))];
    private CommandBatch batch = null!;
    private ReadOnlySequence<byte> encoded;
    private KeyValueStore store = null!;
    private long time = 1_800_000_000_000;

    [GlobalSetup]
    public void Setup()
    {
        var commands = new WriteCommand[BatchSize];
        for (var i = 0; i < BatchSize; i++)
            commands[i] = new SetCommand { Key = Encoding.ASCII.GetBytes($"key:{i:000000}"), Value = new byte[100] };
        batch = new CommandBatch { Timestamp = time, Commands = commands };
        KeyValueStore.WriteBatch(payload, batch);
        encoded = new ReadOnlySequence<byte>(payload.WrittenMemory.ToArray());
        store = new KeyValueStore();
    }

    /// <summary>Parses and validates <c>SET lock:orders token NX PX 30000</c> into a command.</summary>
    [Benchmark]
    public WriteCommand? ParseSet() => CommandParser.Parse(setArgv).Write;

    /// <summary>Encodes a batch of 64 100-byte SETs with MessagePack (one op = the batch).</summary>
    [Benchmark]
    public int EncodeBatchOf64()
    {
        payload.ResetWrittenCount();
        KeyValueStore.WriteBatch(payload, batch);
        return payload.WrittenCount;
    }

    /// <summary>Decodes the same batch from a log entry payload.</summary>
    [Benchmark]
    public int DecodeBatchOf64() => KeyValueStore.ReadBatch(encoded).Commands.Length;

    /// <summary>Applies the batch (64 overwrites of existing keys) at a new cluster time.</summary>
    [Benchmark]
    public int ApplyBatchOf64()
    {
        batch.Timestamp = ++time;
        return store.Apply(batch).Length;
    }
}
