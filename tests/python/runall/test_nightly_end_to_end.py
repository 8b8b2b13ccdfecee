"""ci/nightly.sh in quick mode, end to end: consecutive nights in one store, the real runner, the real verdict.

Night 1 passes and becomes the baseline; night 2 runs with a seeded slowdown
(RINGSIDE_RUNALL_INJECT=slow:50000: the runner spins 50 us before every send)
and must be flagged as a regression (exit 3). (Failing nights and the choice of
the last passing night as baseline: test_runall_verdict.py, test_nightly_shards.py.)
Needs the release build (`./run_all.py test` builds it first); RINGSIDE_RUNNER
overrides the runner. 20-50 s here, depending on the load.
"""

import json
import os
import shutil
import subprocess

import pytest

from runall_testing import ROOT

SCRIPT = ROOT / "ci" / "nightly.sh"
RELEASE = ROOT / "build" / "release"
RUNNER = os.environ.get("RINGSIDE_RUNNER") or str(RELEASE / "harness" / "runner" / "ringside-runner")
CANARY = RELEASE / "harness" / "canaries" / "canary_race"
PYTHON = "/usr/bin/python3"


def missing_prerequisites():
    missing = [str(p) for p in (RUNNER, CANARY, PYTHON) if not os.access(p, os.X_OK)]
    return missing + [tool for tool in ("sh", "dpkg-query") if shutil.which(tool) is None]


pytestmark = pytest.mark.skipif(bool(missing_prerequisites()),
                                reason=f"needs the release build and tools: missing {missing_prerequisites()}")


def night(store, tmp_path, name, inject=None):
    """Runs one quick night; returns (exit code, verdict Markdown, output)."""
    summary = tmp_path / f"{name}.md"
    step_summary = tmp_path / f"{name}.step-summary.md"
    env = {k: v for k, v in os.environ.items() if k not in ("RINGSIDE_RUNALL_INJECT", "LD_PRELOAD")}
    env.update(PYTHON=PYTHON, RINGSIDE_RUNNER=RUNNER, GITHUB_STEP_SUMMARY=str(step_summary))
    if inject:
        env["RINGSIDE_RUNALL_INJECT"] = inject
    done = subprocess.run(["sh", str(SCRIPT), "--quick", "--store", str(store), "--summary", str(summary),
                           "--no-build"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    text = summary.read_text() if summary.exists() else ""
    assert step_summary.exists() and step_summary.read_text() == text, output
    return done.returncode, text, output


def nights_in(store):
    return sorted(p for p in store.iterdir() if p.is_dir())


def test_a_seeded_slowdown_is_flagged_as_a_regression_the_next_night(tmp_path):
    store = tmp_path / "store"

    code, text, output = night(store, tmp_path, "night1")
    assert code == 0, output
    assert text.startswith("# ringside nightly") and ": PASS" in text.splitlines()[0], text
    assert "No baseline" in text

    code, text, output = night(store, tmp_path, "night2", inject="slow:50000")
    first, second = nights_in(store)
    assert code == 3, output
    assert "REGRESSED" in text.splitlines()[0], text
    assert f"baseline: `{first.name}`" in text
    assert "Test mode" in text and "slow:50000" in text
    assert "| **regressed** |" in text  # the comparison's table names the slowed scenarios
    recorded = json.loads((second / "verdict.json").read_text())
    assert recorded["code"] == 3 and recorded["baseline"].endswith(first.name)
    assert (second / "compare" / "compare.html").is_file() and (second / "history.html").is_file()
