"""pytest setup for run_all.py's own tests: the runall package on sys.path, no library needed."""

import pytest

import runall_testing  # noqa: F401  (puts harness/ on sys.path)


@pytest.fixture(autouse=True)
def no_library_leaks():
    """Overrides tests/python/conftest.py's check: these tests never load libringside."""
    yield
