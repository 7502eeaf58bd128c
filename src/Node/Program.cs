using RaftKv.Node;
using RaftKv.Node.Backup;
using RaftKv.Node.Hosting;

// Usage: RaftKv.Node --config cluster-config/local/node1.json [--Section:Key=value ...]
//        RaftKv.Node backup ... | restore ...   (operator verbs: see BackupTool.Usage)
if (BackupTool.IsVerb(args))
{
    using var interrupted = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        interrupted.Cancel();
    };
    return await BackupTool.RunAsync(args, Console.Out, Console.Error, interrupted.Token);
}

try
{
    var app = RaftKvNode.Build(args);
    await RaftKvNode.StartAsync(app);
    await app.WaitForShutdownAsync();
}
catch (NodeStartupException e)
{
    // A configuration problem: one line saying what to change, not a stack trace.
    Console.Error.WriteLine("RaftKv node not started: " + e.Message);
    return 2;
}

return 0;
