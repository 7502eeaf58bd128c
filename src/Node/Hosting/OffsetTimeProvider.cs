namespace RaftKv.Node.Hosting;

/// <summary>
/// The system clock moved by a fixed offset (<see cref="NodeOptions.ClockOffset"/>): lets an operator or a chaos test
/// run one node with a skewed clock, as a badly synchronised host would have. Timers are not affected.
/// </summary>
public sealed class OffsetTimeProvider(TimeProvider inner, TimeSpan offset) : TimeProvider
{
    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow() + offset;

    /// <inheritdoc/>
    public override long GetTimestamp() => inner.GetTimestamp();

    /// <inheritdoc/>
    public override long TimestampFrequency => inner.TimestampFrequency;

    /// <inheritdoc/>
    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        => inner.CreateTimer(callback, state, dueTime, period);
}
