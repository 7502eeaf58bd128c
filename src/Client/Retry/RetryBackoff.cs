namespace RaftKv.Client.Retry;

/// <summary>
/// Exponential backoff with jitter: the n-th delay is drawn from [c/2, c] where c = min × 2ⁿ, capped at max. The
/// fixed half spaces retries out; the random half keeps many clients that failed together from retrying together.
/// </summary>
internal struct RetryBackoff(TimeSpan min, TimeSpan max)
{
    private int failures;

    /// <summary>How many delays were handed out since the last <see cref="Reset"/>.</summary>
    public readonly int Failures => failures;

    /// <summary>The delay before the next retry.</summary>
    public TimeSpan Next(Random random)
    {
        var ceiling = Math.Min(max.Ticks, min.Ticks * Math.Pow(2, Math.Min(failures, 62)));
        failures++;
        var half = ceiling / 2;
        return TimeSpan.FromTicks((long)(half + (random.NextDouble() * half)));
    }

    /// <summary>Starts over from the shortest delay (after progress was made).</summary>
    public void Reset() => failures = 0;
}
