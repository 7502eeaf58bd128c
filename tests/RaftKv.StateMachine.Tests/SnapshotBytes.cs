using System.Buffers;

namespace RaftKv.StateMachine.Tests;

/// <summary>A store's snapshot as bytes and a fresh store restored from them (<c>using static</c> in the tests that round-trip).</summary>
internal static class SnapshotBytes
{
    public static byte[] Snapshot(KeyValueStore store)
    {
        var buffer = new ArrayBufferWriter<byte>();
        store.WriteSnapshot(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    public static KeyValueStore Restore(byte[] snapshot)
    {
        var store = new KeyValueStore();
        store.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot));
        return store;
    }
}
