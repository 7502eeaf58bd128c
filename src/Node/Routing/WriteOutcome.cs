using RaftKv.StateMachine;

namespace RaftKv.Node.Routing;

/// <summary>What became of a write, as routing decides on it: never by the text of a reply.</summary>
public enum WriteOutcomeKind
{
    /// <summary>Answered for good: applied with this reply, or refused by a check before the log (a Redis error).</summary>
    Answered,

    /// <summary>Certainly not applied: the node asked was not the leader, or the write never left this node. May be routed again.</summary>
    NotApplied,

    /// <summary>Unknown: it may or may not have been applied (leadership changed, or the link broke, after it was sent).</summary>
    Unknown,
}

/// <summary>A write's outcome and, when <see cref="WriteOutcomeKind.Answered"/>, its reply.</summary>
public readonly record struct WriteOutcome(WriteOutcomeKind Kind, Reply? Reply)
{
    /// <summary>Certainly not applied.</summary>
    public static WriteOutcome NotApplied { get; } = new(WriteOutcomeKind.NotApplied, null);

    /// <summary>Unknown.</summary>
    public static WriteOutcome Unknown { get; } = new(WriteOutcomeKind.Unknown, null);

    /// <summary>Answered with <paramref name="reply"/>.</summary>
    public static WriteOutcome Answered(Reply reply) => new(WriteOutcomeKind.Answered, reply);
}
