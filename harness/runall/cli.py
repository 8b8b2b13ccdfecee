"""run_all.py's command line: create_parser() and the dispatch of each command."""

import argparse
import shutil
import sys
from pathlib import Path

from . import bootstrap, faults, jobs, matrix, nightly, nightstore, rules, shard, shm, store, testsuite

SCENARIOS = store.ROOT / "scenarios"
DEFAULT_SCENARIOS = SCENARIOS / "default.toml"
COMMANDS = ("run", "test", "nightly", "verdict", "history", "compare", "report", "list", "merge", "clean")


def create_parser():
    parser = argparse.ArgumentParser(
        prog="run_all.py",
        description="ringside: build, test and measure. Without a command: run (the default matrix).",
        epilog="Exit codes: 0 all good; 1 validation failures, checker findings, a broken canary or a failed "
               "build/test; 2 usage error; 3 regression (compare --fail-on-regression); 130 interrupted.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def selection(p, default_file):
        p.add_argument("--scenarios", metavar="FILE", type=Path, default=default_file,
                       help="scenario file (default: %(default)s)")
        p.add_argument("-k", "--filter", metavar="TEXT", help="only scenarios whose id, slug or group contains TEXT")
        p.add_argument("--variants", metavar="LIST", help="comma-separated builds to run the scenarios in, of release,asan,tsan,valgrind "
                       "(default: the variants each group names; instrumented ones validate only)")
        p.add_argument("--repetitions", type=int, metavar="N", help="repetitions of each timing scenario "
                       "(default: the file's, 5)")
        p.add_argument("--shard", metavar="K/N", help="run only shard K of N (balanced by estimated duration)")

    run = sub.add_parser("run", help="build, run the scenario matrix, write results and the report (default)")
    selection(run, DEFAULT_SCENARIOS)
    run.add_argument("--out", metavar="DIR", help="run folder (default: reports/runs/<UTC time>-<commit>)")
    run.add_argument("--no-build", action="store_true", help="use the build trees as they are")
    run.add_argument("--no-microbench", action="store_true", help="skip the Google Benchmark programs")
    run.add_argument("-v", "--verbose", action="store_true", help="echo every runner command on the terminal too")

    test = sub.add_parser("test", help="build each variant, run its tests, smoke scenarios under every checker, "
                                       "the canaries")
    test.add_argument("--variants", default=",".join(testsuite.VARIANTS),
                      help="comma-separated subset of: %(default)s")
    test.add_argument("--jobs", type=int, default=2, help="parallel build and test jobs")
    test.add_argument("-k", "--filter", metavar="REGEX", help="only tests matching (ctest -R); skips pytest, "
                      "smoke scenarios and canaries")
    test.add_argument("--keep-going", action="store_true", help="go on with the next variant after a failure")
    test.add_argument("--budget-minutes", type=float, default=testsuite.BUDGET_MINUTES,
                      help="stop everything after this long (default %(default)s)")
    test.add_argument("--no-smoke", action="store_true", help="skip the smoke scenarios and the canaries")

    nightly.add_parsers(sub, selection)

    compare = sub.add_parser("compare", help="compare two runs (reports package)")
    compare.add_argument("base", metavar="BASE")
    compare.add_argument("cand", metavar="CAND")
    compare.add_argument("--out", metavar="DIR", help="where the comparison report goes")
    compare.add_argument("--fail-on-regression", action="store_true", help="exit 3 on a significant regression")

    report = sub.add_parser("report", help="write a run's HTML report (reports package)")
    report.add_argument("run", metavar="RUN", help="a run folder (or reports/latest)")

    lst = sub.add_parser("list", help="print the expanded matrix and the estimated duration per phase")
    selection(lst, DEFAULT_SCENARIOS)
    lst.add_argument("--ids", action="store_true", help="print only the scenario ids")
    lst.add_argument("--nightly", action="store_true", help="the nightly job's matrix instead (both files)")

    merge = sub.add_parser("merge", help="combine the run folders of shards into one")
    merge.add_argument("runs", metavar="RUN", nargs="+")
    merge.add_argument("--out", metavar="DIR", help="merged run folder (default: a new one under reports/runs)")
    merge.add_argument("--store", metavar="DIR", help="merge into a new night of this results store (the shards "
                       "are copied into it)")

    clean = sub.add_parser("clean", help="remove run folders and regions left by dead runners")
    clean.add_argument("--keep", type=int, default=0, metavar="N", help="keep the N newest run folders")
    clean.add_argument("--builds", action="store_true", help="also remove build/ (every preset)")
    clean.add_argument("--store", metavar="DIR", help="instead: keep the --keep newest nights of this results store "
                       "(older ones but the newest two keep only results.json and the verdict)")
    return parser


def parse_variants(text):
    if not text:
        return None
    variants = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in variants if v not in matrix.VARIANTS]
    if unknown or not variants:
        raise ValueError(f"unknown variant(s): {', '.join(unknown) or '(none)'}; choose from "
                         f"{', '.join(matrix.VARIANTS)}")
    return variants


def job_from(args, microbench=True):
    variants = parse_variants(args.variants)
    shard_spec = shard.parse(args.shard) if args.shard else None
    if args.repetitions is not None and not 1 <= args.repetitions <= 100:
        raise ValueError("--repetitions must be 1..100")
    return jobs.Job(parts=[(args.scenarios, variants)], repetitions=args.repetitions, pattern=args.filter,
                    shard=shard_spec, out=getattr(args, "out", None), microbench=microbench,
                    verbose=getattr(args, "verbose", False), build=not getattr(args, "no_build", False))


