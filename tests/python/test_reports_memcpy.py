"""The throughput plot's hardware reference: memcpy bytes/s per payload size (ringside_memcpy_bench), with ratios."""

import json

import pytest

from reports_fixtures import make_run, no_library_leaks  # noqa: F401  (first: puts the repository on sys.path)

from reports import sweep_plots  # noqa: E402
from reports.results import load_run  # noqa: E402


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("memcpy")
    make_run(path, size="tiny", repetitions=2)
    return path


def _with_memcpy_rows(run_dir, rows):
    path = run_dir / "results.json"
    doc = json.loads(path.read_text())
    doc["microbench"]["benchmarks"] += rows
    path.write_text(json.dumps(doc))
    return load_run(run_dir)


def test_memcpy_rows_become_a_reference_per_payload_and_ringside_gets_its_ratio(tiny_run):
    run = _with_memcpy_rows(tiny_run, [
        {"program": "ringside_memcpy_bench", "name": f"memcpy/{size}", "aggregate": None, "bytes_per_second": rate}
        for size, rate in ((8, 2e9), (4096, 40e9), (65536, 30e9))])
    assert run.memcpy_by_payload() == {8: 2e9, 4096: 40e9, 65536: 30e9}
    plot = sweep_plots.throughput_vs_payload(run.timed, run.memcpy_bytes_per_s(), run.memcpy_by_payload())
    assert "dashed: the machine memcpy bandwidth per payload size" in plot.caption
    ringside = [s for s in run.timed if s.queue == "ringside" and s.load_mode == "throughput" and s.payload == 4096]
    expected = ringside[0].value("throughput") * 4096 / 40e9
    assert f"4 KiB {expected:.2f}x" in plot.caption or f"4KiB {expected:.2f}x" in plot.caption, plot.caption


def test_without_memcpy_rows_the_plot_says_it_was_not_measured(tiny_run):
    run = load_run(tiny_run)
    run.document["microbench"]["benchmarks"] = []
    assert run.memcpy_by_payload() == {}
    plot = sweep_plots.throughput_vs_payload(run.timed, run.memcpy_bytes_per_s(), run.memcpy_by_payload())
    assert "memcpy bandwidth not measured in this run" in plot.caption
