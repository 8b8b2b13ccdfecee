"""Faults scenarios (kind = "faults"): scenarios/faults.toml, the validation of the faults table, and how a run is recorded."""

import json
import stat
import textwrap

import pytest

from runall_testing import ROOT  # first: puts harness/ on sys.path

from runall import execute, faults, matrix

CPUS = [0, 1]


def load(tmp_path, text):
    path = tmp_path / "f.toml"
    path.write_text(textwrap.dedent(text))
    return matrix.load(path, cpus=CPUS)


def rejection(tmp_path, text):
    with pytest.raises(matrix.ScenarioFileError) as caught:
        load(tmp_path, text)
    return caught.value


def test_faults_toml_runs_at_least_1000_crash_trials_and_10_minutes_of_fuzzing_at_night_and_seconds_in_test():
    scenarios = {s.group: s for s in matrix.load(ROOT / "scenarios" / "faults.toml", cpus=CPUS)}
    assert set(scenarios) == {"crash-recovery", "bad-inputs", "fuzzing"}
    assert all(s.kind == "faults" and s.variants == ("release",) for s in scenarios.values())
    crash, fuzz = scenarios["crash-recovery"].params, scenarios["fuzzing"].params
    assert crash["trials"] >= 1000 and fuzz["fuzz_seconds"] >= 600
    assert scenarios["bad-inputs"].params["bad_inputs"]
    short = [faults.effective(s.params, short=True) for s in scenarios.values()]
    assert sum(faults.estimate_seconds(s.params, short=True) for s in scenarios.values()) < 60
    assert all(p["seconds_max"] <= 60 and p["fuzz_seconds"] <= 30 for p in short)


def test_a_faults_group_is_one_scenario_with_defaults_filled_in_and_a_stable_id(tmp_path):
    text = """
        [[group]]
        name = "crash"
        kind = "faults"
        faults.trials = 5
        """
    (first,), (again,) = load(tmp_path, text), load(tmp_path, text)
    assert first.id == again.id and first.id.startswith("faults.crash-")
    assert first.params["trials"] == 5 and first.params["kinds"] == ["producer", "consumer", "both", "controller"]
    assert first.params["fuzz_seconds"] == 0 and first.params["short"] == {}


@pytest.mark.parametrize("line, key, words", [
    ("faults.bogus = 1", "faults.bogus", "unknown fault setting"),
    ('faults.trials = "many"', "faults.trials", "integer"),
    ("faults.trials = -1", "faults.trials", "integer"),
    ('faults.kinds = ["producer", "sideways"]', "faults.kinds", "producer"),
    ("faults.capacity = 5000", "faults.capacity", "power of two"),
    ("faults.seconds_max = 0", "faults.seconds_max", "number"),
    ("faults.fuzz_build = 1", "faults.fuzz_build", "true or false"),
    ("faults.short = { trials = 0.5 }", "faults.short.trials", "integer"),
    ("faults.short = { nope = 1 }", "faults.short.nope", "unknown fault setting"),
    ("params.payload_bytes = 8", "params", "no runner parameters"),
])
def test_a_bad_faults_group_is_rejected_with_file_line_and_key(tmp_path, line, key, words):
    error = rejection(tmp_path, f"""
        [[group]]
        name = "crash"
        kind = "faults"
        {line}
        """)
    assert error.key == key and words in error.message and error.line is not None


def test_a_faults_table_in_a_measuring_group_is_rejected(tmp_path):
    error = rejection(tmp_path, """
        [[group]]
        name = "timing"
        params.payload_bytes = 8
        faults.trials = 3
        """)
    assert error.key == "faults" and "faults" in error.message


def test_the_runner_plan_leaves_faults_scenarios_to_faults_py(tmp_path):
    scenarios = load(tmp_path, """
        [[group]]
        name = "crash"
        kind = "faults"
        """)
    assert execute.plan(matrix.select(scenarios, None, None)) == []