def cmd_run(args):
    job = job_from(args, microbench=not args.no_microbench)
    code, _ = jobs.run(job)
    return code


def cmd_list(args):
    job = nightly.job(argparse.Namespace(repetitions=args.repetitions)) if args.nightly else job_from(args)
    items = jobs.expand(job)
    if args.ids:
        for sid in dict.fromkeys(i.scenario.id for i in items):
            print(sid)
        return 0
    rows, seen = [], {}
    for item in items:
        key = (item.scenario.id, item.variant)
        if key not in seen:
            seen[key] = [item.scenario.group, item.variant, item.scenario.kind, 0, 0.0, item.scenario.slug,
                         item.scenario.id]
            rows.append(seen[key])
        seen[key][3] += 1
        seen[key][4] += item.estimate_s
    rows += [[s.group, "release", s.kind, 1, faults.estimate_seconds(s.params), s.slug, s.id]
             for s in jobs.fault_scenarios(job)]
    head = ["group", "variant", "kind", "reps", "est", "scenario", "id"]
    table = [head] + [[g, v, k, str(n), f"{s:.1f}s", slug, sid[-10:]] for g, v, k, n, s, slug, sid in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print(f"\n{len(rows)} scenarios x variants, {len(items)} runs (repetitions interleaved per group), "
          f"on CPUs {','.join(map(str, rules.allowed_cpus()))}")
    phases = jobs.estimate_phases(items, job)
    print("\nestimated duration per phase:")
    for phase, seconds in phases.items():
        print(f"  {phase:22} {seconds / 60:6.1f} min")
    print(f"  {'total':22} {sum(phases.values()) / 60:6.1f} min")
    return 0


def cmd_merge(args):
    docs = []
    for run in args.runs:
        try:
            docs.append(store.load_results(run))
        except (OSError, ValueError) as error:
            print(f"error: {error}")
            return 2
    out, sources = nightly.merge_target(args)
    for doc, run in zip(docs, sources):
        source = Path(run) if Path(run).is_dir() else Path(run).parent
        store.rebase_files(doc, source, out)
    merged = store.merge(docs, sources)
    store.write_json(out / "results.json", merged)
    if not args.out and not getattr(args, "store", None):
        store.point_latest(out)
    print(f"merged {len(docs)} runs into {out / 'results.json'}"
          f"{'' if merged['merge_complete'] else ' (PARTIAL: not every shard of one split is here)'}")
    jobs.render_report(out)
    return 0


def cmd_clean(args):
    if getattr(args, "store", None):
        if args.keep < 1:
            raise ValueError("clean --store needs --keep N, N >= 1")
        nightstore.prune(args.store, args.keep)
        return 0
    runs = sorted(p for p in store.RUNS.glob("*") if p.is_dir()) if store.RUNS.exists() else []
    doomed = runs[:len(runs) - args.keep] if args.keep else runs
    for path in doomed:
        print(f"+ rm -rf {path}")
        shutil.rmtree(path, ignore_errors=True)
    if store.LATEST.is_symlink() and not store.LATEST.exists():
        store.LATEST.unlink()
    for path in sorted(shm._names(shm.PLACES)):
        pid = shm.creator_pid(path)
        if pid and shm.creator_alive(path) is False:
            print(f"+ rm {path}  (region of dead process {pid})")
            path.unlink(missing_ok=True)
    if args.builds:
        print(f"+ rm -rf {store.ROOT / 'build'}")
        shutil.rmtree(store.ROOT / "build", ignore_errors=True)
    return 0


def call_compare(base, cand, out, fail_on_regression):
    reports = jobs.import_reports()
    if isinstance(reports, ImportError):
        print(f"compare: the reports package cannot import {reports.name or reports}; nothing compared")
        return 2
    if reports is None or not hasattr(reports, "compare"):
        print("compare: the reports package is not built yet (reports.compare); nothing compared")
        return 2
    return int(reports.compare(str(base), str(cand), str(out) if out else None, fail_on_regression) or 0)


def cmd_compare(args):
    return call_compare(args.base, args.cand, args.out, args.fail_on_regression)


def cmd_report(args):
    reports = jobs.import_reports()
    if isinstance(reports, ImportError):
        print(f"report: the reports package cannot import {reports.name or reports}")
        return 2
    if reports is None or not hasattr(reports, "render_run"):
        print("report: the reports package is not built yet (reports.render_run)")
        return 2
    path = reports.render_run(str(args.run))
    print(f"report: {path}")
    return 0


def main(argv=None, script_argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = create_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]  # run is the default command
    args = parser.parse_args(argv)
    stop = bootstrap.prepare(args.command, script_argv or [sys.argv[0], *argv])
    if stop is not None:
        return stop
    handler = {"run": cmd_run, "nightly": nightly.cmd_nightly, "verdict": nightly.cmd_verdict,
               "history": nightly.cmd_history, "list": cmd_list, "merge": cmd_merge,
               "clean": cmd_clean, "compare": cmd_compare, "report": cmd_report}.get(args.command)
    try:
        if handler is None:
            return testsuite.cmd_test(args)
        return handler(args)
    except (ValueError, matrix.ScenarioFileError) as error:
        print(f"error: {error}")
        return 2
