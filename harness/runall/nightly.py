"""The nightly commands: `nightly` (run, then the verdict), `verdict` and `history` over a results store."""

import argparse
import dataclasses
import shutil
from pathlib import Path

from . import faults, jobs, nightstore, shard, store, verdict

SCENARIOS = store.ROOT / "scenarios"
TIMING_FILE = SCENARIOS / "nightly.toml"
CHECKED_FILE = SCENARIOS / "sanitize.toml"
CHECKED_VARIANTS = ["asan", "tsan", "valgrind"]
FAULTS_FILE = SCENARIOS / "faults.toml"   # crash trials, bad inputs, fuzzing: the long version (harness/runall/faults.py)
DEFAULT_STORE = store.REPORTS / "nightly"
MICROBENCH_S = 240.0  # the full microbenchmarks (jobs.estimate_phases)


def add_parsers(sub, selection):
    nightly = sub.add_parser("nightly", help="nightly.toml with repetitions, sanitize.toml under every checker, "
                                             "the canaries, full microbenchmarks; the verdict against a baseline")
    selection(nightly, None)
    for action in nightly._actions:
        if action.dest == "scenarios":
            action.help = "one scenario file instead of nightly.toml (release) and sanitize.toml (asan, tsan, valgrind)"
    nightly.add_argument("--out", metavar="DIR", help="run folder (default: a new night in --store, else "
                         "reports/runs/<UTC time>-<commit>)")
    nightly.add_argument("--store", metavar="DIR", help="results store: the run becomes a night in it, the newest "
                         "earlier passing night is the baseline, the history page covers the last --nights")
    nightly.add_argument("--baseline", metavar="RUN", help="a run folder to compare against (overrides the store's)")
    nightly.add_argument("--nights", type=int, default=verdict.HISTORY_NIGHTS, metavar="N",
                         help="nights on the history page (default %(default)s)")
    nightly.add_argument("--fail-on-regression", action="store_true", help="exit 3 when the verdict finds one")
    nightly.add_argument("--summary", metavar="FILE", help="also write the Markdown verdict here")
    nightly.add_argument("--no-build", action="store_true", help="use the build trees as they are")
    nightly.add_argument("--no-microbench", action="store_true", help="skip the Google Benchmark programs")
    nightly.add_argument("-v", "--verbose", action="store_true", help="echo every runner command on the terminal")

    judge = sub.add_parser("verdict", help="a run's verdict: its checks, the comparison with the baseline, the "
                                           "history; verdict.md in the run folder")
    judge.add_argument("run", metavar="RUN", nargs="?", help="a run folder (default: the store's newest night)")
    judge.add_argument("--store", metavar="DIR", help="results store for the baseline and the history")
    judge.add_argument("--baseline", metavar="RUN", help="a run folder to compare against (overrides the store's)")
    judge.add_argument("--nights", type=int, default=verdict.HISTORY_NIGHTS, metavar="N")
    judge.add_argument("--fail-on-regression", action="store_true", help="exit 3 on a regression")
    judge.add_argument("--summary", metavar="FILE", help="also write the Markdown verdict here")

    history = sub.add_parser("history", help="history.html: each headline metric over the store's last nights, "
                                             "with lasting steps and drifts")
    history.add_argument("--store", metavar="DIR", default=str(DEFAULT_STORE), help="results store (default %(default)s)")
    history.add_argument("--nights", type=int, default=verdict.HISTORY_NIGHTS, metavar="N")
    history.add_argument("--out", metavar="DIR", help="where history.html and history.md go (default: the store)")


def job(args):
    """The nightly Job: both files by default, or --scenarios FILE alone; --variants narrows either."""
    from .cli import parse_variants
    variants = parse_variants(getattr(args, "variants", None))
    scenarios = getattr(args, "scenarios", None)
    if scenarios:
        parts = [(scenarios, variants)]
    else:
        parts = [(TIMING_FILE, ["release"]), (CHECKED_FILE, CHECKED_VARIANTS)]
        if variants:
            parts = [(f, [v for v in vs if v in variants]) for f, vs in parts]
            parts = [(f, vs) for f, vs in parts if vs]
    repetitions = getattr(args, "repetitions", None)
    if repetitions is not None and not 1 <= repetitions <= 100:
        raise ValueError("--repetitions must be 1..100")
    shard_text = getattr(args, "shard", None)
    split = shard.parse(shard_text) if shard_text else None
    microbench = not getattr(args, "no_microbench", False)
    job = jobs.Job(parts=parts, repetitions=repetitions, pattern=getattr(args, "filter", None),
                   shard=split, out=getattr(args, "out", None),
                   # once per night: microbenchmarks on the last shard, fault scenarios on the first (jobs.py)
                   microbench=microbench and (split is None or split[0] == split[1]), microbench_quick=False,
                   verbose=getattr(args, "verbose", False), build=not getattr(args, "no_build", False),
                   faults=[] if scenarios or (variants and "release" not in variants) else [FAULTS_FILE])
    if split:
        job.shard_fixed = fixed_loads(job, split[1], microbench)
    return job


