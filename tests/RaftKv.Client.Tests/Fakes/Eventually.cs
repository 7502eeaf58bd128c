namespace RaftKv.Client.Tests.Fakes;

/// <summary>Waits for a condition that must become true; the bound is for liveness only, never a speed claim.</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Never happened: {what}");
            await Task.Delay(20);
        }
    }
}
