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
internal sealed class QueuedCommand<T>(RaftKvCommand command, Func<RespValue, T> convert, CancellationToken cancellationToken)
    : QueuedCommand(command)
{
    private readonly TaskCompletionSource<T> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The caller's task; its token cancels the caller's wait, not the command.</summary>
    public Task<T> Task => cancellationToken.CanBeCanceled ? completion.Task.WaitAsync(cancellationToken) : completion.Task;

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
