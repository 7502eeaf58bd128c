namespace RaftKv.Client.Commands;

/// <summary>
/// A command a batch or transaction holds until it runs, with the task its caller already has. The task completes
/// once: with the converted reply, with the error the command got, or cancelled when the command never ran.
/// </summary>
internal abstract class QueuedCommand(RaftKvCommand command)
{
    public RaftKvCommand Command { get; } = command;

    /// <summary>Completes the task from the command's own reply (an error reply fails it with <see cref="RaftKvServerException"/>).</summary>
    public abstract void Complete(RespValue reply);

    public abstract void Fail(Exception reason);

    /// <summary>The command did not run (a transaction that did not commit).</summary>
    public abstract void Cancel();

    /// <summary>Runs the command on its own on <paramref name="connection"/>, retries and exactly-once included.</summary>
    public abstract void StartOn(RaftKvConnection connection);
}

/// <summary>A <see cref="QueuedCommand"/> whose reply becomes a <typeparamref name="T"/>.</summary>
internal sealed class QueuedCommand<T> : QueuedCommand
{
    private readonly TaskCompletionSource<T> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<RespValue, T> convert;
    private readonly CancellationToken cancellationToken;

    public QueuedCommand(RaftKvCommand command, Func<RespValue, T> convert, CancellationToken cancellationToken)
        : base(command)
    {
        this.convert = convert;
        this.cancellationToken = cancellationToken;
        Task = cancellationToken.CanBeCanceled ? completion.Task.WaitAsync(cancellationToken) : completion.Task;

        // Callers often discard the tasks of a transaction's commands (`_ = tx.StringSetAsync(...)`): when it fails,
        // each carries the error ExecuteAsync already threw, and would be reported again as an unobserved exception.
        _ = Task.ContinueWith(
            static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The caller's task; its token cancels the caller's wait, not the command.</summary>
    public Task<T> Task { get; }

    public override void Complete(RespValue reply)
    {
        if (reply.IsError)
        {
            completion.TrySetException(new RaftKvServerException(reply.AsString()!));
            return;
        }

        try
        {
            completion.TrySetResult(convert(reply));
        }
        catch (InvalidCastException e)
        {
            completion.TrySetException(e);
        }
    }

    public override void Fail(Exception reason) => completion.TrySetException(reason);

    public override void Cancel() => completion.TrySetCanceled();

    public override void StartOn(RaftKvConnection connection) => _ = RunAsync(connection);

    private async Task RunAsync(RaftKvConnection connection)
    {
        try
        {
            Complete(await connection.RunCommandAsync(Command, cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            completion.TrySetCanceled(e.CancellationToken);
        }
        catch (Exception e)
        {
            completion.TrySetException(e);
        }
    }
}
