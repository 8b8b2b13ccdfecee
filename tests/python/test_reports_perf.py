"""A benchmark, not a unit test: a nightly-sized run (hundreds of scenarios,
5 repetitions, .hlog files) renders completely, and in under a minute of CPU.

It takes about two minutes, and speed targets do not belong in the default
test suite (a shared machine makes timed tests flaky), so it runs only when
asked for:

    RINGSIDE_REPORT_BENCH=1 /usr/bin/python3 -m pytest tests/python/test_reports_perf.py -s

The figures (wall and CPU seconds, load average, page size) are printed and
kept in the run folder's perf.json.
"""

import json
import os
import resource
import time

import pytest

import reports
from reports_fixtures import make_run, matrix, no_library_leaks, under_asan_preload  # noqa: F401
from reports_pages import check_page

BUDGET_S = 60.0


def cpu_seconds():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.mark.skipif(not os.environ.get("RINGSIDE_REPORT_BENCH"),
                    reason="a benchmark (about 2 min): set RINGSIDE_REPORT_BENCH=1 to run it")
@pytest.mark.skipif(under_asan_preload(), reason="timing under the ASan runtime preloaded says nothing")
def test_nightly_sized_run_renders_in_under_a_minute(tmp_path, record_property):
    run = tmp_path / "nightly"
    make_run(run, seed=11, size="nightly")
    wall, cpu = time.monotonic(), cpu_seconds()
    index = reports.render_run(run, jobs=1)
    wall, cpu = time.monotonic() - wall, cpu_seconds() - cpu
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    figures = {"scenarios": len(matrix("nightly")), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
               "load_average": float(load), "index_bytes": index.stat().st_size}
    (run / "perf.json").write_text(json.dumps(figures))
    record_property("render", figures)
    print(f"\nnightly-sized render: {figures}")
    assert check_page(index) == []
    assert sum(1 for _ in run.glob("scenario-*.html")) == len(matrix("nightly"))
    # CPU time, not wall time: the machine is shared, and others' load must not fail this test.
    assert cpu < BUDGET_S, figures
