"""Fuzz sessions (harness/runall/fuzzing.py) with stand-in fuzzers: counts, crashes, hangs and the canary."""

import json
import os
import stat

import pytest

from runall_testing import ROOT  # first: puts harness/ on sys.path

from runall import fuzzing

CLEAN = """#!/bin/sh
echo "#1000 DONE cov: 10"
echo "stat::number_of_executed_units: 1234"
echo "stat::average_exec_per_sec:     617"
exit 0
"""
CRASH = """#!/bin/sh
echo "==1== ERROR: AddressSanitizer: heap-buffer-overflow"
echo "Test unit written to ./crash-0123abcd"
echo "stat::number_of_executed_units: 77"
exit 1
"""
HOSTILE = """#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = --json ] && out=$2; shift; done
echo '{"rounds": 9, "operations": 4000, "corrupt_reported": 12, "failures": %s}' > "$out"
exit %d
"""


def fake(folder, name, text):
    path = folder / "fuzz" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def build(tmp_path, monkeypatch):
    folder = tmp_path / "build"
    monkeypatch.setenv("RINGSIDE_FUZZ_BUILD_DIR", str(folder))
    return folder


def session(tmp_path, **kwargs):
    return fuzzing.run_fuzz_session(ROOT, 8, tmp_path / "out", log=None, do_build=False, **kwargs)


def test_a_clean_session_sums_executions_over_every_target(tmp_path, build):
    for name in fuzzing.TARGETS:
        fake(build, name, CLEAN)
    fake(build, fuzzing.HOSTILE_BINARY, HOSTILE % ("[]", 0))
    result = session(tmp_path, canary=False)
    assert result["ok"] and result["crashes"] == 0
    assert set(result["targets"]) == {*fuzzing.TARGETS, "hostile_peer"}
    assert result["executions"] == 1234 * len(fuzzing.TARGETS) + 4000
    assert result["targets"]["hostile_peer"]["corrupt_reported"] == 12
    assert json.loads((tmp_path / "out" / "fuzz.json").read_text())["executions"] == result["executions"]


def test_a_crashing_target_is_counted_with_its_artifact(tmp_path, build):
    for name in fuzzing.TARGETS:
        fake(build, name, CRASH if name == "fuzz_capi" else CLEAN)
    fake(build, fuzzing.HOSTILE_BINARY, HOSTILE % ("[]", 0))
    result = session(tmp_path, canary=False)
    assert not result["ok"] and result["crashes"] == 1
    assert result["targets"]["fuzz_capi"]["artifacts"] == ["crash-0123abcd"]


def test_a_hostile_peer_failure_fails_the_session(tmp_path, build):
    for name in fuzzing.TARGETS:
        fake(build, name, CLEAN)
    fake(build, fuzzing.HOSTILE_BINARY, HOSTILE % ('["ring consumer: span outside"]', 1))
    result = session(tmp_path, canary=False)
    assert not result["ok"] and result["targets"]["hostile_peer"]["crashes"] == 1


def test_a_missing_binary_is_not_ok(tmp_path, build):
    result = session(tmp_path, canary=False)
    assert not result["ok"] and result["targets"]["fuzz_record"]["status"] == "missing"


@pytest.mark.parametrize("canary_text, caught", [(CRASH, True), (CLEAN, False)])
def test_the_canary_must_crash(tmp_path, build, canary_text, caught):
    for name in fuzzing.TARGETS:
        fake(build, name, CLEAN)
    fake(build, fuzzing.HOSTILE_BINARY, HOSTILE % ("[]", 0))
    fake(build, fuzzing.CANARY, canary_text)
    fake(build, fuzzing.HOSTILE_CANARY_BINARY, "#!/bin/sh\nkill -SEGV $$\n")
    result = session(tmp_path, canary=True)
    assert result["canary"]["hostile"]["caught"]
    assert result["canary"]["caught"] is caught
    assert result["ok"] is caught
    assert result["crashes"] == 0  # a caught canary is not a finding


def test_a_hostile_canary_that_survives_fails_the_session(tmp_path, build):
    for name in fuzzing.TARGETS:
        fake(build, name, CLEAN)
    fake(build, fuzzing.HOSTILE_BINARY, HOSTILE % ("[]", 0))
    fake(build, fuzzing.CANARY, CRASH)
    fake(build, fuzzing.HOSTILE_CANARY_BINARY, "#!/bin/sh\nexit 0\n")
    result = session(tmp_path, canary=True)
    assert not result["canary"]["hostile"]["caught"] and not result["ok"]


def test_leftovers_of_dead_fuzzers_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / "rsfuzz.open.999999999"
    live = tmp_path / f"rshostile.{os.getpid()}.3"
    other = tmp_path / "ringside.neighbour"
    for path in (dead, live, other):
        path.write_text("x")
    assert fuzzing.clean_leftovers(places=(str(tmp_path),)) == [str(dead)]
    assert live.exists() and other.exists()
