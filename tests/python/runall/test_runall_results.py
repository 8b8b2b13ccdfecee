"""A job end to end with a fake runner: results.json's schema, statuses, ratios, Ctrl-C, merging shards."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from runall_testing import FAKE_RUNNER, ROOT  # first: puts harness/ on sys.path

from runall import SCHEMA_VERSION, jobs, store


FAKE = FAKE_RUNNER
SCENARIOS = """
    [meta]
    repetitions = 3
    [baseline]
    count = 1000
    [[group]]
    name = "refs"
    params.queue = ["ringside", "boost_spsc", "floor_cacheline"]
    [[group]]
    name = "sizes"
    params.payload_bytes = [64, 4096]
    params.queue = ["ringside", "boost_spsc"]
"""


@pytest.fixture
def fake_runner(monkeypatch):
    monkeypatch.setenv("RINGSIDE_RUNNER", str(FAKE))
    monkeypatch.delenv("FAKE_RUNNER_MODE", raising=False)


def job(tmp_path, text=SCENARIOS, **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(text))
    return jobs.Job(parts=[(path, None)], out=str(tmp_path / "run"), microbench=False, canaries=False,
                    build=False, report=False, **kw)


def test_results_json_has_the_documented_shape(tmp_path, fake_runner):
    code, run_dir = jobs.run(job(tmp_path))
    assert code == 0
    doc = json.loads((run_dir / "results.json").read_text())
    assert set(store.TOP_KEYS) <= set(doc) and doc["schema_version"] == SCHEMA_VERSION
    assert doc["partial"] is False and doc["environment"]["git_commit"]
    assert len(doc["scenarios"]) == 7
    for s in doc["scenarios"]:
        assert {"id", "params", "variant", "status", "repetitions", "latency_ns", "throughput", "cpu_ns_per_msg",
                "validation", "ratios"} <= set(s)
        assert set(s["latency_ns"]) == {"p50", "p90", "p99", "p999", "p9999", "max", "mean", "count"}
        assert set(s["throughput"]) == {"msgs_per_s", "bytes_per_s"}
        assert {"vs_floor", "vs_best_peer"} <= set(s["ratios"])
        assert s["status"] == "pass" and len(s["repetitions"]) == 3
        assert s["validation"]["sent"] == 3000 and s["validation"]["lost"] == 0
        for rep in s["repetitions"]:
            assert (run_dir / rep["files"]["result"]).exists() and (run_dir / rep["files"]["hlog"]).exists()
    base = next(s for s in doc["scenarios"] if s["params"]["queue"] == "ringside" and s["params"]["payload_bytes"] == 8)
    assert base["latency_ns"]["p50"] == 500 and base["latency_ns"]["count"] == 3000
    assert base["latency_ns"]["p9999"] is None  # null stays null, never a number
    assert base["ratios"]["vs_floor"] == pytest.approx(500 / 400)
    assert base["ratios"]["vs_best_peer"] == pytest.approx(500 / 580)
    big = next(s for s in doc["scenarios"] if s["params"]["payload_bytes"] == 4096 and s["params"]["queue"] == "ringside")
    assert big["ratios"]["vs_floor"] is None and big["ratios"]["vs_best_peer"] is not None


def test_repetitions_are_interleaved_within_a_group(tmp_path, fake_runner):
    items = jobs.expand(job(tmp_path))
    refs = [(i.scenario.params["queue"], i.rep) for i in items if i.scenario.group == "refs"]
    assert refs[:4] == [("ringside", 1), ("boost_spsc", 1), ("floor_cacheline", 1), ("ringside", 2)]


def test_a_validation_failure_fails_the_scenario_and_the_run(tmp_path, fake_runner, monkeypatch):
    monkeypatch.setenv("FAKE_RUNNER_MODE", "fail")
    code, run_dir = jobs.run(job(tmp_path, repetitions=1))
    doc = json.loads((run_dir / "results.json").read_text())
    assert code == 1 and {s["status"] for s in doc["scenarios"]} == {"fail"}
    assert doc["scenarios"][0]["validation"]["lost"] == 1


def test_a_sanitizer_report_becomes_a_finding(tmp_path, fake_runner, monkeypatch):
    monkeypatch.setenv("FAKE_RUNNER_MODE", "asan")
    code, run_dir = jobs.run(job(tmp_path, repetitions=1, pattern="ringside.thr.8B"))
    doc = json.loads((run_dir / "results.json").read_text())
    rep = doc["scenarios"][0]["repetitions"][0]
    assert code == 1 and rep["status"] == "findings"
    assert rep["findings"][0]["kind"] == "heap-use-after-free" and rep["findings"][0]["scenario"]


def test_results_with_another_schema_version_are_refused(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ValueError, match="schema_version 99"):
        store.load_results(tmp_path)


def test_ctrl_c_kills_the_runner_unlinks_its_region_and_keeps_partial_results(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(textwrap.dedent(SCENARIOS))
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'harness')!r}); from runall import jobs; "
            f"sys.exit(jobs.run(jobs.Job(parts=[({str(spec)!r}, None)], out={str(tmp_path / 'run')!r}, "
            "microbench=False, canaries=False, build=False, report=False))[0])")
    env = dict(os.environ, RINGSIDE_RUNNER=str(FAKE), FAKE_RUNNER_MODE="sleep")
    before = set(os.listdir("/dev/shm"))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [n for n in set(os.listdir("/dev/shm")) - before if n.startswith("ringside-fake-")]
        if new:
            break
        time.sleep(0.1)
    assert new, "the fake runner never created its region"
    time.sleep(0.6)  # one poll of the child's session
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == jobs.EXIT_INTERRUPTED, out
    assert not os.path.exists(f"/dev/shm/{new[0]}"), "the runner's region was left behind"
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert doc["partial"] is True
    statuses = {r["status"] for s in doc["scenarios"] for r in s["repetitions"]}
    assert statuses == {"not_run"}


def test_merge_combines_shards_and_marks_missing_ones_partial(tmp_path, fake_runner):
    docs, out = [], tmp_path / "merged"
    out.mkdir()
    for k in (1, 2):
        code, run_dir = jobs.run(job(tmp_path / f"s{k}", shard=(k, 2), repetitions=1))
        assert code == 0
        docs.append(store.rebase_files(store.load_results(run_dir), run_dir, out))
    merged = store.merge(docs, ["a", "b"])
    hlogs = [out / r["files"]["hlog"] for s in merged["scenarios"] for r in s["repetitions"]]
    assert hlogs and all(p.exists() for p in hlogs)
    assert merged["merge_complete"] and not merged["partial"]
    assert len(merged["scenarios"]) == 7
    assert sorted(len(d["scenarios"]) for d in docs) != [0, 7]
    assert next(s for s in merged["scenarios"] if s["params"]["queue"] == "ringside"
                and s["params"]["payload_bytes"] == 8)["ratios"]["vs_floor"] is not None
    half = store.merge(docs[:1], ["a"])
    assert half["partial"] and not half["merge_complete"]


def test_a_python_host_result_gets_its_ratio_to_the_cpp_host_of_the_same_scenario():
    def entry(sid, host_kind, p50, payload=64):
        params = {"queue": "ringside", "placement": "different_cores", "payload_bytes": payload,
                  "load.mode": "closed", "host.wait.kind": "futex", "transport": "threads", "host_kind": host_kind}
        return {"id": sid, "variant": "release", "timing": True, "status": "pass", "params": params,
                "groups": ["python-host"], "latency_ns": {"p50": p50}, "throughput": {"msgs_per_s": 1.0}}

    scenarios = [entry("cpp", "cpp", 5000), entry("py", "python", 20000), entry("py-big", "python", 90000, 65536)]
    ratios = {e["id"]: e["ratios"] for e in store.add_ratios(scenarios)}
    assert ratios["py"]["vs_cpp_host"] == pytest.approx(4.0) and ratios["py"]["cpp_host"] == "cpp"
    assert ratios["py-big"]["vs_cpp_host"] is None, "no C++ host ran that payload"
    assert ratios["cpp"]["vs_cpp_host"] is None
