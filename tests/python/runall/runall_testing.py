"""Paths shared by run_all.py's tests (a plain module: `from conftest import` is ambiguous beside tests/python's)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FAKE_RUNNER = Path(__file__).resolve().parent / "fake_runner.py"
if str(ROOT / "harness") not in sys.path:
    sys.path.insert(0, str(ROOT / "harness"))
