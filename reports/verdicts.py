"""The run's verdict strip and provenance: validation, checkers, canaries, machine, scheduling grants."""

import re
from dataclasses import dataclass, field

SANITIZERS = ("asan", "ubsan", "tsan", "msan")
LEAK_TOOLS = ("lsan", "memcheck", "valgrind")
EXCERPT_LINES = 30


@dataclass
class Verdict:
    name: str
    state: str          # "pass", "fail", "not run"
    detail: str
    anchor: str
    items: list = field(default_factory=list)


def checker_name(checker):
    return str(checker.get("tool") or checker.get("name") or "?").lower()


def _is_leak(finding):
    tool, kind = str(finding.get("tool", "")).lower(), str(finding.get("kind", "")).lower()
    return tool in LEAK_TOOLS or "leak" in kind


def _ran(checker):
    return str(checker.get("status", "")).lower() not in ("not_run", "not run", "skipped")


NOT_RUN = ("not_run", "partial")


def failed_scenarios(run):
    """Runs that failed, errored, or lost, duplicated, reordered or corrupted a message."""
    return [s for s in run.scenarios if (not s.ok and s.status not in NOT_RUN) or s.validation_failures()]


def unfinished_scenarios(run):
    return [s for s in run.scenarios if s.status in NOT_RUN and not s.validation_failures()]


def validation(run):
    failed, unfinished = failed_scenarios(run), unfinished_scenarios(run)
    ran = len(run.scenarios) - len([s for s in unfinished if s.status == "not_run"])
    if not run.scenarios or ran == 0:
        return Verdict("validation", "not run", "no scenario ran in this run", "validation")
    skipped = f"; {len(unfinished)} not (fully) run" if unfinished else ""
    if failed:
        return Verdict("validation", "fail", f"{len(failed)} of {len(run.scenarios)} scenario runs failed, errored, "
                       f"or lost, duplicated, reordered or corrupted messages{skipped}", "validation", failed)
    return Verdict("validation", "pass", f"every scenario that ran passed; every message checked{skipped}",
                   "validation")


def rep_notes(scenario):
    """The repetitions' notes, identical ones merged: 'rep 2-5: not_run: interrupted before it started'."""
    groups = {}
    for rep in scenario.repetitions:
        if rep.get("note"):
            groups.setdefault((rep.get("status"), rep["note"]), []).append(rep.get("rep", "?"))
    out = []
    for (status, note), reps in groups.items():
        numbers = [r for r in reps if isinstance(r, int)]
        span = (f"{numbers[0]}-{numbers[-1]}" if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1))
                else ", ".join(map(str, reps)))
        out.append(f"rep {span}: {status}: {note}")
    return out


def sanitizer_verdict(run):
    """ASan, UBSan, TSan: their findings other than leaks (LeakSanitizer has its own verdict)."""
    mine = [c for c in run.checkers if checker_name(c) in SANITIZERS and _ran(c)]
    if not mine:
        return Verdict("sanitizers", "not run", "no sanitizer build ran in this run", "checkers")
    findings = [f for c in mine for f in c.get("findings") or [] if not _is_leak(f)]
    unexplained = [c for c in mine if str(c.get("status")).lower() in ("fail", "error") and not c.get("findings")]
    names = ", ".join(sorted({checker_name(c) for c in mine}))
    if findings or unexplained:
        detail = f"{len(findings)} finding(s)" + (f"; {len(unexplained)} failed without a finding" if unexplained else "")
        return Verdict("sanitizers", "fail", f"{names}: {detail}", "checkers", findings)
    return Verdict("sanitizers", "pass", f"{names}: no findings", "checkers")


def leak_verdict(run):
    """LeakSanitizer (inside the asan build) and Valgrind memcheck (all of its findings)."""
    mine = [c for c in run.checkers if checker_name(c) in ("asan", "lsan", *LEAK_TOOLS) and _ran(c)]
    if not mine:
        return Verdict("leak checkers", "not run", "no LeakSanitizer or memcheck run in this run", "checkers")
    findings = [f for c in mine for f in c.get("findings") or []
                if _is_leak(f) or checker_name(c) in ("memcheck", "valgrind")]
    names = ", ".join(sorted({"lsan" if checker_name(c) == "asan" else checker_name(c) for c in mine}))
    if findings:
        return Verdict("leak checkers", "fail", f"{names}: {len(findings)} finding(s)", "checkers", findings)
    return Verdict("leak checkers", "pass", f"{names}: no findings", "checkers")


