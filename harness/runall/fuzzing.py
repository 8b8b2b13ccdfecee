"""Fuzz sessions: the libFuzzer targets of the `fuzz` preset and the live hostile-peer fuzzer, for a time budget.

    run_fuzz_session(repo_root, seconds, out_dir, log) -> dict

Builds the `fuzz` preset (build/fuzz, through build.build) when its binaries
are missing or stale, then gives each libFuzzer target its share of
`seconds` (-max_total_time, -print_final_stats=1 to count executions), and
runs the hostile-peer fuzzer (ringside-hostile-fuzz: a forked peer mutates a
ring's header, indices and record headers, and a tracer lane, while the
consumer, the producer and the tracer controller run) for its share. With
`canary` (default: on for sessions of 120 s or more, so `nightly` has it) it
also runs the canaries, built with one bounds check removed from
decode_record (RINGSIDE_FUZZ_CANARY_DROP_BOUNDS_CHECK): fuzz_record_canary
must crash within CANARY_LIMIT_S from an empty corpus, and
ringside-hostile-fuzz-canary must fail within HOSTILE_CANARY_LIMIT_S.

The returned dict (JSON-serialisable):
    seconds     wall time spent fuzzing (build excluded)
    executions  total inputs run (libFuzzer units + hostile-peer rounds' operations)
    crashes     findings: crashing inputs, sanitizer reports, broken promises, hangs (must be 0)
    targets     {name: {executions, crashes, seconds, exec_per_s, artifacts, status, log}}
    canary      None, or {caught (both), seconds_to_catch, limit_s, status, log, hostile: {caught, seconds_to_catch, ...}}
    build       the build step's record (or {"build": "skipped"})
    ok          True when it built, nothing crashed and the canary (when run) was caught
Artifacts (crashing inputs) go to out_dir/artifacts/, working corpora to
out_dir/corpus/<target>/ (seeded from fuzz/corpus/<target>/, which is never
modified), logs to out_dir/<target>.log.

`log` is a callable taking one line (e.g. print), a path to append to, or None.
"""

import json
import os
import re
import shutil
import time
from pathlib import Path

from . import build, procs

PRESET = "fuzz"
# Suggested session lengths: `test` runs a short one, `nightly` at least 10 minutes of fuzzing.
TEST_SECONDS = 30
NIGHTLY_SECONDS = 600
# libFuzzer targets and their options; every target gets an equal share.
TARGETS = {
    "fuzz_record": ["-max_len=4200"],
    "fuzz_region_open": ["-max_len=32768"],
    "fuzz_trace_reader": ["-max_len=16384"],
    "fuzz_capi": ["-max_len=4096"],
    "fuzz_tracer_drain": ["-max_len=2048"],
}
HOSTILE = "ringside_hostile_fuzz"       # CMake target; the binary is ringside-hostile-fuzz
HOSTILE_BINARY = "ringside-hostile-fuzz"
HOSTILE_SHARE = 0.2                      # of the session, at least HOSTILE_MIN_S
HOSTILE_MIN_S = 3
CANARY = "fuzz_record_canary"
HOSTILE_CANARY = "ringside_hostile_fuzz_canary"      # the hostile-peer fuzzer over a library without the check
HOSTILE_CANARY_BINARY = "ringside-hostile-fuzz-canary"
HOSTILE_CANARY_LIMIT_S = 60
# The canary must crash within this, from an empty corpus. Measured (2 vCPU Zen 5 KVM guest, shared, load
# 2-4): 0.6 to 11.0 s in 15 runs (median 3.6 s), 12k to 526k executions (fuzz/README.md).
CANARY_LIMIT_S = 120
CANARY_AUTO_S = 120                      # sessions this long run the canary by default
COMMON_ARGS = ["-print_final_stats=1", "-rss_limit_mb=2048", "-timeout=20", "-close_fd_mask=1"]
STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.MULTILINE)
ARTIFACT = re.compile(r"(?:crash|leak|oom|timeout|slow-unit)-[0-9a-f]+")
SCRATCH_ROOT = "/dev/shm"
# Names the fuzzers give their shm objects and scratch folders: /rsfuzz.open.<pid>, /rshostile.<pid>.<n>, ...
LEFTOVER = re.compile(r"^(rsfuzz\.[a-z]+|rshostile|rsfuzz-session)\.(\d+)(\..*)?$")


