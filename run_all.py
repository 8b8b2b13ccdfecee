#!/usr/bin/env python3
"""ringside's single entry point; the work is done by the runall package in harness/runall/.

    ./run_all.py            the main job: the default scenario matrix, results and report
    ./run_all.py test       every variant's tests, smoke scenarios under every checker, canaries
    ./run_all.py --help     every command
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "harness"))

from runall import cli  # noqa: E402

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:], [str(Path(__file__).resolve()), *sys.argv[1:]]))
