"""The valgrind variant's tests: one valgrind per gtest binary instead of one per test case.

gtest_discover_tests registers every gtest case as its own ctest test, so
`ctest -T memcheck` starts valgrind (about 2.5 s of start-up) once per case.
Here the tests ctest would run are listed with `ctest --show-only=json-v1`
and the same selection options (-L, -LE, -R), the gtest cases are grouped by
executable (and by arguments, working directory and environment), and each
group runs once under valgrind with the MEMORYCHECK options of the build's
CMake cache and `--gtest_filter=<its cases joined by ':'>`; `jobs` groups at
a time, groups with a RUN_SERIAL case alone.

Results stay per case, read from `--gtest_output=json:` (from the console
output when a crash or timeout left no JSON). Strictness matches one ctest
test per case:
  - a case gtest did not finish (crash, timeout) failed;
  - valgrind errors in the test process's own log (its ERROR SUMMARY), or a
    non-zero exit with no failed case (a crash after the last case), fail
    every case of the group that gtest passed; every log of that run with
    errors is printed, as `ctest -T memcheck` runs print theirs;
  - DISABLED cases are not run and count as skipped, like ctest's
    "Not Run (Disabled)"; GTEST_SKIP cases count as skipped.
A test that is not a plain gtest case (an example, a script, or a case with
a property this module does not model, such as WILL_FAIL or a custom
SKIP_REGULAR_EXPRESSION) still runs through `ctest -T memcheck -R ^(names)$`.
"""

import json
import os
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import procs

TIMEOUT_CAP_SECONDS = 1800  # a group's timeout: the sum of its cases' TIMEOUTs, at most this
GTEST_SKIP_REGEX = ["\\[  SKIPPED \\]"]  # what gtest_discover_tests sets as SKIP_REGULAR_EXPRESSION
# Properties a grouped run reproduces; a test with any other runs through ctest.
MODELLED = {"LABELS", "TIMEOUT", "WORKING_DIRECTORY", "ENVIRONMENT", "RUN_SERIAL", "DISABLED", "COST",
            "PROCESSORS", "SKIP_REGULAR_EXPRESSION", "ENVIRONMENT_MODIFICATION"}
ERRORS = re.compile(r"ERROR SUMMARY: [1-9]")
CONSOLE_RESULT = re.compile(r"^\[\s+(OK|FAILED|SKIPPED)\s+\] ([^\s,]+)(?:, where .*)? \(\d+ ms\)$", re.MULTILINE)
CONSOLE_STATUS = {"OK": "passed", "FAILED": "failed", "SKIPPED": "skipped"}


@dataclass
class Group:
    """One valgrind run: cases of one executable sharing arguments, directory and environment."""
    exe: str
    args: tuple
    cwd: str
    env: tuple                                   # (name, value) pairs from ENVIRONMENT
    cases: list = field(default_factory=list)    # gtest names, the --gtest_filter of each ctest test
    timeout: float = 0.0
    serial: bool = False


@dataclass
class Outcome:
    """What one group's run gave: per case "passed"/"failed"/"skipped", and why the run failed."""
    group: Group
    cases: dict
    problem: str = ""                            # "" when the run itself was clean
    logs: list = field(default_factory=list)     # valgrind logs with errors
    output: str = ""
    seconds: float = 0.0
    command: list = field(default_factory=list)


# ---- what ctest would run ----------------------------------------------------

def option(cmd, name, default=None):
    """The value after `name` in a command line (the last one), or default."""
    cmd = [str(c) for c in cmd]
    values = [cmd[i + 1] for i, c in enumerate(cmd[:-1]) if c == name]
    return values[-1] if values else default


def selection(ctest_cmd):
    """The test-selecting options (-L, -LE, -R) of a ctest command line, in order."""
    cmd = [str(c) for c in ctest_cmd]
    out = []
    for i, c in enumerate(cmd[:-1]):
        if c in ("-L", "-LE", "-R"):
            out += [c, cmd[i + 1]]
    return out


