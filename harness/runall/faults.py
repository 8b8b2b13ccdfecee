"""Fault scenarios (kind = "faults"): crash trials, bad inputs and a bounded fuzz session, recorded in results.json `faults[]`.

A group of kind "faults" takes no runner parameters; its `faults` table says
what to run (KEYS below: types, ranges, defaults), and its optional
`faults.short` table overrides keys for `./run_all.py test`, which runs the
short version. Each group runs, in order:

  ringside-crash-trials  (harness/faults)  SIGKILLed producers and consumers of
                         a file-backed ring; records lost must be 0
  ringside-bad-inputs    (harness/faults)  every kind of bad input through the
                         C API; each must give its code and a message
  a fuzz session         harness/runall/fuzzing.py run_fuzz_session (the
                         libFuzzer targets of the fuzz preset and the live
                         hostile-peer fuzzer) when fuzz_seconds > 0
"""

import json
import math
import time
from pathlib import Path

from . import checkers, procs

CRASH_BINARY = "harness/faults/ringside-crash-trials"
BAD_INPUTS_BINARY = "harness/faults/ringside-bad-inputs"
CMAKE_TARGETS = ("ringside_crash_trials", "ringside_bad_inputs")
KINDS = ("producer", "consumer", "both", "controller")


def _int(lo, hi):
    def check(v):
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            return f"must be an integer {lo}..{hi}, not {v!r}"
        return None
    return check


def _number(lo, hi):
    def check(v):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= v <= hi or math.isnan(v):
            return f"must be a number {lo}..{hi}, not {v!r}"
        return None
    return check


def _kinds(v):
    if not isinstance(v, list) or not v or any(k not in KINDS for k in v):
        return f"must be a non-empty list of {', '.join(KINDS)}, not {v!r}"
    return None


def _capacity(v):
    if _int(4096, 1 << 24)(v) or v & (v - 1):
        return f"must be a power of two 4096..16777216, not {v!r}"
    return None


def _bool(v):
    return None if isinstance(v, bool) else f"must be true or false, not {v!r}"


# key: (check, default, meaning)
KEYS = {
    "trials": (_int(0, 1_000_000), 100, "crash trials (0: none)"),
    "seed": (_int(0, 2**63 - 1), 1, "random seed of the crash trials and the fuzz session"),
    "seconds_max": (_number(0.1, 86400), 60.0, "the crash trials start no trial after this"),
    "kinds": (_kinds, list(KINDS), "which peers the trials kill"),
    "capacity": (_capacity, 16384, "ring capacity of the crash trials (small: it wraps often)"),
    "bad_inputs": (_bool, True, "run ringside-bad-inputs"),
    "fuzz_seconds": (_number(0, 86400), 0.0, "length of the fuzz session (0: none)"),
    "fuzz_build": (_bool, True, "build the fuzz preset when it is missing (false: fuzz only if built)"),
}


def check(fail, table):
    """The validated faults table (defaults filled in, `short` validated and kept). fail(key, message) raises."""
    if not isinstance(table, dict):
        fail("faults", "must be a table of fault settings")
    out = {k: (list(d) if isinstance(d, list) else d) for k, (_, d, _) in KEYS.items()}
    for key, value in table.items():
        if key == "short":
            continue
        if key not in KEYS:
            fail(f"faults.{key}", f"unknown fault setting (known: {', '.join(sorted(KEYS))}, short)")
        if (problem := KEYS[key][0](value)) is not None:
            fail(f"faults.{key}", problem)
        out[key] = value
    short = table.get("short", {})
    if not isinstance(short, dict):
        fail("faults.short", "must be a table of fault settings (what `test` runs instead)")
    for key, value in short.items():
        if key not in KEYS:
            fail(f"faults.short.{key}", f"unknown fault setting (known: {', '.join(sorted(KEYS))})")
        if (problem := KEYS[key][0](value)) is not None:
            fail(f"faults.short.{key}", problem)
    out["short"] = dict(short)
    return out


