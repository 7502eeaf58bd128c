using System.Diagnostics;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;
using static RaftKv.Node.Tests.Deploy.DeployFiles;

namespace RaftKv.Node.Tests.Deploy;

/// <summary>
/// The deployments under <c>deploy/</c> parse and say what docs/deploy.md promises: the files are read as their
/// tools read them (YAML, Dockerfile instructions, unit keys, <c>systemd-analyze verify</c>, <c>kubectl kustomize</c>)
/// and their node command lines are compared with local-cluster.sh's. No image is built here (no registry is
/// reachable): what runs is checked by <see cref="DeployedNodeTests"/> with the same arguments on the built node.
/// </summary>
public sealed class DeployFileTests(ITestOutputHelper output)
{
    private static readonly string[] NodePorts = ["6379", "7379", "8379", "9379"];

    [Fact]
    public void The_Dockerfile_builds_in_the_sdk_runs_on_aspnet_as_a_non_root_user_with_a_volume_ports_and_a_health_check()
    {
        var all = DockerInstructions(File.ReadAllText(PathOf("deploy/docker/Dockerfile")));
        var stages = all.Where(static i => i.Keyword == "FROM").Select(static i => i.Arguments).ToList();
        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0 AS build", "mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime"], stages);

        var final = FinalStage(all);
        var users = final.Where(static i => i.Keyword == "USER").Select(static i => i.Arguments).ToList();
        Assert.NotEmpty(users);
        Assert.DoesNotContain(users[^1].Split(':')[0], new[] { "root", "0" });
        Assert.Contains(final, static i => i.Keyword == "VOLUME" && i.Arguments == "/data");
        var exposed = final.Where(static i => i.Keyword == "EXPOSE").SelectMany(static i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(NodePorts, exposed.Order());

        var health = Assert.Single(final, static i => i.Keyword == "HEALTHCHECK").Arguments;
        var check = ExecForm(health[(health.IndexOf("CMD ", StringComparison.Ordinal) + 4)..]);
        Assert.Equal("/usr/local/bin/raftkv-healthcheck", check[0]);
        Assert.Contains(final, static i => i.Keyword == "COPY" && i.Arguments == "deploy/docker/healthcheck.sh /usr/local/bin/raftkv-healthcheck");

        // Every COPY from the build context names a file or folder of the repository.
        foreach (var copy in all.Where(static i => i.Keyword == "COPY" && !i.Arguments.StartsWith("--from", StringComparison.Ordinal)))
        {
            var sources = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1];
            foreach (var source in sources)
                Assert.True(File.Exists(PathOf(source)) || Directory.Exists(PathOf(source)), $"COPY {source}: not in the repository");
        }

        // The listeners the ENV sets are the exposed ports.
        var env = Environment(final);
        Assert.Equal("6379", env["RaftKv__Resp__Port"]);
        Assert.EndsWith(":7379", env["RaftKv__RaftListen"]);
        Assert.EndsWith(":8379", env["RaftKv__Peer__Listen"]);
        Assert.EndsWith(":9379", env["RaftKv__Http__Listen"]);
        Assert.Equal("json", env["RaftKv__LogFormat"]);
    }

    [Fact]
    public void The_container_entry_command_and_the_unit_ExecStart_run_the_node_with_local_cluster_sh_configuration_keys()
    {
        var local = LocalClusterNodeCommand();
        Assert.Equal(["dotnet", "\"$BIN\""], local[..2]);
        var allLocalKeys = ConfigurationKeys(local);
        output.WriteLine("local-cluster.sh: " + string.Join(' ', allLocalKeys));

        // Listener addresses differ per node: the script gives the HTTP one on the command line, the image in its ENV
        // (checked with the Dockerfile), the unit in the node's JSON file. The rest is the same shape everywhere.
        Assert.Contains("RaftKv:Http:Listen", allLocalKeys);
        var localKeys = allLocalKeys.Where(static k => k != "RaftKv:Http:Listen").ToArray();
        Assert.Equal(["RaftKv:DataPath", "RaftKv:Peer:ClusterSecretFile", "config"], localKeys);

        var entry = ContainerEntryCommand();
        Assert.Equal("dotnet", entry[0]);
        Assert.Equal("RaftKv.Node.dll", Path.GetFileName(entry[1]));
        Assert.Equal(localKeys, ConfigurationKeys(entry));

        var exec = UnitExecStart();
        Assert.Equal("/usr/bin/dotnet", exec[0]);
        Assert.Equal("RaftKv.Node.dll", Path.GetFileName(exec[1]));
        Assert.Equal(localKeys, ConfigurationKeys(exec));
    }