def list_tests(ctest_cmd):
    """The tests ctest_cmd would run: ctest --show-only=json-v1 with the same directory and selection."""
    cmd = ["ctest", "--test-dir", option(ctest_cmd, "--test-dir"), "--show-only=json-v1", *selection(ctest_cmd)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["tests"]


def properties(test):
    return {p["name"]: p["value"] for p in test.get("properties", [])}


def gtest_filter(test):
    """The gtest name of a test that runs exactly one gtest case, else None."""
    filters = [a for a in test.get("command", [])[1:] if a.startswith("--gtest_filter=")]
    return filters[0].split("=", 1)[1] if len(filters) == 1 else None


def groupable(test):
    props = properties(test)
    return (gtest_filter(test) is not None and set(props) <= MODELLED
            and props.get("SKIP_REGULAR_EXPRESSION", GTEST_SKIP_REGEX) == GTEST_SKIP_REGEX
            and not props.get("ENVIRONMENT_MODIFICATION"))


def plan(tests, default_timeout):
    """(groups, disabled gtest names, names of the tests left to ctest) for ctest's JSON test list."""
    groups, disabled, others = {}, [], []
    for test in tests:
        if not groupable(test):
            others.append(test["name"])
            continue
        props = properties(test)
        name = gtest_filter(test)
        if props.get("DISABLED"):
            disabled.append(name)
            continue
        exe, *args = test["command"]
        args = tuple(a for a in args if not a.startswith("--gtest_filter="))
        env = tuple(tuple(e.split("=", 1)) for e in props.get("ENVIRONMENT", []))
        # gtest reads the first '-' of a filter as the start of its negative patterns:
        # a name with one cannot share a joined filter.
        key = (exe, args, props.get("WORKING_DIRECTORY", ""), env, name if "-" in name else "")
        group = groups.setdefault(key, Group(exe, args, key[2], env))
        group.cases.append(name)
        group.timeout = min(TIMEOUT_CAP_SECONDS, group.timeout + float(props.get("TIMEOUT") or default_timeout))
        group.serial = group.serial or bool(props.get("RUN_SERIAL"))
    return list(groups.values()), disabled, others


# ---- valgrind -----------------------------------------------------------------

def cache_values(build_dir):
    """MEMORYCHECK_* entries of build_dir/CMakeCache.txt."""
    out = {}
    for line in (Path(build_dir) / "CMakeCache.txt").read_text(errors="replace").splitlines():
        m = re.match(r"(MEMORYCHECK_\w+):[A-Z]+=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def valgrind_prefix(build_dir, log_pattern):
    """The valgrind command ctest -T memcheck uses for this build, logging to log_pattern."""
    cache = cache_values(build_dir)
    cmd = [cache.get("MEMORYCHECK_COMMAND") or "valgrind", f"--log-file={log_pattern}",
           *cache.get("MEMORYCHECK_COMMAND_OPTIONS", "").split()]
    if cache.get("MEMORYCHECK_SUPPRESSIONS_FILE"):
        cmd.append(f"--suppressions={cache['MEMORYCHECK_SUPPRESSIONS_FILE']}")
    return cmd


def gtest_results(json_path, output):
    """gtest name -> "passed"/"failed"/"skipped" for the cases that finished."""
    try:
        doc = json.loads(Path(json_path).read_text())
    except (OSError, ValueError):
        doc = None
    if doc is None:  # no JSON (crash, timeout): what the console shows as finished
        return {name: CONSOLE_STATUS[word] for word, name in CONSOLE_RESULT.findall(output)}
    out = {}
    for suite in doc.get("testsuites", []):
        for case in suite.get("testsuite", []):
            name = f"{suite['name']}.{case['name']}"
            if case.get("failures"):
                out[name] = "failed"
            elif case.get("result") == "SKIPPED":
                out[name] = "skipped"
            elif case.get("status") == "RUN" and case.get("result") == "COMPLETED":
                out[name] = "passed"
    return out


def main_log(logs, parent_pid):
    """The log of the process we started (its parent is us), not of a child it forked."""
    for log in logs:
        if re.search(rf"^==\d+== Parent PID: {parent_pid}$", log.read_text(errors="replace"), re.MULTILINE):
            return log
    return None


def judge(group, rc, ended, results, logs, parent_pid=None):
    """Outcome fields (cases, problem, logs with errors) of one finished run."""
    cases = {name: results.get(name, "failed") for name in group.cases}
    with_errors = [log for log in logs if ERRORS.search(log.read_text(errors="replace"))]
    own = main_log(logs, os.getpid() if parent_pid is None else parent_pid)
    problem = ""
    if ended == "deadline":
        problem = "timed out"
    elif ended != "exited":
        problem = ended
    elif own is not None and own in with_errors:
        problem = "valgrind errors"
    elif rc != 0 and "failed" not in cases.values():
        problem = f"exited {rc} with no failed case"
    unfinished = [name for name in group.cases if name not in results]
    if unfinished and not problem:
        problem = f"exited {rc}, {len(unfinished)} selected case(s) did not finish"
    elif unfinished:
        problem += f", {len(unfinished)} selected case(s) did not finish"
    if problem.startswith("valgrind errors") or problem.endswith("with no failed case"):
        cases = {name: "failed" if status == "passed" else status for name, status in cases.items()}
    return cases, problem, with_errors


def run_group(group, index, build_dir, log_dir, deadline):
    stem = f"{index:02d}.{Path(group.exe).name}"
    json_path = Path(log_dir) / f"{stem}.gtest.json"
    for old in [json_path, *Path(log_dir).glob(f"{stem}.memcheck.*.log")]:
        old.unlink(missing_ok=True)
    cmd = [*valgrind_prefix(build_dir, f"{log_dir}/{stem}.memcheck.%p.log"), group.exe, *group.args,
           "--gtest_filter=" + ":".join(group.cases), f"--gtest_output=json:{json_path}"]
    start = time.monotonic()
    try:
        rc, output, ended = procs.run(cmd, env=dict(group.env), cwd=group.cwd or None,
                                      log=Path(log_dir) / f"{stem}.out", quiet=True,
                                      deadline=min(deadline, start + group.timeout))
    except procs.Interrupted:
        rc, output, ended = None, "", "interrupted"
    except OSError as error:  # no such executable or working directory
        rc, output, ended = None, "", f"not started: {error}"
    if ended == "deadline" and time.monotonic() >= deadline:
        ended = "budget spent"
    logs = sorted(Path(log_dir).glob(f"{stem}.memcheck.*.log"))
    cases, problem, with_errors = judge(group, rc, ended, gtest_results(json_path, output), logs)
    return Outcome(group, cases, problem, with_errors, output, time.monotonic() - start, cmd)


def report(outcome, number, total, say):
    counts = {s: sum(v == s for v in outcome.cases.values()) for s in ("passed", "failed", "skipped")}
    status = "Passed" if not outcome.problem and not counts["failed"] else f"***Failed {outcome.problem}".rstrip()
    say(f"{number:3d}/{total} MemCheck {Path(outcome.group.exe).name} ({len(outcome.cases)} cases: "
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped) "
        f"{status}  {outcome.seconds:.1f} sec")
    if status == "Passed":
        return
    say("+ " + " ".join(str(c) for c in outcome.command))
    say(outcome.output.rstrip())
    for name, result in outcome.cases.items():
        if result == "failed":
            say(f"    failed: {name}")
    for log in outcome.logs:
        say(f"---- {log} ----")
        say(log.read_text(errors="replace").rstrip())


def run(ctest_cmd, jobs, deadline, log_dir, count_ctest, run_ctest):
    """(rc, (passed, failed, skipped)) for the tests ctest_cmd (a `ctest -T memcheck` line) selects.

    rc is 0 when everything passed, None when the deadline stopped it, else 1.
    count_ctest and run_ctest are testsuite's count_results and run, for the
    tests left to ctest.
    """
    build_dir = option(ctest_cmd, "--test-dir")
    default_timeout = float(option(ctest_cmd, "--timeout", 1500))
    log_dir = Path(log_dir) / "memcheck"
    log_dir.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    summary = open(Path(log_dir).parent / "memcheck-valgrind.log", "w")

    def say(text):
        with lock:
            print(text, flush=True)
            summary.write(text + "\n")

    groups, disabled, others = plan(list_tests(ctest_cmd), default_timeout)
    say(f"memcheck: {sum(len(g.cases) for g in groups)} gtest cases in {len(groups)} valgrind runs, "
        f"{len(disabled)} disabled, {len(others)} other tests through ctest")
    outcomes, done = [], [0]

    def work(pair):
        index, group = pair
        outcome = run_group(group, index, build_dir, log_dir, deadline)
        with lock:
            done[0] += 1
            number = done[0]
        report(outcome, number, len(groups), say)
        return outcome

    numbered = list(enumerate(groups, 1))
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        outcomes += pool.map(work, [p for p in numbered if not p[1].serial])
    outcomes += map(work, [p for p in numbered if p[1].serial])
    passed = sum(v == "passed" for o in outcomes for v in o.cases.values())
    failed = sum(v == "failed" for o in outcomes for v in o.cases.values())
    skipped = sum(v == "skipped" for o in outcomes for v in o.cases.values()) + len(disabled)
    budget_hit = any(o.problem == "budget spent" for o in outcomes)
    rc = 0 if all(not o.problem for o in outcomes) and not failed else 1
    if others:
        cmd = [str(c) for c in ctest_cmd]
        cmd = [c for i, c in enumerate(cmd) if c != "-R" and (i == 0 or cmd[i - 1] != "-R")]
        cmd += ["-R", "^(" + "|".join(re.escape(n) for n in others) + ")$"]
        ctest_rc, output = run_ctest(cmd, deadline, capture=True, log=Path(log_dir).parent / "ctest-valgrind.log")
        p, f, s = count_ctest(output)
        passed, failed, skipped = passed + p, failed + f, skipped + s
        budget_hit = budget_hit or ctest_rc is None
        rc = rc or (0 if ctest_rc == 0 else 1)
    say(f"memcheck: {passed} passed, {failed} failed, {skipped} skipped")
    summary.close()
    return (None if budget_hit else rc), (passed, failed, skipped)
