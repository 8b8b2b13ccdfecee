"""The night's verdict: a broken run fails whatever the comparison says; a regression exits 3; the Markdown says why."""

import json
import sys

import pytest

from runall_testing import ROOT  # first: puts harness/ on sys.path

from runall import verdict

sys.path.insert(0, str(ROOT / "tests" / "python"))
from reports_fixtures import find_id, make_run  # noqa: E402

RINGSIDE = r"ringside\.thr\.8B\.busy_spin\.2cpu-"


def judge(tmp_path, **candidate):
    make_run(tmp_path / "base", seed=1, size="tiny", with_files=False)
    make_run(tmp_path / "cand", seed=2, size="tiny", with_files=False, **candidate)
    code, text = verdict.decide(tmp_path / "cand", tmp_path / "base")
    return code, text, text.splitlines()[0]


def test_a_clean_night_passes(tmp_path):
    code, text, head = judge(tmp_path)
    assert code == 0 and head.endswith(": PASS")
    assert (tmp_path / "cand" / "verdict.md").read_text() == text


def test_a_slower_ringside_is_a_regression(tmp_path):
    code, text, head = judge(tmp_path, factor={"ringside": 1.5})
    assert code == 3 and "REGRESSED" in head and "| **regressed** |" in text


@pytest.mark.parametrize("candidate, why", [
    ({"checker_finding": True}, "checker finding"),
    ({"canary_missed": True}, "broken canary"),
    ({"failed_ids": (find_id(RINGSIDE, "tiny"),)}, "failed validation"),
    ({"partial": True}, "partial run"),
])
def test_a_broken_night_fails_even_when_nothing_regressed(tmp_path, candidate, why):
    code, _, head = judge(tmp_path, **candidate)
    assert code == 1 and head.split(": ", 1)[1].startswith("FAIL") and why in head


def test_without_a_baseline_only_the_run_is_judged(tmp_path):
    make_run(tmp_path / "cand", seed=2, size="tiny", with_files=False)
    code, text = verdict.decide(tmp_path / "cand")
    assert code == 0 and "No baseline given" in text and not (tmp_path / "cand" / "compare").exists()


def test_a_failed_fault_scenario_fails_the_night(tmp_path):
    make_run(tmp_path / "cand", seed=2, size="tiny", with_files=False)
    results = tmp_path / "cand" / "results.json"
    doc = json.loads(results.read_text())
    doc["faults"] = [{"id": "crash-trials-abc", "status": "fail"}, {"id": "bad-inputs-def", "status": "pass"}]
    results.write_text(json.dumps(doc))
    code, text = verdict.decide(tmp_path / "cand")
    assert code == 1 and "1 fault scenario(s) failed: crash-trials-abc" in text.splitlines()[0]
