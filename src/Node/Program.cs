using RaftKv.Node;
using RaftKv.Node.Backup;
using RaftKv.Node.Hosting;

// Usage: RaftKv.Node --config cluster-config/local/node1.json [--recover] [--Section:Key=value ...]
//        RaftKv.Node backup ... | restore ...   (operator verbs: see BackupTool.Usage)
//        RaftKv.Node member add|remove|list ... (runtime membership: see MemberTool.Usage)
// --recover is RaftKv:Storage:Recover=true: start an emptied data directory in recovery (docs/storage.md).
// --join is RaftKv:Join=true: a new node that waits to be added to a running cluster (MEMBER.ADD, docs/membership.md).
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

if (RaftKv.Node.Membership.MemberTool.IsVerb(args))
{
    using var interrupted = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        interrupted.Cancel();
    };
    return await RaftKv.Node.Membership.MemberTool.RunAsync(args, Console.Out, Console.Error, interrupted.Token);
}

args = [.. args.Select(static a => a switch
{
    "--recover" => "--RaftKv:Storage:Recover=true",
    "--join" => "--RaftKv:Join=true",
    _ => a,
})];
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
