"""pytest setup for run_all.py's own tests: the runall package on sys.path, no library needed."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "harness"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def no_library_leaks():
    """Overrides tests/python/conftest.py's check: these tests never load libringside."""
    yield