def fixed_loads(job, count, microbench):
    """{shard: seconds} the split must leave room for; the same on every shard, so every shard splits alike."""
    whole = dataclasses.replace(job, shard=None)
    loads = {1: sum(faults.estimate_seconds(s.params) for s in jobs.fault_scenarios(whole))}
    loads[count] = loads.get(count, 0.0) + (MICROBENCH_S if microbench else 0.0)
    return loads


def _positive(value, name):
    if value < 1:
        raise ValueError(f"{name} must be at least 1")


def _check_baseline(path):
    """ValueError unless `path` is a run folder (or its results.json): checked before a night is spent."""
    if path and not (Path(path) / "results.json").is_file() and not (Path(path).is_file() and
                                                                       Path(path).name == "results.json"):
        raise ValueError(f"--baseline {path}: not a run folder (no results.json there)")


def cmd_nightly(args):
    _positive(args.nights, "--nights")
    _check_baseline(args.baseline)
    if args.out and args.store:
        raise ValueError("--out and --store: give one (a store names the night's folder itself)")
    night = nightstore.new_night(args.store) if args.store else None
    the_job = job(argparse.Namespace(**{**vars(args), "out": str(night) if night else args.out}))
    code, run_dir = jobs.run(the_job)
    if run_dir is None:
        if night is not None:
            shutil.rmtree(night, ignore_errors=True)
        return code
    if code == jobs.EXIT_INTERRUPTED and not (run_dir / "results.json").exists():
        return code
    baseline = args.baseline or (nightstore.baseline_for(args.store, run_dir) if args.store else None)
    judged, text = verdict.decide(run_dir, baseline, args.store, args.nights, args.fail_on_regression)
    verdict.write_summary(text, args.summary)
    return code if code == jobs.EXIT_INTERRUPTED else judged


def cmd_verdict(args):
    _positive(args.nights, "--nights")
    _check_baseline(args.baseline)
    if not args.run and not args.store:
        raise ValueError("verdict needs RUN or --store")
    run = Path(args.run) if args.run else (nightstore.nights(args.store) or [None])[-1]
    if run is None or not (Path(run) / "results.json").is_file():
        raise ValueError(f"no run to judge: {run or 'the store ' + args.store + ' has no night'}")
    baseline = args.baseline or (nightstore.baseline_for(args.store, run) if args.store else None)
    code, text = verdict.decide(run, baseline, args.store, args.nights, args.fail_on_regression)
    verdict.write_summary(text, args.summary)
    return code


def cmd_history(args):
    _positive(args.nights, "--nights")
    nights = nightstore.nights(args.store)
    if not nights:
        raise ValueError(f"--store {args.store}: no night with a results.json in it")
    reports = jobs.import_reports()
    if reports is None or isinstance(reports, ImportError):
        print(f"history: the reports package is not usable ({reports})")
        return jobs.EXIT_USAGE
    out = Path(args.out or args.store)
    result = reports.history(nightstore.history(args.store, nights[-1], args.nights), out)
    print((out / "history.md").read_text().rstrip())
    print(f"history: {out / 'history.html'}")
    return jobs.EXIT_OK


def merge_target(args):
    """The merged run's folder, and the shard folders to merge (copied into it when it is a night in a store)."""
    if not getattr(args, "store", None):
        return store.new_run_dir(args.out), list(args.runs)
    if args.out:
        raise ValueError("--out and --store: give one (a store names the night's folder itself)")
    night = nightstore.new_night(args.store)
    copies = []
    for i, run in enumerate(args.runs, 1):
        source = Path(run) if Path(run).is_dir() else Path(run).parent
        target = night / "shards" / f"{i}-{source.name}"
        shutil.copytree(source, target, symlinks=True)
        copies.append(target)
    return night, copies
