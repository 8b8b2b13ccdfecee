"""The run's verdict strip and provenance: validation, checkers, canaries, machine, scheduling grants."""

from dataclasses import dataclass, field

SANITIZERS = ("asan", "ubsan", "tsan", "msan")
LEAK_CHECKERS = ("lsan", "memcheck", "valgrind", "leak")
EXCERPT_LINES = 30


@dataclass
class Verdict:
    name: str
    state: str          # "pass", "fail", "not run"
    detail: str
    anchor: str
    items: list = field(default_factory=list)


def _kind(checker):
    name = str(checker.get("name") or checker.get("tool") or "").lower()
    if any(name.startswith(n) for n in LEAK_CHECKERS):
        return "leak"
    return "sanitizer" if any(name.startswith(n) for n in SANITIZERS) else "other"


def _checker_failed(checker):
    status = str(checker.get("status", "")).lower()
    return bool(checker.get("findings")) or status in ("fail", "failed", "error", "broken")


def validation(run):
    failed = [s for s in run.scenarios if not s.ok or s.validation_failures()]
    if not run.scenarios:
        return Verdict("validation", "not run", "no scenarios in this run", "validation")
    detail = (f"all {len(run.scenarios)} scenarios ran and every message checked" if not failed else
              f"{len(failed)} of {len(run.scenarios)} scenarios failed or lost, duplicated, reordered or "
              f"corrupted messages")
    return Verdict("validation", "fail" if failed else "pass", detail, "validation", failed)


def checker_verdict(run, kind, title):
    mine = [c for c in run.checkers if _kind(c) == kind]
    if not mine:
        return Verdict(title, "not run", f"no {title} in this run", "checkers")
    failed = [c for c in mine if _checker_failed(c)]
    names = ", ".join(str(c.get("name")) for c in mine)
    findings = sum(len(c.get("findings") or []) for c in mine)
    detail = f"{names}: clean" if not failed else f"{findings} finding(s) in {', '.join(str(c.get('name')) for c in failed)}"
    return Verdict(title, "fail" if failed else "pass", detail, "checkers", failed)


def canary_verdict(run):
    canaries = run.canaries
    if not canaries:
        return Verdict("canaries", "not run", "no canaries in this run: the checkers are unproven", "canaries")
    missed = [c for c in canaries if not c.get("caught")]
    detail = (f"all {len(canaries)} caught by their checkers" if not missed else
              f"{len(missed)} missed: a checker that cannot fail proves nothing (run broken)")
    return Verdict("canaries", "fail" if missed else "pass", detail, "canaries", missed)


def strip(run):
    return [validation(run), checker_verdict(run, "sanitizer", "sanitizers"),
            checker_verdict(run, "leak", "leak checkers"), canary_verdict(run)]


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
            side = where.rsplit(".", 1)[-1]
            requested, granted = _sched(grant.get("requested") or {}, "cpu"), _sched(grant, "cpus")
            if (side, requested, granted) in seen:
                continue
            seen.add((side, requested, granted))
            rows.append({"scenario": scenario.id, "side": side, "requested": requested, "granted": granted,
                         "refused": grant.get("refused") or ""})
    return rows


def provenance(run):
    env = run.environment
    rt = env.get("rt_throttling") or {}
    runtime = rt.get("sched_rt_runtime_us")
    throttle = ("unknown" if runtime is None else "off (sched_rt_runtime_us = -1)" if runtime == -1 else
                f"on: real-time threads get {runtime} of every {rt.get('sched_rt_period_us', '?')} us")
    steal = env.get("steal") or {}
    fraction = steal.get("steal_fraction")
    variants = sorted({s.variant for s in run.scenarios} | ({env["build_variant"]} if env.get("build_variant") else set()))
    clock = env.get("clock") or {}
    rows = [
        ("commit", f"{env.get('git_commit', 'unknown')}{' (dirty tree)' if env.get('git_dirty') else ''}"),
        ("build variant", ", ".join(variants) or "unknown"),
        ("compiler", " ".join(str(x) for x in (env.get("compiler"), env.get("flags")) if x) or "unknown"),
        ("kernel", env.get("kernel", "unknown")),
        ("CPU", f"{env.get('cpu_model', 'unknown')}; {env.get('cpus_online', '?')} online"
                f"{', under a hypervisor' if env.get('hypervisor') else ''}"),
        ("governor / SMT", f"{env.get('governor') or 'not readable'} / {_smt(env)}"),
        ("steal time", "not measured" if not steal else
         f"{steal.get('steal_ms', 0):.0f} ms ({fraction:.2%} of CPU time)" if fraction is not None else
         f"{steal.get('steal_ms', 0):.0f} ms"),
        ("real-time throttling", throttle),
        ("clock", f"{clock.get('source', 'unknown')}, resolution {clock.get('resolution_ns', '?')} ns, "
                  f"cost {clock.get('timer_cost_ns', '?')} ns" if clock else "unknown"),
    ]
    return rows


def _smt(env):
    smt = env.get("smt_active")
    return "not readable" if smt is None else ("active" if smt else "off")


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
