"""Instrumented variants: shortened runs, checker options, and which leftover regions are ours to unlink."""

import os
import struct

import runall_testing  # noqa: F401  (first: puts harness/ on sys.path)

from runall import checkers, params, shm


def test_instrumented_runs_are_capped_and_valgrind_never_spins():
    p = {**params.defaults(), "duration_s": 1.0, "warmup": 10000, "host.wait.kind": "busy_spin",
         "sidecar.wait.kind": "futex"}
    assert checkers.scale(p, "release") == p
    asan = checkers.scale(p, "asan")
    assert (asan["count"], asan["duration_s"], asan["warmup"]) == (checkers.CAPS["asan"], 0, checkers.WARMUP_CAP)
    assert asan["timeout_s"] == p["timeout_s"] * checkers.TIMEOUT_FACTOR["asan"]
    vg = checkers.scale(p, "valgrind")
    assert vg["count"] == checkers.CAPS["valgrind"] and vg["host.wait.kind"] == "yield"
    assert vg["sidecar.wait.kind"] == "futex"


def test_checker_options_make_every_finding_fatal():
    assert "halt_on_error=1" in checkers.environment("asan")["ASAN_OPTIONS"]
    assert "detect_leaks=1" in checkers.environment("asan")["ASAN_OPTIONS"]
    assert "halt_on_error=1" in checkers.environment("asan")["UBSAN_OPTIONS"]
    assert "halt_on_error=1" in checkers.environment("tsan")["TSAN_OPTIONS"]
    vg = checkers.wrapper("valgrind", "/tmp/x", "rep1")
    for flag in ("--leak-check=full", "--error-exitcode=99", "--fair-sched=yes", "--trace-children=yes"):
        assert flag in vg
    assert vg[-1] == "--log-file=/tmp/x/rep1.memcheck.%p.log"
    assert checkers.wrapper("asan", "/tmp/x", "rep1") == []


def region(path, pid):
    header = bytearray(256)
    struct.pack_into("<Q", header, 0, shm.MAGIC)
    struct.pack_into("<i", header, shm.CREATOR_PID_OFFSET, pid)
    path.write_bytes(bytes(header))


def test_only_new_regions_created_by_the_childs_processes_are_unlinked(tmp_path):
    region(tmp_path / "ringside-old", 4242)
    watcher = shm.Watcher(4242, places=(tmp_path,))
    region(tmp_path / "ringside-ours", 4242)
    region(tmp_path / "ringside-neighbour", os.getpid())
    (tmp_path / "ringside-not-a-region").write_bytes(b"\0" * 64)
    (tmp_path / "other").write_bytes(b"x")
    removed = watcher.cleanup()
    assert removed == [str(tmp_path / "ringside-ours")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "ringside-neighbour", "ringside-not-a-region",
                                                         "ringside-old"]
