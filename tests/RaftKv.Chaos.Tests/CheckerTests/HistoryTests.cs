using System.Text.Json;
using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>The recorder under concurrent clients, the JSON forms of a history and a run report, and the summary line.</summary>
public sealed class HistoryTests
{
    [Fact]
    public async Task Concurrent_clients_record_every_operation_once_on_one_monotonic_clock()
    {
        var recorder = new HistoryRecorder();
        const int Clients = 8, PerClient = 200;

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(process => Task.Run(async () =>
        {
            for (var i = 0; i < PerClient; i++)
            {
                var pending = recorder.Invoke(process, OpKind.Write, "k" + (i % 3), value: $"{process}-{i}");
                if (i % 50 == 0)
                    await Task.Yield();
                _ = (i % 3) switch
                {
                    0 => pending.Ok(),
                    1 => pending.Fail("no"),
                    _ => pending.Info("timeout"),
                };
            }
        })));

        var history = recorder.Snapshot();
        Assert.Equal(Clients * PerClient, history.Count);
        Assert.Equal(Enumerable.Range(0, Clients * PerClient).Select(static i => (long)i), history.Select(static o => o.Id));
        Assert.All(history, static o => Assert.True(o.InvokeTime <= o.CompleteTime, o.ToString()));
        for (var i = 1; i < history.Count; i++)
            Assert.True(history[i - 1].InvokeTime <= history[i].InvokeTime, "ids follow invocation order");
        Assert.Equal(0, recorder.InFlight);
        var counts = OutcomeCounts.Of(history);
        Assert.Equal(Clients * PerClient, counts.Total);
        Assert.True(counts.Ok > 0 && counts.Fail > 0 && counts.Info > 0);
    }

    [Fact]
    public void An_operation_completes_once_and_carries_its_outcome()
    {
        var recorder = new HistoryRecorder();
        var pending = recorder.Invoke(3, OpKind.Acquire, "lock", value: "owner", ttl: TimeSpan.FromSeconds(2));

        var done = pending.Ok(fencingToken: 42);

        Assert.Equal(Outcome.Ok, done.Outcome);
        Assert.Equal(42, done.FencingToken);
        Assert.Equal(TimeSpan.FromSeconds(2), done.Ttl);
        Assert.Throws<InvalidOperationException>(() => pending.Info());
    }

    [Fact]
    public void Operations_in_flight_at_a_snapshot_are_unknown()
    {
        var recorder = new HistoryRecorder();
        recorder.Invoke(1, OpKind.Write, "x", value: "a").Ok();
        var open = recorder.Invoke(2, OpKind.Write, "x", value: "b");

        var history = recorder.Snapshot();

        Assert.Equal(Outcome.Info, history[1].Outcome);
        Assert.Equal(open.Id, history[1].Id);
        Assert.True(history[1].CompleteTime >= history[1].InvokeTime);
        Assert.Equal(1, recorder.InFlight);
    }

    [Fact]
    public void Faults_are_recorded_on_the_history_clock()
    {
        var recorder = new HistoryRecorder();
        var before = recorder.Invoke(1, OpKind.Read, "x").Ok();
        var fault = recorder.RecordFault("kill", "node2");

        Assert.True(fault.Time >= before.CompleteTime);
        Assert.Equal([fault], recorder.Faults);
    }

    [Fact]
    public void A_history_round_trips_through_json_lines()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Cas(2, "x", "a", "b", 5, 15, Outcome.Fail);
        h.Read(3, "x", null, 20, 30);
        h.Acquire(4, "L", "o", 0, 10, ttlMs: 1500, token: 77);
        h.ReadAll(5, "s", ["1", "2"], 40, 50);
        h.Incr(6, "c", null, 0, 10, Outcome.Info);
        h.Acquire(7, "RW", "r", 0, 10, ttlMs: 1500, token: 78, mode: LockMode.Read);
        h.Acquire(8, "S", "s", 0, 10, ttlMs: 1500, token: 79, permits: 2);
        h.LockInfo(9, "RW", ["w", "r"], 0, 10, holders: ["h"]);

        var json = HistoryJson.Serialize(h.Operations);
        var back = HistoryJson.Deserialize(json);

        Assert.Equal(h.Operations.Count, json.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("\"kind\":\"Cas\"", json, StringComparison.Ordinal);
        Assert.Contains("\"outcome\":\"Info\"", json, StringComparison.Ordinal);
        Assert.Equal(h.Operations.Select(static o => o with { Values = null, Holders = null }), back.Select(static o => o with { Values = null, Holders = null }));
        Assert.Equal(["1", "2"], back[4].Values);
        Assert.Contains("\"mode\":\"Read\"", json, StringComparison.Ordinal);
        Assert.Equal(2, back[7].Permits);
        Assert.Equal(["w", "r"], back[8].Values);
        Assert.Equal(["h"], back[8].Holders);
    }

    [Fact]
    public void A_run_report_names_the_seed_and_each_verdict_and_round_trips_through_json()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Read(2, "x", "b", 20, 30);
        h.Read(2, "x", null, 40, 50, Outcome.Info);
        var checks = new[]
        {
            new LinearizabilityChecker<string?>(new RegisterModel()).Check(h.Operations),
            new LockSafetyChecker().Check(h.Operations),
        };
        Fault[] faults = [new(5_000_000, "kill", "node1"), new(9_000_000, "restart", "node1"), new(12_000_000, "kill", "node3")];

        var report = RunReport.Create(1234, h.Operations, faults, checks, name: "register", duration: TimeSpan.FromSeconds(3), replay: "RAFTKV_CHAOS_SEED=1234 ./run-tests.sh");
        var summary = report.Summary();

        Assert.Equal(Verdict.Invalid, report.Verdict);
        Assert.Equal(new OutcomeCounts(2, 0, 1), report.Operations);
        Assert.DoesNotContain('\n', summary);
        Assert.StartsWith("chaos register seed 1234: INVALID in 3.0 s — 3 ops (ok 2, fail 0, info 1), 3 faults (kill 2, restart 1)", summary, StringComparison.Ordinal);
        Assert.Contains("linearizable-register INVALID, lock-safety valid", summary, StringComparison.Ordinal);
        Assert.EndsWith("replay: RAFTKV_CHAOS_SEED=1234 ./run-tests.sh", summary, StringComparison.Ordinal);

        var json = report.ToJson();
        using (var document = JsonDocument.Parse(json))
        {
            Assert.Equal(1234, document.RootElement.GetProperty("seed").GetInt64());
            Assert.Equal("Invalid", document.RootElement.GetProperty("verdict").GetString());
            Assert.Equal("kill", document.RootElement.GetProperty("faults")[0].GetProperty("kind").GetString());
        }

        var back = RunReport.FromJson(json);
        Assert.Equal(report.Seed, back.Seed);
        Assert.Equal(report.Operations, back.Operations);
        Assert.Equal(report.Faults, back.Faults);
        Assert.Equal(report.Checks.Select(static c => (c.Checker, c.Verdict, c.Explanation)), back.Checks.Select(static c => (c.Checker, c.Verdict, c.Explanation)));
        Assert.Equal(report.Checks[0].Offending, back.Checks[0].Offending);
    }

    [Fact]
    public void A_valid_run_summary_has_no_replay_hint_and_a_run_without_checks_is_unknown()
    {
        var valid = RunReport.Create(7, [], [], [CheckResult.Valid("x", "fine")]);
        Assert.Equal(Verdict.Valid, valid.Verdict);
        Assert.DoesNotContain("replay", valid.Summary(), StringComparison.Ordinal);

        var nothingChecked = RunReport.Create(7, [], [], []);
        Assert.Equal(Verdict.Unknown, nothingChecked.Verdict);
        Assert.EndsWith("replay: seed 7", nothingChecked.Summary(), StringComparison.Ordinal);
    }
}
