using RaftKv.Node.Hosting;

// Usage: RaftKv.Node --config cluster-config/local/node1.json [--Section:Key=value ...]
var app = RaftKvNode.Build(args);
await RaftKvNode.StartAsync(app);
await app.WaitForShutdownAsync();
