"""Command line: `python3 -m reports report RUN` and `python3 -m reports compare BASE CAND` (run_all.py calls the API)."""

import argparse
import sys

from . import compare, render_run
from .results import METRICS, SchemaError


def threshold(text):
    metric, _, value = text.partition("=")
    if metric not in METRICS or not value:
        raise argparse.ArgumentTypeError(f"expected METRIC=FRACTION with METRIC one of {', '.join(METRICS)}")
    return metric, float(value)


def create_parser():
    parser = argparse.ArgumentParser(prog="python3 -m reports", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser("report", help="write index.html, one page per scenario and summary.md into RUN")
    report.add_argument("run", metavar="RUN")
    report.add_argument("--jobs", type=int, default=None, help="processes drawing detail pages (default: auto)")
    comp = sub.add_parser("compare", help="compare two runs: compare.html and compare.md; exit 3 on regression")
    comp.add_argument("base", metavar="BASE")
    comp.add_argument("cand", metavar="CAND")
    comp.add_argument("--out", metavar="DIR", help="default: CAND/compare")
    comp.add_argument("--fail-on-regression", action="store_true", help="exit 3 when a metric regressed")
    comp.add_argument("--threshold", type=threshold, action="append", default=[], metavar="METRIC=FRACTION",
                      help="noise threshold of one metric (default 0.05 each), e.g. --threshold max=0.25")
    return parser


def main(argv=None):
    args = create_parser().parse_args(argv)
    try:
        if args.command == "report":
            print(f"report: {render_run(args.run, jobs=args.jobs)}")
            return 0
        return compare(args.base, args.cand, args.out, args.fail_on_regression, dict(args.threshold))
    except (SchemaError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