def build_dir(repo_root):
    """build/fuzz, or $RINGSIDE_FUZZ_BUILD_DIR (a tree configured with the fuzz preset elsewhere)."""
    override = os.environ.get("RINGSIDE_FUZZ_BUILD_DIR")
    return Path(override) if override else Path(repo_root) / "build" / PRESET


def binary(repo_root, name):
    return build_dir(repo_root) / "fuzz" / name


def ensure_built(repo_root, log=None, deadline=None):
    """Configures and builds the fuzz preset's targets (cmake decides what is stale). (ok, record)."""
    _say(log, f"fuzz: building preset {PRESET} in {build_dir(repo_root)}")
    hostile = [HOSTILE] if (Path(repo_root) / "fuzz" / "hostile").is_dir() else []
    ok, record = build.build(PRESET, targets=[*TARGETS, CANARY, *hostile, *([HOSTILE_CANARY] if hostile else [])],
                             deadline=deadline)
    return ok, record


def run_fuzz_session(repo_root, seconds, out_dir, log=None, canary=None, seed=1, do_build=True):
    """Fuzzes for about `seconds` (build time excluded); see the module docstring for the dict returned."""
    repo_root, out_dir = Path(repo_root), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "artifacts").mkdir(exist_ok=True)
    result = {"seconds": 0.0, "executions": 0, "crashes": 0, "targets": {}, "canary": None,
              "build": {"build": "skipped"}, "ok": False}
    if do_build:
        ok, result["build"] = ensure_built(repo_root, log)
        if not ok:
            _say(log, "fuzz: the fuzz preset did not build; no session")
            return result
    start = time.monotonic()
    hostile_s = max(HOSTILE_MIN_S, int(seconds * HOSTILE_SHARE))
    share = max(1, int((seconds - hostile_s) / len(TARGETS)))
    for name, args in TARGETS.items():
        if procs.stopping():
            break
        result["targets"][name] = run_target(repo_root, name, args, share, out_dir, log)
    if not procs.stopping():
        result["targets"]["hostile_peer"] = run_hostile(repo_root, hostile_s, seed, out_dir, log)
    if canary is None:
        canary = seconds >= CANARY_AUTO_S
    if canary and not procs.stopping():
        result["canary"] = run_canary(repo_root, out_dir, log)
    result["seconds"] = round(time.monotonic() - start, 1)
    result["executions"] = sum(t["executions"] for t in result["targets"].values())
    result["crashes"] = sum(t["crashes"] for t in result["targets"].values())
    result["ok"] = (result["crashes"] == 0 and all(t["status"] == "ok" for t in result["targets"].values())
                    and (result["canary"] is None or result["canary"]["caught"]))
    (out_dir / "fuzz.json").write_text(json.dumps(result, indent=2) + "\n")
    _say(log, f"fuzz: {result['executions']} executions, {result['crashes']} crashes in {result['seconds']} s"
              + (f"; canary caught in {result['canary']['seconds_to_catch']} s" if result["canary"]
                 and result["canary"]["caught"] else ("; canary NOT caught" if result["canary"] else "")))
    return result


