"""pytest setup for the Python host: imports src/python, checks every test leaves no allocation or name behind."""

import gc
import itertools
import os

import pytest

import ringside_testing  # noqa: F401  (puts src/python on sys.path)

import ringside  # noqa: E402

_names = itertools.count()
SHM_PREFIX = f"ringside-pytest.{os.getpid()}."


def pytest_configure(config):
    config.addinivalue_line("markers", "library: a test of the Python host that runs libringside "
                                       "(run_all.py runs only these under ASan)")


def pytest_report_header(config):
    try:
        return f"ringside: {ringside.library_path()} (version {ringside.version()})"
    except ringside.LibraryNotFoundError as error:
        return f"ringside: NOT FOUND\n{error}"


@pytest.fixture
def shm_name():
    """A fresh '/ringside-pytest.<pid>.<n>' name; the autouse check fails the test if it is left in /dev/shm."""
    return f"/{SHM_PREFIX}{next(_names)}"


def _leftover_names():
    try:
        return sorted(n for n in os.listdir("/dev/shm") if n.startswith(SHM_PREFIX))
    except FileNotFoundError:
        return []


@pytest.fixture(autouse=True)
def no_library_leaks(request):
    """rs_debug_allocation_count and /dev/shm are back where they were after every `library` test.

    Other suites that share tests/python (reports, run_all's own tests) are left alone.
    """
    if request.node.get_closest_marker("library") is None:
        yield
        return
    before = ringside.allocation_count()
    yield
    gc.collect()  # finalizers of objects a failing test dropped without closing
    after = ringside.allocation_count()
    assert after == before, f"library allocations: {before} before the test, {after} after"
    leftovers = _leftover_names()
    for name in leftovers:
        ringside.Region.unlink("/" + name)
    assert not leftovers, f"shm names left behind: {leftovers}"


@pytest.fixture
def region(shm_name):
    with ringside.Region.create(shm_name, ring_count=2, ring_capacity=64 * 1024) as region:
        yield region


@pytest.fixture
def lib():
    return ringside.lib()
