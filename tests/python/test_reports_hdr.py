"""reports/hdr.py: V2 encoding, .hlog and .hgrm read as HdrHistogram and our runner write them."""

import base64
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from reports import hdr
from reports_fixtures import ROOT, clean_env, no_library_leaks  # noqa: F401

# HistogramLogWriter 1.3 output published with a JMH profiler's documentation
# (four intervals; Interval_Max is each histogram's max / 1e6 to 3 decimals).
JAVA_LOG = """#[Histogram log format version 1.3]
#[StartTime: 1633286203.972 (seconds since epoch), Sun Oct 03 19:36:43 BST 2021]
"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
0.000,0.617,26.083,HISTFAAAADR42pNpmSzMwMAgygABTFCaEUz8///f/gNE4LYcUyszkzaTJVMxkzUTNxMTO1MuEwD7aAiy
0.621,0.643,17.957,HISTFAAAADF42pNpmSzMwMAgxAABTFCaEUz8///f/gNEYLcCkybTYUYmaSZLlmgWSSZuJgDfkAg4
1.265,0.610,17.957,HISTFAAAADR42pNpmSzMwMAgxgABTFCaEUz8///f/gNE4KQY01wOpr2MTOZM7kCczLSRkYmbBQAO3gm4
1.875,0.608,17.039,HISTFAAAADN42pNpmSzMwMAgwgABTFCaEUz8///f/gNEYKs402cOJlsmS6ZkJlkmJkmmzYwsAPfkCSk=
"""


def reference_percentile(sorted_values, histogram, q):
    """getValueAtPercentile's definition: the highest equivalent of the ceil(q * n)-th smallest value
    (q nudged one ulp down first, as 2.1.11 does, so 99.9 % of 30000 is rank 29970, not 29971)."""
    rank = max(math.ceil(math.nextafter(q, -math.inf) * len(sorted_values) / 100.0), 1)
    value = int(sorted_values[rank - 1])
    return int(histogram.highest_equivalent_at(histogram.index_of(value)))


@pytest.mark.parametrize("seed", range(6))
def test_encoding_round_trips_counts_exactly(seed):
    rng = np.random.default_rng(seed)
    histogram = hdr.Histogram()
    histogram.record(rng.lognormal(np.log(rng.uniform(30, 1e6)), rng.uniform(0.05, 2.5), 5000).astype(np.int64))
    back = hdr.decode_v2(hdr.encode_v2_compressed(histogram))
    assert (back.counts == histogram.counts).all()
    assert (back.lowest, back.highest, back.digits) == (histogram.lowest, histogram.highest, histogram.digits)


def test_percentiles_follow_hdrhistogram_definition():
    rng = np.random.default_rng(7)
    values = np.sort(rng.lognormal(np.log(250), 0.6, 30000).astype(np.int64) + 1)
    histogram = hdr.Histogram()
    histogram.record(values)
    for q in (1, 50, 90, 99, 99.9):
        assert histogram.value_at_percentile(q) == reference_percentile(values, histogram, q)
    assert histogram.max() == reference_percentile(values, histogram, 100)
    assert histogram.supported_percentile(99.9) is not None
    assert histogram.supported_percentile(99.99) is None, "30000 samples cannot support p99.99 (needs 100000)"


def test_reads_a_log_written_by_java_hdrhistogram():
    intervals = hdr.read_hlog(JAVA_LOG)
    assert len(intervals) == 4
    for interval in intervals:
        assert interval.histogram.total == 10
        assert round(interval.histogram.max() / 1e6, 3) == interval.max_ms


def test_decodes_a_single_value_histogram_from_another_implementation():
    histogram = hdr.decode_v2(base64.b64decode("HISTFAAAAB542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEARAtM="))
    assert histogram.total == 1
    assert histogram.mean() == 42.0


def test_malformed_log_line_is_named():
    text = JAVA_LOG.replace("HISTFAAAADF42p", "HISTFAAAADF4!!")
    with pytest.raises(hdr.HdrFormatError, match="line 5"):
        hdr.read_hlog(text)


def test_write_hlog_then_read_keeps_tags_and_times():
    histogram = hdr.Histogram()
    histogram.record([100, 200, 300_000])
    text = hdr.write_hlog([hdr.Interval("", 0.0, 1.0, 0, histogram), hdr.Interval("uncorrected", 0.0, 1.0, 0, histogram)])
    back = hdr.read_hlog(text)
    assert [i.tag for i in back] == ["", "uncorrected"]
    assert back[0].max_ms == round(histogram.max() / 1e6, 3)
    values, levels, counts = hdr.read_hgrm(hdr.write_hgrm(histogram))
    assert levels[-1] == 1.0 and counts[-1] == 3 and values[-1] == histogram.max()


def _runner():
    found = sorted(ROOT.glob("build/*/harness/runner/ringside-runner"))
    return found[0] if found else None


@pytest.mark.skipif(_runner() is None, reason="no ringside-runner built (build/*/harness/runner/ringside-runner)")
def test_figures_of_the_runners_own_hlog_match_its_result(tmp_path):
    prefix = tmp_path / "open"
    cmd = [str(_runner()), "--id", "hdr-test", "--queue", "ringside", "--wait", "futex", "--placement", "unpinned",
           "--load", "open", "--rate", "20000", "--count", "20000", "--interval", "0.25", "-o", str(prefix)]
    completed = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(Path(f"{prefix}.json").read_text())
    intervals = hdr.read_hlog(Path(f"{prefix}.hlog").read_text())
    for tag, block in (("", result["latency_ns"]), ("uncorrected", result["latency_uncorrected_ns"])):
        merged = hdr.Histogram(1, block["highest_ns"], block["significant_digits"])
        for interval in (i for i in intervals if i.tag == tag):
            merged.add(interval.histogram)
        assert merged.total == block["count"]
        assert merged.max() == block["max_ns"]
        for q, key in ((50, "p50_ns"), (90, "p90_ns"), (99, "p99_ns"), (99.9, "p99_9_ns"), (99.99, "p99_99_ns")):
            assert merged.supported_percentile(q) == block[key], (tag, key)
    values, levels, counts = hdr.read_hgrm(Path(f"{prefix}.hgrm").read_text())
    merged = hdr.Histogram(1, result["latency_ns"]["highest_ns"], 3)
    for interval in (i for i in intervals if not i.tag):
        merged.add(interval.histogram)
    ours = merged.spectrum()
    assert (ours[0] == values).all() and (ours[2] == counts).all()
    assert np.allclose(ours[1], levels, atol=1e-12)