def run_target(repo_root, name, args, seconds, out_dir, log, seeds=None, artifacts=None):
    """One libFuzzer target for `seconds`: {executions, crashes, seconds, exec_per_s, artifacts, status, log}."""
    exe = binary(repo_root, name)
    record = {"executions": 0, "crashes": 0, "seconds": 0.0, "exec_per_s": 0, "artifacts": [], "status": "not_run",
              "log": str(out_dir / f"{name}.log")}
    if not exe.exists():
        record["status"] = "missing"
        _say(log, f"fuzz: {exe} is missing")
        return record
    corpus = out_dir / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    seed_dir = Path(seeds) if seeds else Path(repo_root) / "fuzz" / "corpus" / name.removesuffix("_canary")
    prefix = Path(artifacts) if artifacts else out_dir / "artifacts"
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [exe, f"-max_total_time={seconds}", *COMMON_ARGS, *args, f"-artifact_prefix={prefix}/{name}-",
           corpus, *([seed_dir] if seed_dir.is_dir() else [])]
    start = time.monotonic()
    # Scratch files in RAM: the reader and C API targets write files per input (8x faster than /tmp on ext4).
    scratch = Path(SCRATCH_ROOT) / f"rsfuzz-session.{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        rc, text, ended = procs.run(cmd, env={"TMPDIR": scratch}, cwd=out_dir, log=record["log"],
                                    deadline=start + seconds + 60, quiet=log is None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        clean_leftovers()
    record["seconds"] = round(time.monotonic() - start, 1)
    stats = {k: int(v) for k, v in STAT.findall(text)}
    record["executions"] = stats.get("number_of_executed_units", 0)
    record["exec_per_s"] = stats.get("average_exec_per_sec", 0)
    record["artifacts"] = sorted(set(ARTIFACT.findall(text)))
    if ended != "exited":
        record["status"] = "hang" if ended == "deadline" else "interrupted"
        record["crashes"] = 1 if ended == "deadline" else 0
    elif rc != 0:
        record["status"] = "crash"
        record["crashes"] = max(1, len(record["artifacts"]))
    else:
        record["status"] = "ok"
    _say(log, f"fuzz: {name}: {record['status']}, {record['executions']} executions in {record['seconds']} s "
              f"({record['exec_per_s']}/s)")
    return record


def run_hostile(repo_root, seconds, seed, out_dir, log):
    """The live hostile-peer fuzzer for `seconds` (its JSON summary folded into a target record)."""
    exe = binary(repo_root, HOSTILE_BINARY)
    record = {"executions": 0, "crashes": 0, "seconds": 0.0, "exec_per_s": 0, "artifacts": [], "status": "not_run",
              "log": str(out_dir / "hostile_peer.log")}
    if not exe.exists():
        record["status"] = "missing"
        _say(log, f"fuzz: {exe} is missing")
        return record
    summary = out_dir / "hostile_peer.json"
    cmd = [exe, "--seconds", str(seconds), "--seed", str(seed), "--json", summary]
    start = time.monotonic()
    rc, _, ended = procs.run(cmd, cwd=out_dir, log=record["log"], deadline=start + seconds + 60, quiet=log is None)
    clean_leftovers()
    record["seconds"] = round(time.monotonic() - start, 1)
    data = json.loads(summary.read_text()) if summary.exists() else {}
    record["executions"] = int(data.get("operations", 0))
    record["exec_per_s"] = int(record["executions"] / record["seconds"]) if record["seconds"] else 0
    record["rounds"] = data.get("rounds", 0)
    record["corrupt_reported"] = data.get("corrupt_reported", 0)
    failures = data.get("failures", [])
    if ended != "exited":
        record["status"], record["crashes"] = ("hang", 1) if ended == "deadline" else ("interrupted", 0)
    elif rc != 0 or failures:
        record["status"], record["crashes"] = "crash", max(1, len(failures))
    else:
        record["status"] = "ok"
    _say(log, f"fuzz: hostile peer: {record['status']}, {record.get('rounds', 0)} rounds, "
              f"{record['corrupt_reported']} corruptions reported in {record['seconds']} s")
    return record


