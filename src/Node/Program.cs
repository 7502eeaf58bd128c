using RaftKv.Node;
using RaftKv.Node.Backup;
using RaftKv.Node.Hosting;

// Usage: RaftKv.Node --config cluster-config/local/node1.json [--recover] [--Section:Key=value ...]
//        RaftKv.Node backup ... | restore ...   (operator verbs: see BackupTool.Usage)
//        RaftKv.Node member add|remove|list ... (runtime membership: see MemberTool.Usage)
// --recover is RaftKv:Storage:Recover=true: start an emptied data directory in recovery (docs/storage.md).
// --join is RaftKv:Join=true: a new node that waits to be added to a running cluster (MEMBER.ADD, docs/membership.md).
if (BackupTool.IsVerb(args))
    return await RunVerbAsync(token => BackupTool.RunAsync(args, Console.Out, Console.Error, token));

if (RaftKv.Node.Membership.MemberTool.IsVerb(args))
    return await RunVerbAsync(token => RaftKv.Node.Membership.MemberTool.RunAsync(args, Console.Out, Console.Error, token));

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

// An operator verb, cancelled by Ctrl-C.
static async Task<int> RunVerbAsync(Func<CancellationToken, Task<int>> verb)
{
    using var interrupted = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        interrupted.Cancel();
    };
    return await verb(interrupted.Token);
}
