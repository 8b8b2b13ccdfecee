"""Runs expanded scenarios: plans the interleaved order, drives the runner per repetition, collects findings."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from . import checkers, estimate, procs, rules, runner
from .matrix import VARIANTS
from .params import SCENARIO_SCHEMA, nest


@dataclass
class Item:
    scenario: object
    variant: str
    rep: int          # 1-based
    params: dict      # what this variant really runs
    estimate_s: float


def repetitions(scenario, variant, override=None):
    if variant != "release":
        return 1  # validation only: one run proves it
    if scenario.kind == "timing" and override:
        return override
    return scenario.repetitions


def plan(pairs, override=None, history=None):
    """Run order: variant by variant; in each, group by group, repetitions interleaved.

    Round r runs every scenario of a group once before round r+1 starts, so
    the repetitions of one scenario are spread over the group's time and each
    scenario sits next to the floors and peers of its group.
    """
    items = []
    for variant in VARIANTS:
        groups = {}
        for scenario, v in pairs:
            if v == variant and scenario.kind != "faults":  # faults scenarios: harness/runall/faults.py
                groups.setdefault(scenario.group, []).append(scenario)
        for members in groups.values():
            rounds = max(repetitions(s, variant, override) for s in members)
            for rep in range(1, rounds + 1):
                for s in members:
                    if rep <= repetitions(s, variant, override):
                        params = checkers.scale(s.params, variant)
                        seconds = estimate.run_seconds(s, variant, rules.resolve(params, rules.allowed_cpus()),
                                                       history)
                        items.append(Item(s, variant, rep, params, seconds))
    return items


def new_entry(scenario, variant):
    return {"id": scenario.id, "slug": scenario.slug, "group": scenario.group, "groups": list(scenario.groups),
            "params": scenario.params, "variant": variant, "kind": scenario.kind,
            "timing": variant == "release", "status": "not_run", "repetitions": []}


def not_run(item, note):
    return {"rep": item.rep, "status": "not_run", "note": note, "wall_s": None}


def run_one(item, run_dir, runner_path, verbose, tick=None, budget=None):
    """One repetition: spec -> runner (under its checker) -> a repetition record."""
    folder = Path(run_dir) / "scenarios" / item.variant / item.scenario.id
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"rep{item.rep}"
    spec = folder / f"{stem}.spec.json"
    spec.write_text(json.dumps({"schema": SCENARIO_SCHEMA, "id": item.scenario.id, **nest(item.params)},
                               indent=1) + "\n")
    if item.variant != "release":
        (folder / "effective_params.json").write_text(json.dumps(item.params, indent=1) + "\n")
    files = runner.outputs(folder / stem)
    log = folder / f"{stem}.log"
    cmd = checkers.wrapper(item.variant, folder, stem) + runner.command(runner_path, spec, folder / stem)
    env = checkers.environment(item.variant)
    with open(Path(run_dir) / "commands.log", "a") as commands:
        procs.echo(cmd, env, stream=commands)
    start = time.monotonic()
    deadline = start + item.params["timeout_s"] + 30
    if budget is not None:
        deadline = min(deadline, budget)
    rc, text, ended = procs.run(cmd, env=env, log=log, deadline=deadline, quiet=not verbose, tick=tick)
    record = {"rep": item.rep, "exit_code": rc, "wall_s": round(time.monotonic() - start, 3),
              "files": {k: str(v.relative_to(run_dir)) for k, v in {**files, "log": log, "spec": spec}.items()
                        if v.exists()}}
    record["findings"] = checkers.collect(item.variant, text, folder, stem, item.scenario.id,
                                          log.relative_to(run_dir))
    if ended == "interrupted":
        record.update(status="not_run", note="interrupted")
        return record
    if ended == "deadline":
        record.update(status="error", note=f"killed after {item.params['timeout_s'] + 30:.0f}s (outer watchdog)")
        return record
    try:
        result = runner.read_result(files["result"])
    except ValueError as error:
        record.update(status="error", note=str(error))
        return record
    if result is None:
        record.update(status="error", note=f"no result from the runner (exit {rc}); see {record['files'].get('log')}")
    else:
        record.update({k: result[k] for k in ("latency_ns", "latency_uncorrected_ns", "throughput", "cpu_ns_per_msg",
                                              "validation", "measured", "granted", "clock", "disturbance")})
        status = runner.EXIT_STATUS.get(rc, "error") if result["status"] is None else result["status"]
        if runner.validation_failed(result):
            status = "fail"
        record["status"] = status if status in ("pass", "fail") else "error"
        if result.get("error"):
            record["note"] = str(result["error"])
        record["runner_environment"] = result.get("environment")
    if record["findings"]:
        record["status"] = "findings"
    elif record["status"] == "pass" and rc not in (0, None):
        record.update(status="error", note=f"exit {rc} with a passing result")
    return record


def execute(items, run_dir, progress, verbose=False, budget=None):
    """Runs items in order; returns (entries, partial). Ctrl-C (or the budget, a monotonic deadline) leaves the rest not_run."""
    entries = {}
    runners = {v: runner.binary(checkers.build_dir(v)) for v in {i.variant for i in items}}
    partial = False
    for item in items:
        key = (item.scenario.id, item.variant)
        entry = entries.setdefault(key, new_entry(item.scenario, item.variant))
        label = f"{item.variant} {item.scenario.slug} rep {item.rep}"
        if procs.stopping():
            partial = True
            entry["repetitions"].append(not_run(item, "interrupted before it started"))
            continue
        if budget is not None and time.monotonic() >= budget:
            partial = True
            entry["repetitions"].append(not_run(item, "the time budget is spent"))
            continue
        if runners[item.variant] is None:
            record = not_run(item, f"{runner.TARGET} is not built in build/{item.variant}")
            record["status"] = "error"
        elif not checkers.available(item.variant):
            record = not_run(item, "valgrind is not installed")
            record["status"] = "error"
        else:
            progress.begin(label, item.estimate_s)
            record = run_one(item, run_dir, runners[item.variant], verbose, progress.tick, budget)
        partial |= record["status"] == "not_run"
        entry["repetitions"].append(record)
        progress.end(label, record["status"], record.get("wall_s") or 0, record.get("note", ""))
    return list(entries.values()), partial
