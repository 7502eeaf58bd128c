using BenchmarkDotNet.Running;

if (args is ["limits", ..])
    await RaftKv.Benchmarks.LimitsProbe.RunAsync(args);
else
    BenchmarkSwitcher.FromAssembly(typeof(RaftKv.Benchmarks.RespBenchmarks).Assembly).Run(args);