def canary_ok(canary):
    return bool(canary.get("ok", canary.get("caught")))


def canary_verdict(run):
    canaries = run.canaries
    if not canaries:
        return Verdict("canaries", "not run", "no canaries in this run: the checkers are unproven", "canaries")
    missed = [c for c in canaries if not canary_ok(c)]
    checked = [c for c in canaries if c.get("checker")]
    if missed:
        return Verdict("canaries", "fail", f"{len(missed)} of {len(canaries)} not as expected: a checker that "
                       f"cannot fail proves nothing (run broken)", "canaries", missed)
    if not checked:
        return Verdict("canaries", "not run", f"only native runs ({len(canaries)}, all exit 0): no checker was "
                       f"put to the test in this run", "canaries")
    return Verdict("canaries", "pass", f"{len(checked)} caught by their checkers; {len(canaries) - len(checked)} "
                   f"native runs exit 0", "canaries")


def faults_verdict(run):
    """Crash trials, bad inputs and fuzzing: records lost and fuzz crashes must be 0."""
    records = run.faults
    if not records:
        return None
    total = {}
    for f in records:
        for key, value in (f.get("summary") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    bad = [f for f in records if f.get("status") not in ("pass", "not_run")]
    detail = (f"{total.get('faults_injected', 0)} faults injected, {total.get('trials_survived', 0)} of "
              f"{total.get('trials', 0)} trials survived, {total.get('records_lost', 0)} records lost, "
              f"{total.get('bad_inputs_tried', 0)} bad inputs tried, {total.get('fuzz_executions', 0)} fuzz "
              f"executions, {total.get('fuzz_crashes', 0)} crashes")
    if bad:
        detail += "; not ok: " + ", ".join(str(f.get("group")) for f in bad)
    return Verdict("faults", "fail" if bad else "pass", detail, "faults", bad)


def tests_verdict(run):
    """run_all.py test's own table (environment.test_summary), when this run is a test run."""
    rows = [r for r in run.environment.get("test_summary") or [] if isinstance(r, dict)]
    if not rows:
        return None
    bad = [r for r in rows if not r.get("ok")]
    passed, failed = sum(r.get("passed") or 0 for r in rows), sum(r.get("failed") or 0 for r in rows)
    detail = f"{passed} passed, {failed} failed over {len(rows)} variant(s)"
    if bad:
        detail += "; not ok: " + ", ".join(str(r.get("variant")) for r in bad)
    return Verdict("test suite", "fail" if bad else "pass", detail, "tests", bad)


def strip(run):
    verdicts = [validation(run), sanitizer_verdict(run), leak_verdict(run), canary_verdict(run), faults_verdict(run),
                tests_verdict(run)]
    return [v for v in verdicts if v is not None]


def _sched(block, cpu_key):
    policy = block.get("policy", "?")
    level = f" {block.get('priority')}" if policy in ("fifo", "rr") else (
        f" nice {block.get('nice')}" if block.get("nice") else "")
    cpus = block.get(cpu_key)
    where = "" if cpus in (None, -1, []) else f" on cpu {cpus if not isinstance(cpus, list) else ','.join(map(str, cpus))}"
    return f"{policy}{level}{where}"


def grant_mismatches(run):
    """Rows (scenario, where, requested, granted, refused) for every read-back that differs from the request."""
    rows = []
    for scenario in run.scenarios:
        seen = set()
        for where, grant in scenario.grants():
            if grant.get("as_requested", True):
                continue
            side = re.sub(r"\[\d+\]", "", where.rsplit(".", 1)[-1])
            requested, granted = _sched(grant.get("requested") or {}, "cpu"), _sched(grant, "cpus")
            if (side, requested, granted) in seen:
                continue
            seen.add((side, requested, granted))
            rows.append({"scenario": scenario.key, "side": side, "requested": requested, "granted": granted,
                         "refused": grant.get("refused") or ""})
    return rows


def steal(run):
    """(total steal ms, largest steal fraction, the scenario where it was largest) over every repetition."""
    total, worst, where = 0.0, None, None
    for scenario in run.scenarios:
        for rep in scenario.repetitions:
            block = ((rep.get("disturbance") or {}).get("steal")) or {}
            total += block.get("steal_ms") or 0.0
            fraction = block.get("steal_fraction")
            if isinstance(fraction, (int, float)) and (worst is None or fraction > worst):
                worst, where = fraction, scenario.key
    if worst is None:
        block = run.setting("steal") or {}
        return block.get("steal_ms"), block.get("steal_fraction"), None
    return total, worst, where


def rt_throttling(run):
    runtime = run.setting("sched_rt_runtime_us")
    period = None
    block = run.setting("rt_throttling") or {}
    if runtime is None:
        runtime = block.get("sched_rt_runtime_us")
    period = block.get("sched_rt_period_us") or 1000000
    try:
        runtime = int(runtime)
    except (TypeError, ValueError):
        return "unknown (sched_rt_runtime_us not readable)"
    if runtime < 0:
        return "off (sched_rt_runtime_us = -1): a real-time spinner can starve its core"
    return f"on: real-time threads may use {runtime} us of every {period} us, then are throttled"


def provenance(run):
    commit = run.setting("git_commit") or "unknown"
    variants = sorted({s.variant for s in run.scenarios}) or [run.setting("build_variant") or "unknown"]
    compiler = str(run.setting("compiler") or "")
    version = str(run.setting("compiler_version") or "")
    compiler = f"{compiler} {version}".strip() if version not in compiler else compiler
    total, worst, where = steal(run)
    clock = run.setting("clock") or next((r.get("clock") for s in run.scenarios for r in s.repetitions
                                          if r.get("clock")), {})
    memcpy = run.memcpy_bytes_per_s()
    rows = [
        ("commit", f"{commit}{' (dirty tree)' if run.setting('git_dirty') else ''}"),
        ("build variants", ", ".join(variants) + " (timing only from release)"),
        ("compiler", f"{compiler or 'unknown'}; flags: {run.setting('flags') or 'unknown'}"),
        ("kernel", run.setting("kernel") or "unknown"),
        ("CPU", f"{run.setting('cpu_model') or 'unknown'}; {run.setting('cpus_online') or '?'} online, allowed "
                f"{run.setting('cpus_allowed')}{', under a hypervisor' if run.setting('hypervisor') else ''}"),
        ("governor / SMT", f"{run.setting('governor') or 'not readable'} / {_smt(run)}"),
        ("steal time", "not measured" if total is None else
         f"{total:.0f} ms in all; worst {worst:.2%} of CPU time in {where}" if where else
         f"{total:.0f} ms" + (f" ({worst:.2%})" if worst is not None else "")),
        ("real-time throttling", rt_throttling(run)),
        ("clock", ", ".join([clock.get("source", "unknown")] + [
            f"{label} {_g(clock[key])} ns" for key, label in (("resolution_ns", "resolution"),
                                                           ("timer_cost_ns", "read cost"),
                                                           ("record_cost_ns", "recording a sample"))
            if isinstance(clock.get(key), (int, float))]) if clock else "unknown"),
        ("memcpy bandwidth", f"{memcpy / 1e9:.1f} GB/s" if memcpy else "not measured in this run"),
        ("host", f"{run.setting('hostname') or '?'}; started {run.setting('started_utc') or '?'}"),
    ]
    return rows


def _g(value):
    return f"{value:.3g}" if isinstance(value, (int, float)) else "?"


def _smt(run):
    smt = run.setting("smt")
    if smt is None:
        smt = run.setting("smt_active")
    return "not readable" if smt is None else ("active" if str(smt) in ("1", "True", "true") else "off")


def log_excerpt(run, finding):
    """Up to EXCERPT_LINES lines of the finding's log, starting near its message."""
    if finding.get("excerpt"):
        return str(finding["excerpt"])
    name = finding.get("log")
    if not name:
        return ""
    path = run.path / name
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(log not readable: {error})"
    message = str(finding.get("message") or "")
    start = next((i for i, line in enumerate(lines) if message and message in line), 0)
    return "\n".join(lines[max(0, start - 2):start + EXCERPT_LINES])
