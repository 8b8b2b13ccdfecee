"""The command line: default command, usage errors exit 2, list prints phases, start-up messages, progress lines."""

import io
import textwrap

import pytest

from runall_testing import ROOT  # first: puts harness/ on sys.path

from runall import bootstrap, cli, progress


def test_no_command_means_run_with_the_default_file():
    args = cli.create_parser().parse_args(["run"])
    assert args.scenarios == ROOT / "scenarios" / "default.toml" and args.shard is None


@pytest.mark.parametrize("argv", [["list", "--shard", "3/2"], ["list", "--variants", "release,msan"],
                                  ["list", "--repetitions", "0"], ["list", "--scenarios", "/nonexistent.toml"]])
def test_usage_errors_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    assert "error:" in capsys.readouterr().out


def test_unknown_command_exits_2():
    with pytest.raises(SystemExit) as caught:
        cli.main(["frobnicate"])
    assert caught.value.code == 2


def test_list_prints_the_matrix_and_phases(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent("""
        [[group]]
        name = "g"
        params.payload_bytes = [8, 64]
    """))
    assert cli.main(["list", "--scenarios", str(path), "--repetitions", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 scenarios x variants, 4 runs" in out
    assert "scenarios release" in out and "total" in out


def test_missing_modules_name_the_debian_packages(monkeypatch):
    monkeypatch.setattr(bootstrap, "missing_modules", lambda modules: ["matplotlib"])
    monkeypatch.setenv(bootstrap.REEXEC_MARK, "1")  # as if already re-executed: no second attempt
    problem = bootstrap.reexec_if_needed(["matplotlib"], ["run_all.py"])
    assert "cannot import matplotlib" in problem and "apt-get install -y python3-matplotlib" in problem


def test_progress_prints_one_plain_line_per_run_without_a_terminal():
    out = io.StringIO()
    bar = progress.Progress(2, 10.0, stream=out, tty=False)
    bar.begin("release a rep 1", 5.0)
    bar.end("release a rep 1", "pass", 4.2)
    bar.begin("release b rep 1", 5.0)
    bar.end("release b rep 1", "fail", 5.1, "lost 1")
    assert out.getvalue().splitlines() == ["[1/2] pass       4.2s release a rep 1",
                                           "[2/2] fail       5.1s release b rep 1 lost 1"]


def test_progress_bar_on_a_terminal_shows_counts_scenario_and_eta():
    out = io.StringIO()
    bar = progress.Progress(4, 40.0, stream=out, tty=True)
    bar.begin("release ringside.thr.8B rep 1", 10.0)
    bar.end("release ringside.thr.8B rep 1", "pass", 10.0)
    bar.begin("release boost_spsc.thr.8B rep 1", 10.0)
    text = out.getvalue()
    assert "1/4" in text and "ETA" in text and "boost_spsc.thr.8B" in text and "\r" in text


def test_a_canary_its_checker_misses_marks_the_run_broken(tmp_path, monkeypatch):
    from runall import canaries, jobs
    monkeypatch.setattr(canaries, "binary", lambda variant, name: __import__("pathlib").Path("/bin/true"))
    records = canaries.run_checked("asan", tmp_path)
    assert records and all(r["caught"] is False and not r["ok"] and "BROKEN" in r["note"] for r in records)
    doc = {"scenarios": [], "canaries": records, "checkers": [], "microbench": {"status": "not_run"},
           "partial": False}
    assert jobs.outcome(doc) == jobs.EXIT_FAILED


def test_every_checker_has_a_canary_for_each_fault_of_the_issue():
    from runall import canaries
    pairs = {(c.tool, c.fault) for c in canaries.CANARIES}
    assert {("tsan", "data race"), ("asan", "heap buffer overflow"), ("asan", "heap use after free"),
            ("lsan", "memory leak"), ("memcheck", "memory leak"), ("ubsan", "signed integer overflow"),
            ("memcheck", "uninitialised read")} <= pairs


def test_clean_keeps_the_newest_runs_and_removes_regions_of_dead_creators(tmp_path, monkeypatch):
    import argparse
    import struct
    from runall import shm, store
    runs = tmp_path / "reports" / "runs"
    for name in ("20260101T000000Z-a", "20260102T000000Z-b", "20260103T000000Z-c"):
        (runs / name).mkdir(parents=True)
    monkeypatch.setattr(store, "REPORTS", tmp_path / "reports")
    monkeypatch.setattr(store, "RUNS", runs)
    monkeypatch.setattr(store, "LATEST", tmp_path / "reports" / "latest")
    monkeypatch.setattr(shm, "PLACES", (tmp_path,))
    os = __import__("os")
    ticks = int(open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()[19])
    for name, pid, start in (("ringside-dead", 2**22 + 12345, 0), ("ringside-alive", os.getpid(), 0),
                             ("ringside-alive-since", os.getpid(), ticks),
                             ("ringside-pid-reused", os.getpid(), ticks + 1)):
        header = bytearray(64)
        struct.pack_into("<Q", header, 0, shm.MAGIC)
        struct.pack_into("<i", header, shm.CREATOR_PID_OFFSET, pid)
        struct.pack_into("<Q", header, shm.CREATOR_TICKS_OFFSET, start)
        (tmp_path / name).write_bytes(bytes(header))
    assert cli.cmd_clean(argparse.Namespace(keep=1, builds=False)) == 0
    assert [p.name for p in runs.iterdir()] == ["20260103T000000Z-c"]
    assert sorted(p.name for p in tmp_path.glob("ringside-*")) == ["ringside-alive", "ringside-alive-since"], \
        "a dead creator's region and one whose pid was reused by another process are removed"
