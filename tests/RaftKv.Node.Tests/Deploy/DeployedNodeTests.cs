using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RaftKv.StateMachine;
using RaftKv.Testing;
using static RaftKv.Node.Tests.Deploy.DeployFiles;

namespace RaftKv.Node.Tests.Deploy;

/// <summary>
/// Runs the built node with the exact argument lists of the systemd unit's ExecStart and the container's ENTRYPOINT
/// (and the image's ENV), their absolute paths mapped into a temporary directory and their ports onto free loopback
/// ports, as a one-member cluster, and checks it answers PING; the container's run also checks its JSON log lines.
/// </summary>
public sealed class DeployedNodeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_node_started_with_the_unit_ExecStart_answers_PING()
    {
        using var dir = new TempDirectory();
        var ports = LoopbackPorts.Free(2);
        Directory.CreateDirectory(dir.Sub("etc"));
        Directory.CreateDirectory(dir.Sub("credentials"));
        File.WriteAllText(Path.Combine(dir.Sub("credentials"), "cluster-secret"), "unit-test-cluster-secret-0123456789");
        File.WriteAllText(Path.Combine(dir.Sub("etc"), "kv1.json"), OneMemberConfig(null, ports[0], ports[1]).ToJsonString());

        // systemd's specifiers and paths, as the unit's install instructions lay them out (docs/deploy.md).
        var words = DeployFileTests.UnitExecStart().Select(w => w
            .Replace("%i", "kv1", StringComparison.Ordinal)
            .Replace("${CREDENTIALS_DIRECTORY}", dir.Sub("credentials"), StringComparison.Ordinal)
            .Replace("/opt/raftkv/", Path.GetDirectoryName(NodeDll) + "/", StringComparison.Ordinal)
            .Replace("/etc/raftkv/", dir.Sub("etc") + "/", StringComparison.Ordinal)
            .Replace("/var/lib/raftkv/", dir.Sub("state") + "/", StringComparison.Ordinal)).ToArray();
        Assert.Equal("/usr/bin/dotnet", words[0]);
        var bin = Path.GetDirectoryName(NodeDll)!;
        foreach (var word in words[1..])
        {
            var value = word.StartsWith("--", StringComparison.Ordinal) && word.Contains('=') ? word[(word.IndexOf('=') + 1)..] : word;
            Assert.DoesNotContain("%", value);
            Assert.DoesNotContain("${", value);
            Assert.True(!value.StartsWith('/') || value.StartsWith(dir.Path, StringComparison.Ordinal) || value.StartsWith(bin, StringComparison.Ordinal), $"a path of ExecStart not mapped by this test: {word}");
        }

        await using var node = NodeProcess.Start(words[1..], new Dictionary<string, string>());
        await node.WaitForPongAsync(ports[1]);
        Assert.True(Directory.Exists(Path.Combine(dir.Sub("state"), "kv1", "wal")), "the node keeps its state under the unit's StateDirectory");
    }

    [Fact]
    public async Task A_node_started_with_the_container_entry_command_and_environment_answers_PING_and_logs_JSON_lines()
    {
        using var dir = new TempDirectory();
        var ports = LoopbackPorts.Free(4);
        Directory.CreateDirectory(dir.Sub("etc"));
        Directory.CreateDirectory(dir.Sub("secrets"));
        File.WriteAllText(Path.Combine(dir.Sub("secrets"), "cluster-secret"), "container-test-cluster-secret-0123456789");
        var config = OneMemberConfig(JsonNode.Parse(File.ReadAllText(PathOf("deploy/docker/raftkv.json")))!, ports[0], ports[1]);
        File.WriteAllText(Path.Combine(dir.Sub("etc"), "raftkv.json"), config.ToJsonString());

        var words = DeployFileTests.ContainerEntryCommand().Select(w => w
            .Replace("/app/", Path.GetDirectoryName(NodeDll) + "/", StringComparison.Ordinal)
            .Replace("/etc/raftkv/", dir.Sub("etc") + "/", StringComparison.Ordinal)
            .Replace("=/data", "=" + dir.Sub("data"), StringComparison.Ordinal)
            .Replace("/run/secrets/", dir.Sub("secrets") + "/", StringComparison.Ordinal)).ToArray();
        Assert.Equal("dotnet", words[0]);

        // The image's ENV, on loopback and free ports (RESP, Raft, peer, HTTP in the image's order 6379..9379).
        var image = FinalStage(DockerInstructions(File.ReadAllText(PathOf("deploy/docker/Dockerfile"))));
        var environment = DeployFileTests.Environment(image).ToDictionary(static e => e.Key, e => e.Value
            .Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)
            .Replace("6379", ports[1].ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("7379", ports[0].ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("8379", ports[2].ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("9379", ports[3].ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        environment["raft__publicEndPoint"] = $"tcp://127.0.0.1:{ports[0]}/";

        await using var node = NodeProcess.Start(words[1..], environment);
        await node.WaitForPongAsync(ports[1]);
        var leader = await node.WaitForLineAsync(static l => l.Contains("\"EventId\":1000", StringComparison.Ordinal));
        Assert.True(Directory.Exists(Path.Combine(dir.Sub("data"), "wal")), "the node keeps its state in the data volume");

        // Every line is one JSON object with the formatter's fields; the leader change carries its own.
        Assert.All(node.Lines, static line =>
        {
            using var json = JsonDocument.Parse(line);
            foreach (var field in new[] { "Timestamp", "EventId", "LogLevel", "Category", "Message", "State" })
                Assert.True(json.RootElement.TryGetProperty(field, out _), $"{field} missing: {line}");
        });
        using var elected = JsonDocument.Parse(leader);
        var state = elected.RootElement.GetProperty("State");
        Assert.Equal($"tcp://127.0.0.1:{ports[0]}/", state.GetProperty("Leader").GetString());
        Assert.Equal("this node", state.GetProperty("Where").GetString());
        Assert.Equal(JsonValueKind.Number, state.GetProperty("Term").ValueKind);
        Assert.Equal("RaftKv.Node.Raft.LeaderChangeLogger", elected.RootElement.GetProperty("Category").GetString());
    }

    // The file's settings with its member list replaced by this one node on loopback ports.
    private static JsonNode OneMemberConfig(JsonNode? from, int raftPort, int respPort)
    {
        var config = from ?? new JsonObject();
        var raft = config["raft"] as JsonObject ?? new JsonObject { ["coldStart"] = false, ["lowerElectionTimeout"] = 300, ["upperElectionTimeout"] = 600 };
        raft["publicEndPoint"] = $"tcp://127.0.0.1:{raftPort}/";
        config["raft"] = raft;
        var node = config["RaftKv"] as JsonObject ?? new JsonObject();
        node["RaftListen"] = $"tcp://127.0.0.1:{raftPort}";
        node["Resp"] = new JsonObject { ["BindAddress"] = "127.0.0.1", ["Port"] = respPort };
        node["Members"] = new JsonArray(new JsonObject { ["Raft"] = $"tcp://127.0.0.1:{raftPort}/", ["Resp"] = $"127.0.0.1:{respPort}" });
        config["RaftKv"] = node;
        return config;
    }

    private sealed class TempDirectory : IDisposable
    {
        private readonly DirectoryInfo dir = Directory.CreateTempSubdirectory("raftkv-deploy-");

        public string Path => dir.FullName;

        public string Sub(string name) => System.IO.Path.Combine(dir.FullName, name);

        public void Dispose() => dir.Delete(recursive: true);
    }

    /// <summary>A node process with its standard output kept line by line; disposing kills it.</summary>
    private sealed class NodeProcess : IAsyncDisposable
    {
        private readonly Process process;
        private readonly ConcurrentQueue<string> lines = new();

        private NodeProcess(Process process) => this.process = process;

        public IReadOnlyCollection<string> Lines => [.. lines.Where(static l => l.Length > 0)];

        public static NodeProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
        {
            Assert.True(File.Exists(NodeDll), $"{NodeDll} is not built");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in arguments)
                start.ArgumentList.Add(argument);
            foreach (var (key, value) in environment)
                start.Environment[key] = value;
            var process = new Process { StartInfo = start };
            var node = new NodeProcess(process);
            process.OutputDataReceived += (_, e) => { if (e.Data is { } line) node.lines.Enqueue(line); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) node.lines.Enqueue("stderr: " + line); };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return node;
        }

        public async Task WaitForPongAsync(int port)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (true)
            {
                Assert.False(process.HasExited, "the node exited: " + string.Join('\n', lines));
                Assert.True(DateTime.UtcNow < deadline, $"no PONG on port {port} within {Patience}: " + string.Join('\n', lines));
                try
                {
                    await using var client = await RespTestClient.ConnectAsync(port);
                    if (Reply.Status("PONG").Equals(await client.CallAsync("PING")))
                        return;
                }
                catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
                {
                    // not listening yet
                }

                await Task.Delay(100);
            }
        }

        public async Task<string> WaitForLineAsync(Func<string, bool> match)
        {
            using var deadline = new CancellationTokenSource(Patience);
            while (true)
            {
                if (lines.FirstOrDefault(match) is { } line)
                    return line;
                Assert.False(process.HasExited, "the node exited: " + string.Join('\n', lines));
                await Task.Delay(100, deadline.Token);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }
}
