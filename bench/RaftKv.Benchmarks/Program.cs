using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(RaftKv.Benchmarks.RespBenchmarks).Assembly).Run(args);