def fake_tool(tmp_path, name, summary, code=0):
    """A stand-in for a faults binary: writes `summary` to its --json path and exits `code`."""
    tool = tmp_path / "build" / "harness" / "faults" / name
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text("#!/usr/bin/env python3\nimport sys, json\nargs = sys.argv\n"
                    f"open(args[args.index('--json') + 1], 'w').write({json.dumps(json.dumps(summary))})\n"
                    f"sys.exit({code})\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return tool


CRASH_OK = {"ok": True, "trials": 4, "trials_survived": 4, "faults_injected": 6, "records_committed": 100,
            "lost": 0, "duplicated": 1, "half_written_seen": 0, "failures": []}


def one_scenario(tmp_path, body):
    (scenario,) = load(tmp_path, "[[group]]\nname = \"g\"\nkind = \"faults\"\n" + textwrap.dedent(body))
    return scenario


def test_a_passing_crash_run_is_recorded_with_the_figures_the_report_shows(tmp_path):
    fake_tool(tmp_path, "ringside-crash-trials", CRASH_OK)
    scenario = one_scenario(tmp_path, "faults.trials = 4\nfaults.bad_inputs = false\n")
    record = faults.run_scenario(scenario, tmp_path / "run", tmp_path / "build")
    assert record["status"] == "pass", record["notes"]
    assert record["summary"]["faults_injected"] == 6 and record["summary"]["records_lost"] == 0
    assert record["summary"]["fuzz_executions"] is None
    assert not faults.failed([record])


def test_a_lost_record_fails_the_faults_scenario(tmp_path):
    fake_tool(tmp_path, "ringside-crash-trials", dict(CRASH_OK, ok=False, lost=1, failures=["sequences 7..7 missing"]),
              code=1)
    scenario = one_scenario(tmp_path, "faults.bad_inputs = false\n")
    record = faults.run_scenario(scenario, tmp_path / "run", tmp_path / "build")
    assert record["status"] == "fail" and "7..7 missing" in record["notes"][0]
    assert faults.failed([record]) == [record]


def test_a_missing_binary_or_a_failed_bad_input_is_not_a_pass(tmp_path):
    scenario = one_scenario(tmp_path, "faults.trials = 0\n")
    assert faults.run_scenario(scenario, tmp_path / "run", tmp_path / "build")["status"] == "error"
    fake_tool(tmp_path, "ringside-bad-inputs", {"tried": 2, "passed": 1, "failed": 1,
                                                 "cases": [{"what": "NULL name", "ok": False}]}, code=1)
    record = faults.run_scenario(scenario, tmp_path / "run", tmp_path / "build")
    assert record["status"] == "fail" and "NULL name" in record["notes"][0]
    assert record["summary"]["bad_inputs_tried"] == 2


def test_fuzz_crashes_fail_the_scenario_and_the_session_gets_the_settings(tmp_path):
    calls = []

    def session(root, seconds, out_dir, log=None, seed=1, do_build=True):
        calls.append((seconds, seed, do_build))
        return {"ok": False, "executions": 1000, "crashes": 2, "seconds": seconds, "targets": {"fuzz_record": {}}}

    scenario = one_scenario(tmp_path, "faults.trials = 0\nfaults.bad_inputs = false\nfaults.fuzz_seconds = 30\n"
                                      "faults.seed = 9\nfaults.short = { fuzz_seconds = 3, fuzz_build = false }\n")
    record = faults.run_scenario(scenario, tmp_path / "run", tmp_path / "build", short=True, fuzz_session=session)
    assert calls == [(3, 9, False)]
    assert record["status"] == "fail"
    assert record["summary"]["fuzz_executions"] == 1000 and record["summary"]["fuzz_crashes"] == 2


def test_a_fuzz_only_group_without_a_fuzz_build_is_not_run_rather_than_passed(tmp_path, monkeypatch):
    from runall import fuzzing
    monkeypatch.setattr(fuzzing, "build_dir", lambda root: tmp_path / "no-fuzz-build")
    scenario = one_scenario(tmp_path, "faults.trials = 0\nfaults.bad_inputs = false\nfaults.fuzz_seconds = 5\n"
                                      "faults.fuzz_build = false\n")
    record = faults.run_scenario(scenario, tmp_path / "run", tmp_path / "build")
    assert record["status"] == "not_run" and "not built" in record["notes"][0]
    assert not faults.failed([record]) and record["summary"]["fuzz_executions"] is None
