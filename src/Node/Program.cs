using RaftKv.Node;
using RaftKv.Node.Hosting;

// Usage: RaftKv.Node --config cluster-config/local/node1.json [--Section:Key=value ...]
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