    [Fact]
    public async Task The_systemd_unit_passes_systemd_analyze_verify_and_keeps_the_hardening_baseline()
    {
        var unit = File.ReadAllText(PathOf("deploy/systemd/raftkv@.service"));
        var service = UnitKeys(unit, "Service");
        string One(string key) => Assert.Single(service.TryGetValue(key, out var v) ? v : [], static _ => true);
        Assert.Equal("yes", One("DynamicUser"));
        Assert.Equal("strict", One("ProtectSystem"));
        Assert.Equal("/var/lib/raftkv", One("ReadWritePaths"));
        Assert.Equal("yes", One("NoNewPrivileges"));
        Assert.Equal("yes", One("PrivateTmp"));
        Assert.Equal("", One("CapabilityBoundingSet"));
        Assert.Equal("AF_INET AF_INET6 AF_UNIX", One("RestrictAddressFamilies"));
        Assert.Equal("@system-service", One("SystemCallFilter"));
        Assert.Equal("on-failure", One("Restart"));
        Assert.Equal("raftkv/%i", One("StateDirectory"));
        Assert.True(int.Parse(One("LimitNOFILE"), System.Globalization.CultureInfo.InvariantCulture) >= 65536);
        Assert.False(service.ContainsKey("MemoryDenyWriteExecute"), "MemoryDenyWriteExecute stops .NET's JIT");
        Assert.False(service.ContainsKey("User"), "DynamicUser allocates the user");

        // systemd-analyze verify needs no running systemd: it loads the unit (an instance of the template) and
        // reports unknown keys, bad values and a missing executable on stderr.
        var dir = Directory.CreateTempSubdirectory("raftkv-unit-");
        try
        {
            File.Copy(PathOf("deploy/systemd/raftkv@.service"), Path.Combine(dir.FullName, "raftkv@.service"));
            var (code, stdout, stderr) = await RunAsync("systemd-analyze", dir.FullName, "verify", Path.Combine(dir.FullName, "raftkv@kv1.service"));
            output.WriteLine($"systemd-analyze verify: exit {code} {stdout}{stderr}");
            Assert.Equal(0, code);
            Assert.Equal("", stderr.Trim());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_compose_file_runs_three_nodes_with_volumes_the_cluster_secret_health_checks_and_loopback_only_ports()
    {
        var compose = Assert.Single(YamlDocuments(File.ReadAllText(PathOf("deploy/docker/compose.yaml"))));
        var services = Assert.IsType<YamlMappingNode>(At(compose, "services"));
        Assert.Equal(["raftkv1", "raftkv2", "raftkv3"], services.Children.Keys.Select(static k => k.ToString()).Order());

        var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(PathOf("deploy/docker/raftkv.json")));
        var members = config.RootElement.GetProperty("RaftKv").GetProperty("Members").EnumerateArray()
            .Select(static m => m.GetProperty("Raft").GetString()).ToList();
        var volumes = Assert.IsType<YamlMappingNode>(At(compose, "volumes")).Children.Keys.Select(static k => k.ToString()).ToHashSet();

        for (var n = 1; n <= 3; n++)
        {
            var node = services.Children[new YamlScalarNode($"raftkv{n}")];
            // The merge key (<<: *node) brings the shared part: YamlDotNet's model keeps it as the anchored mapping.
            var shared = At(node, "<<") ?? node;
            Assert.Equal($"tcp://raftkv{n}:7379/", Scalar(node, "environment", "raft__publicEndPoint"));
            Assert.Contains($"tcp://raftkv{n}:7379/", members);
            Assert.Equal($"127.0.0.1:638{n}:6379", Scalar(node, "ports", 0));
            Assert.Single(((YamlSequenceNode)At(node, "ports")!).Children);
            var volume = Scalar(node, "volumes", 0)!.Split(':');
            Assert.Equal("/data", volume[1]);
            Assert.Contains(volume[0], volumes);
            Assert.Equal("cluster-secret", Scalar(shared, "secrets", 0));
            Assert.Equal("/usr/local/bin/raftkv-healthcheck", Scalar(shared, "healthcheck", "test", 1));
            Assert.Equal("/etc/raftkv/raftkv.json", Scalar(shared, "configs", 0, "target"));
        }

        Assert.Equal("./cluster-secret", Scalar(compose, "secrets", "cluster-secret", "file"));
        Assert.Equal("./raftkv.json", Scalar(compose, "configs", "raftkv", "file"));
        Assert.Equal(3, members.Count);
    }

    [Fact]
    public async Task The_Kubernetes_manifests_parse_and_give_a_statefulset_with_stable_names_probes_volumes_secrets_and_a_disruption_budget()
    {
        var documents = Directory.GetFiles(PathOf("deploy/kubernetes"), "*.yaml")
            .Where(static f => Path.GetFileName(f) != "kustomization.yaml")
            .SelectMany(static f => YamlDocuments(File.ReadAllText(f)))
            .ToDictionary(static d => $"{Scalar(d, "kind")}/{Scalar(d, "metadata", "name")}");
        Assert.Equal(
            ["ConfigMap/raftkv-config", "PodDisruptionBudget/raftkv", "Secret/raftkv-secrets", "Service/raftkv", "Service/raftkv-headless", "StatefulSet/raftkv"],
            documents.Keys.Order());

        var headless = documents["Service/raftkv-headless"];
        Assert.Equal("None", Scalar(headless, "spec", "clusterIP"));
        Assert.Equal("true", Scalar(headless, "spec", "publishNotReadyAddresses"));

        var set = documents["StatefulSet/raftkv"];
        Assert.Equal("raftkv-headless", Scalar(set, "spec", "serviceName"));
        Assert.Equal("3", Scalar(set, "spec", "replicas"));
        Assert.Equal("Parallel", Scalar(set, "spec", "podManagementPolicy"));
        var pod = At(set, "spec", "template", "spec")!;
        Assert.Equal("true", Scalar(pod, "securityContext", "runAsNonRoot"));
        var container = At(pod, "containers", 0)!;
        Assert.Null(At(container, "command"));   // the image's ENTRYPOINT, checked against local-cluster.sh above
        Assert.Null(At(container, "args"));
        Assert.Equal("/health/ready", Scalar(container, "readinessProbe", "httpGet", "path"));
        Assert.Equal("/health/live", Scalar(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal("http", Scalar(container, "readinessProbe", "httpGet", "port"));
        Assert.Equal("true", Scalar(container, "securityContext", "readOnlyRootFilesystem"));
        Assert.Equal("false", Scalar(container, "securityContext", "allowPrivilegeEscalation"));
        Assert.Equal("ALL", Scalar(container, "securityContext", "capabilities", "drop", 0));
        Assert.Equal("tcp://$(POD_NAME).raftkv-headless:7379/", EnvValue(container, "raft__publicEndPoint"));
        Assert.Equal("requirepass", Scalar(EnvEntry(container, "RaftKv__Security__RequirePass"), "valueFrom", "secretKeyRef", "key"));

        // The mounts land where the image's ENTRYPOINT looks: the config, the secret file, the data volume.
        var mounts = ((YamlSequenceNode)At(container, "volumeMounts")!).Children.ToDictionary(static m => Scalar(m, "mountPath")!, static m => Scalar(m, "name")!);
        var entry = ContainerEntryCommand();
        Assert.Equal("config", mounts[Path.GetDirectoryName(entry[Array.IndexOf(entry, "--config") + 1])!]);
        Assert.Equal("secrets", mounts[Path.GetDirectoryName(Value(entry, "--RaftKv:Peer:ClusterSecretFile="))!]);
        Assert.Equal("data", mounts[Value(entry, "--RaftKv:DataPath=")]);
        Assert.Equal("data", Scalar(set, "spec", "volumeClaimTemplates", 0, "metadata", "name"));
        var volumes = ((YamlSequenceNode)At(pod, "volumes")!).Children.ToDictionary(static v => Scalar(v, "name")!);
        Assert.Equal("raftkv-config", Scalar(volumes["config"], "configMap", "name"));
        Assert.Equal("raftkv-secrets", Scalar(volumes["secrets"], "secret", "secretName"));
        Assert.Equal("cluster-secret", Scalar(volumes["secrets"], "secret", "items", 0, "path"));
        Assert.Contains("cluster-secret", ((YamlMappingNode)At(documents["Secret/raftkv-secrets"], "stringData")!).Children.Keys.Select(static k => k.ToString()));

        Assert.Equal("1", Scalar(documents["PodDisruptionBudget/raftkv"], "spec", "maxUnavailable"));

        // The node configuration in the ConfigMap: each member is a pod's stable name, and the one the env gives each pod.
        var json = System.Text.Json.JsonDocument.Parse(Scalar(documents["ConfigMap/raftkv-config"], "data", "raftkv.json")!);
        var members = json.RootElement.GetProperty("RaftKv").GetProperty("Members").EnumerateArray().Select(static m => m.GetProperty("Raft").GetString()).ToList();
        Assert.Equal(Enumerable.Range(0, 3).Select(static i => $"tcp://raftkv-{i}.raftkv-headless:7379/"), members);
        Assert.Equal(members.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(set, "spec", "replicas"));

        // kubectl kustomize builds the manifests offline (kubectl create --dry-run=client needs an API server here).
        var (code, stdout, stderr) = await RunAsync("kubectl", Root, "kustomize", PathOf("deploy/kubernetes"));
        output.WriteLine($"kubectl kustomize: exit {code}, {stdout.Length} characters {stderr}");
        Assert.Equal(0, code);
        Assert.Equal(documents.Count, YamlDocuments(stdout).Count);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK", 0)]
    [InlineData("HTTP/1.1 503 Service Unavailable", 1)]
    public async Task The_container_health_check_passes_on_200_from_health_ready_only(string status, int expected)
    {
        using var server = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        server.Start();
        var port = ((System.Net.IPEndPoint)server.LocalEndpoint).Port;
        var answered = AnswerOnceAsync(server, status);

        var (code, _, stderr) = await RunAsync("env", Root, $"RaftKv__Http__Listen=0.0.0.0:{port}", "bash", PathOf("deploy/docker/healthcheck.sh"));
        Assert.Equal("GET /health/ready HTTP/1.0", await answered);
        Assert.True(expected == 0 ? code == 0 : code != 0, $"exit {code} on {status}: {stderr}");
    }

    [Fact]
    public async Task The_container_health_check_fails_when_nothing_listens()
    {
        var port = RaftKv.Testing.LoopbackPorts.Free(1)[0];
        var (code, _, _) = await RunAsync("env", Root, $"RaftKv__Http__Listen=127.0.0.1:{port}", "bash", PathOf("deploy/docker/healthcheck.sh"));
        Assert.NotEqual(0, code);
    }

    // Reads one request's first line and answers it with the status line.
    private static async Task<string?> AnswerOnceAsync(System.Net.Sockets.TcpListener server, string status)
    {
        using var client = await server.AcceptTcpClientAsync();
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, leaveOpen: true);
        var request = await reader.ReadLineAsync();
        while (await reader.ReadLineAsync() is { Length: > 0 })
        {
        }

        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(status + "\r\nContent-Length: 0\r\n\r\n"));
        return request;
    }

    internal static string[] ContainerEntryCommand()
        => ExecForm(FinalStage(DockerInstructions(File.ReadAllText(PathOf("deploy/docker/Dockerfile")))).Single(static i => i.Keyword == "ENTRYPOINT").Arguments);

    internal static Dictionary<string, string> Environment(IEnumerable<(string Keyword, string Arguments)> stage)
        => stage.Where(static i => i.Keyword == "ENV")
            .SelectMany(static i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(static pair => pair.Split('=', 2))
            .ToDictionary(static p => p[0], static p => p[1]);

    internal static string[] UnitExecStart()
        => Assert.Single(UnitKeys(File.ReadAllText(PathOf("deploy/systemd/raftkv@.service")), "Service")["ExecStart"])
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);

    internal static string Value(string[] words, string prefix) => words.Single(w => w.StartsWith(prefix, StringComparison.Ordinal))[prefix.Length..];

    private static YamlNode EnvEntry(YamlNode container, string name)
        => ((YamlSequenceNode)At(container, "env")!).Children.Single(e => Scalar(e, "name") == name);

    private static string? EnvValue(YamlNode container, string name) => Scalar(EnvEntry(container, name), "value");

    internal static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