def run_canary(repo_root, out_dir, log, limit=CANARY_LIMIT_S):
    """The canary target must crash within `limit` s: {caught, seconds_to_catch, limit_s, status, log}."""
    folder = Path(out_dir) / "canary"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    # From an empty corpus, not the seeds: the fuzzer must find the bad record itself.
    empty = folder / "no-seeds"
    empty.mkdir()
    record = run_target(repo_root, CANARY, TARGETS["fuzz_record"], limit, folder, log, seeds=empty,
                        artifacts=folder / "artifacts")
    # A crash artifact (a memory error or a broken promise), not a timeout or an out-of-memory.
    caught = record["status"] == "crash" and any(a.startswith("crash-") for a in record["artifacts"])
    out = {"caught": caught, "seconds_to_catch": record["seconds"] if caught else None, "limit_s": limit,
           "executions": record["executions"], "status": "caught" if caught else f"missed ({record['status']})",
           "log": record["log"]}
    _say(log, f"fuzz: canary {CANARY}: " + (f"caught in {record['seconds']} s" if caught
                                              else f"NOT caught within {limit} s"))
    out["hostile"] = run_hostile_canary(repo_root, folder, log)
    out["caught"] = caught and out["hostile"]["caught"]
    return out


def run_hostile_canary(repo_root, folder, log, limit=HOSTILE_CANARY_LIMIT_S):
    """The hostile-peer fuzzer over the library without the bounds check must fail within `limit` s."""
    exe = binary(repo_root, HOSTILE_CANARY_BINARY)
    out = {"caught": False, "seconds_to_catch": None, "limit_s": limit, "status": "missing",
           "log": str(Path(folder) / "hostile_canary.log")}
    if not exe.exists():
        _say(log, f"fuzz: {exe} is missing")
        return out
    start = time.monotonic()
    cmd = [exe, "--seconds", str(limit), "--seed", "1", "--json", Path(folder) / "hostile_canary.json"]
    rc, _, ended = procs.run(cmd, cwd=folder, log=out["log"], deadline=start + limit + 30, quiet=log is None)
    clean_leftovers()
    elapsed = round(time.monotonic() - start, 1)
    out["caught"] = ended == "exited" and rc != 0
    out["seconds_to_catch"] = elapsed if out["caught"] else None
    out["status"] = "caught" if out["caught"] else f"missed ({ended}, exit {rc})"
    _say(log, f"fuzz: canary {HOSTILE_CANARY_BINARY}: " + (f"caught in {elapsed} s" if out["caught"]
                                                          else f"NOT caught within {limit} s"))
    return out


def clean_leftovers(places=(SCRATCH_ROOT, "/tmp")):
    """Removes shm objects and scratch folders of fuzzers whose process is gone (their names carry the pid)."""
    removed = []
    for place in places:
        try:
            names = os.listdir(place)
        except OSError:
            continue
        for name in names:
            match = LEFTOVER.match(name)
            if not match or _alive(int(match.group(2))):
                continue
            path = Path(place) / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(str(path))
    return removed


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _say(log, line):
    if log is None:
        return
    if callable(log):
        log(line)
    else:
        with open(log, "a") as out:
            out.write(line + "\n")


def create_parser():
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="session length (default 60)")
    parser.add_argument("--out", default="build/fuzz-session", help="output folder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--canary", action="store_true", help="also prove the canary is caught")
    parser.add_argument("--canary-only", action="store_true", help="only the canary check")
    parser.add_argument("--no-build", action="store_true")
    return parser


def main(argv=None):
    from .checkers import ROOT
    args = create_parser().parse_args(argv)
    if args.canary_only:
        if not args.no_build and not ensure_built(ROOT, print)[0]:
            return 1
        return 0 if run_canary(ROOT, Path(args.out), print)["caught"] else 1
    result = run_fuzz_session(ROOT, args.seconds, args.out, print, canary=args.canary or None, seed=args.seed,
                              do_build=not args.no_build)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
