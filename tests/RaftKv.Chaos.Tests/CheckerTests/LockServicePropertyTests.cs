using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>
/// The lock checkers on histories of <see cref="SimulatedLockService"/>: a service with the contract's semantics must
/// always pass, whatever the queueing, lost replies, dropped waiters and overstayed leases; each planted bug must be
/// caught by the checker for its property. A failure names the seed; the simulation is deterministic per seed.
/// </summary>
public sealed class LockServicePropertyTests
{
    public static TheoryData<int> Seeds => [.. Enumerable.Range(1, 20)];

    private static IEnumerable<CheckResult> CheckAll(IReadOnlyList<Operation> history) =>
    [
        new LockSafetyChecker().Check(history),
        new ReaderWriterChecker().Check(history),
        new SemaphoreChecker().Check(history),
        new LockFifoChecker().Check(history),
    ];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void A_correct_lock_service_passes_every_lock_checker(int seed)
    {
        foreach (var history in new[]
                 {
                     SimulatedLockService.Run(seed, clients: 4),
                     SimulatedLockService.Run(seed, clients: 5, readerWriter: true),
                     SimulatedLockService.Run(seed, clients: 5, permits: 2),
                 })
        {
            foreach (var result in CheckAll(history))
                Assert.True(result.Verdict == Verdict.Valid, $"seed {seed}: {result}");
        }

        // The histories are not vacuous: waiters were seen queued and then granted.
        var fifo = new LockFifoChecker().Check(SimulatedLockService.Run(seed, clients: 4));
        Assert.DoesNotContain(" 0 pairs", " " + fifo.Explanation, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Granting_the_newest_waiter_first_is_caught_by_the_fifo_checker(int seed)
    {
        var history = SimulatedLockService.Run(seed, clients: 5, bug: PlantedLockBug.GrantsNewestWaiter);

        var result = new LockFifoChecker().Check(history);

        Assert.True(result.Verdict == Verdict.Invalid, $"seed {seed}: {result}");
        Assert.Equal(Verdict.Valid, new LockSafetyChecker().Check(history).Verdict);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void One_permit_too_many_is_caught_by_the_semaphore_checker(int seed)
    {
        var history = SimulatedLockService.Run(seed, clients: 5, permits: 2, bug: PlantedLockBug.OnePermitTooMany);

        var result = new SemaphoreChecker().Check(history);

        Assert.True(result.Verdict == Verdict.Invalid, $"seed {seed}: {result}");
        Assert.Contains("had 3 holders", result.Explanation, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void A_reader_granted_with_a_writer_is_caught_by_the_reader_writer_checker(int seed)
    {
        var history = SimulatedLockService.Run(seed, clients: 5, readerWriter: true, bug: PlantedLockBug.ReaderJoinsWriter);

        var result = new ReaderWriterChecker().Check(history);

        Assert.True(result.Verdict == Verdict.Invalid, $"seed {seed}: {result}");
        Assert.Contains("a reader with a writer", result.Explanation, StringComparison.Ordinal);
    }
}