def effective(params, short):
    """The settings a run uses: the long ones, or with `short` applied."""
    out = {k: v for k, v in params.items() if k != "short"}
    if short:
        out.update(params.get("short") or {})
    return out


def estimate_seconds(params, short=False):
    p = effective(params, short)
    crash = min(p["seconds_max"], 0.05 * p["trials"]) if p["trials"] else 0.0
    return crash + (2.0 if p["bad_inputs"] else 0.0) + p["fuzz_seconds"]


def crash_command(binary, p, json_path, folder):
    return [str(binary), "--trials", str(p["trials"]), "--seed", str(p["seed"]),
            "--seconds-max", str(p["seconds_max"]), "--kinds", ",".join(p["kinds"]),
            "--capacity", str(p["capacity"]), "--dir", str(folder), "--json", str(json_path)]


def _read(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _run_tool(cmd, log, deadline, json_path):
    rc, _, ended = procs.run(cmd, log=log, deadline=deadline, quiet=False)
    return rc, ended, _read(json_path)


def run_scenario(scenario, run_dir, build_dir, short=False, deadline=None, fuzz_session=None):
    """Runs one faults scenario; returns its results.json `faults[]` record."""
    p = effective(scenario.params, short)
    folder = Path(run_dir) / "faults" / scenario.group
    folder.mkdir(parents=True, exist_ok=True)
    record = {"id": scenario.id, "group": scenario.group, "source": scenario.source, "short": short,
              "settings": p, "status": "pass", "notes": [], "crash": None, "bad_inputs": None, "fuzz": None}
    start = time.monotonic()

    def until(seconds):
        limit = time.monotonic() + seconds
        return min(limit, deadline) if deadline is not None else limit

    if p["trials"]:
        binary = Path(build_dir) / CRASH_BINARY
        if not binary.exists():
            record["notes"].append(f"{binary} is not built")
            record["status"] = "error"
        else:
            out = folder / "crash_trials.json"
            cmd = crash_command(binary, p, out, folder)
            rc, ended, summary = _run_tool(cmd, folder / "crash_trials.log", until(p["seconds_max"] + 60), out)
            record["crash"] = summary
            if summary is None or ended != "exited":
                record["status"] = "error"
                record["notes"].append(f"crash trials: no summary (exit {rc}, {ended})")
            elif rc != 0 or not summary.get("ok"):
                record["status"] = "fail"
                record["notes"].append("crash trials: " + "; ".join(summary.get("failures") or [f"exit {rc}"]))
    if p["bad_inputs"] and not procs.stopping():
        binary = Path(build_dir) / BAD_INPUTS_BINARY
        if not binary.exists():
            record["notes"].append(f"{binary} is not built")
            record["status"] = "error"
        else:
            out = folder / "bad_inputs.json"
            rc, ended, summary = _run_tool([str(binary), "--dir", str(folder), "--json", str(out)],
                                           folder / "bad_inputs.log", until(120), out)
            record["bad_inputs"] = summary
            if summary is None or ended != "exited":
                record["status"] = "error"
                record["notes"].append(f"bad inputs: no summary (exit {rc}, {ended})")
            elif rc != 0 or summary.get("failed"):
                record["status"] = "fail"
                record["notes"].append("bad inputs: " + "; ".join(c["what"] for c in summary.get("cases", [])
                                                                  if not c.get("ok")))
    if p["fuzz_seconds"] and not procs.stopping():
        record["fuzz"] = _fuzz(p, folder, fuzz_session)
        if record["fuzz"].get("status") == "not_run":
            record["notes"].append(record["fuzz"]["note"])
            if record["crash"] is None and record["bad_inputs"] is None and record["status"] == "pass":
                record["status"] = "not_run"
        elif not record["fuzz"].get("ok"):
            record["status"] = "fail" if record["fuzz"].get("crashes") else "error"
            record["notes"].append(record["fuzz"].get("note") or f"fuzz: {record['fuzz'].get('crashes')} crashes")
    if procs.stopping():
        record["status"] = "not_run" if record["status"] == "pass" else record["status"]
        record["notes"].append("interrupted")
    record["wall_s"] = round(time.monotonic() - start, 1)
    record["summary"] = summary_of(record)
    return record


def _fuzz(p, folder, fuzz_session):
    """The fuzz session's dict; {"ok": False, "note": ...} when it cannot run."""
    if fuzz_session is None:
        try:
            from . import fuzzing
        except ImportError as error:
            return {"ok": False, "executions": 0, "crashes": 0, "note": f"fuzz: harness/runall/fuzzing.py: {error}"}
        fuzz_session = fuzzing.run_fuzz_session
        built = all(fuzzing.binary(checkers.ROOT, name).exists() for name in fuzzing.TARGETS)
        if not p["fuzz_build"] and not built:
            return {"ok": True, "status": "not_run", "executions": None, "crashes": None, "seconds": None,
                    "note": f"fuzz: not run: the fuzz preset is not built in {fuzzing.build_dir(checkers.ROOT)} and "
                            "fuzz_build is false (cmake --preset fuzz, or nightly, builds it)"}
    try:
        result = fuzz_session(checkers.ROOT, p["fuzz_seconds"], folder / "fuzz", log=str(folder / "fuzz.log"),
                              seed=p["seed"], do_build=p["fuzz_build"])
    except Exception as error:  # a broken session must not lose the crash trials' results
        return {"ok": False, "executions": 0, "crashes": 0, "note": f"fuzz: {type(error).__name__}: {error}"}
    return result


def summary_of(record):
    """The figures the report shows (null when that part did not run)."""
    crash, bad, fuzz = record.get("crash") or {}, record.get("bad_inputs") or {}, record.get("fuzz") or {}
    return {
        "faults_injected": crash.get("faults_injected"),
        "trials": crash.get("trials"),
        "trials_survived": crash.get("trials_survived"),
        "records_committed": crash.get("records_committed"),
        "records_lost": crash.get("lost"),
        "records_duplicated": crash.get("duplicated"),
        "half_written_seen": crash.get("half_written_seen"),
        "bad_inputs_tried": bad.get("tried"),
        "bad_inputs_failed": bad.get("failed"),
        "fuzz_executions": fuzz.get("executions") if record.get("fuzz") else None,
        "fuzz_crashes": fuzz.get("crashes") if record.get("fuzz") else None,
        "fuzz_seconds": fuzz.get("seconds") if record.get("fuzz") else None,
    }


def run_all(scenarios, run_dir, short=False, deadline=None, build_dir=None):
    """Every faults scenario in order; prints one line each; returns the records."""
    build_dir = build_dir or checkers.build_dir("release")
    records = []
    for scenario in scenarios:
        if procs.stopping():
            break
        record = run_scenario(scenario, run_dir, build_dir, short, deadline)
        print(f"  faults {record['status']:5} {scenario.group}: {describe(record['summary'])}  "
              f"{'; '.join(record['notes'])[:200]}".rstrip(), flush=True)
        records.append(record)
    return records


def describe(s):
    """The summary's figures in words, leaving out the parts this group did not run."""
    parts = []
    if s.get("trials") is not None:
        parts.append(f"{s['faults_injected']} faults injected, {s['trials_survived']}/{s['trials']} trials survived, "
                     f"{s['records_lost']} records lost")
    if s.get("bad_inputs_tried") is not None:
        parts.append(f"{s['bad_inputs_tried']} bad inputs")
    if s.get("fuzz_executions") is not None:
        parts.append(f"fuzz {s['fuzz_executions']} executions, {s['fuzz_crashes']} crashes")
    return ", ".join(parts) or "nothing ran"


def failed(records):
    return [r for r in records if r["status"] not in ("pass", "not_run")]
