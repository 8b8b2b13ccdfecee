"""The nightly results store: night names, the baseline (newest earlier passing, complete night), pruning, bad input."""

import argparse
import json

import pytest

from runall_testing import ROOT  # noqa: F401  (first: puts harness/ on sys.path)

from runall import cli, nightly, nightstore, shard, store


def night(store, name, code=None, partial=False):
    path = store / name
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({"partial": partial}))
    (path / "rep1.hgrm").write_text("x")
    if code is not None:
        (path / nightstore.VERDICT).write_text(json.dumps({"code": code}))
    return path


def test_a_new_night_is_named_by_utc_time_and_commit_and_never_reuses_a_folder(tmp_path):
    first, second = nightstore.new_night(tmp_path), nightstore.new_night(tmp_path)
    assert nightstore.NAME.match(first.name) and nightstore.NAME.match(second.name)
    assert first != second and first.is_dir() and second.is_dir()


def test_nights_are_oldest_first_and_only_folders_with_results(tmp_path):
    b = night(tmp_path, "20261102T020000Z-bbbbbbb")
    a = night(tmp_path, "20261101T020000Z-aaaaaaa")
    (tmp_path / "20261103T020000Z-ccccccc").mkdir()          # no results.json (a run that never started)
    (tmp_path / "history.html").write_text("")
    night(tmp_path, "not-a-night")
    assert nightstore.nights(tmp_path) == [a, b]


def test_the_baseline_is_the_newest_earlier_night_that_passed_and_is_complete(tmp_path):
    passed = night(tmp_path, "20261101T020000Z-aaaaaaa", code=0)
    night(tmp_path, "20261102T020000Z-bbbbbbb", code=3)                    # regressed
    night(tmp_path, "20261103T020000Z-ccccccc", code=0, partial=True)      # a shard was missing
    tonight = night(tmp_path, "20261104T020000Z-ddddddd")
    night(tmp_path, "20261105T020000Z-eeeeeee", code=0)                    # later: never a baseline
    assert nightstore.baseline_for(tmp_path, tonight) == passed


def test_no_baseline_on_the_first_night(tmp_path):
    assert nightstore.baseline_for(tmp_path, night(tmp_path, "20261101T020000Z-aaaaaaa")) is None


def test_the_history_takes_the_last_complete_nights_up_to_tonight(tmp_path):
    names = [f"202611{d:02d}T020000Z-c{d:06d}" for d in range(1, 8)]
    paths = [night(tmp_path, n, partial=(i == 5)) for i, n in enumerate(names)]
    assert nightstore.history(tmp_path, paths[6], 3) == [paths[3], paths[4], paths[6]]


def test_prune_keeps_the_newest_nights_and_slims_all_but_the_newest_two(tmp_path):
    paths = [night(tmp_path, f"202611{d:02d}T020000Z-c{d:06d}", code=0) for d in range(1, 6)]
    nightstore.prune(tmp_path, 4)
    assert not paths[0].exists()
    assert sorted(p.name for p in paths[1].iterdir()) == ["results.json", "verdict.json"]
    assert (paths[3] / "rep1.hgrm").exists() and (paths[4] / "rep1.hgrm").exists()


def test_a_store_that_is_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a directory"):
        nightstore.nights(tmp_path / "file")


@pytest.mark.parametrize("argv, message", [
    (["nightly", "--store", "S", "--out", "O"], "give one"),
    (["nightly", "--nights", "0"], "at least 1"),
    (["verdict"], "RUN or --store"),
    (["clean", "--store", "S"], "--keep N"),
    (["nightly", "--baseline", "nowhere"], "not a run folder"),
    (["verdict", "--store", "S", "--baseline", "nowhere"], "not a run folder"),
])
def test_contradictory_or_missing_options_are_usage_errors(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.bootstrap, "prepare", lambda *a: None)
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().out


def test_an_empty_store_has_no_history(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli.bootstrap, "prepare", lambda *a: None)
    assert cli.main(["history", "--store", str(tmp_path)]) == 2
    assert "no night" in capsys.readouterr().out


def test_the_nightly_job_runs_both_files_unless_given_one():
    default = nightly.job(argparse.Namespace())
    assert [(p.name, v) for p, v in default.parts] == [("nightly.toml", ["release"]),
                                                       ("sanitize.toml", ["asan", "tsan", "valgrind"])]
    narrowed = nightly.job(argparse.Namespace(variants="release,tsan"))
    assert [(p.name, v) for p, v in narrowed.parts] == [("nightly.toml", ["release"]), ("sanitize.toml", ["tsan"])]
    quick = nightly.job(argparse.Namespace(scenarios="scenarios/quick.toml", variants="release"))
    assert quick.parts == [("scenarios/quick.toml", ["release"])]


def test_only_the_last_shard_runs_the_microbenchmarks():
    runs = [nightly.job(argparse.Namespace(shard=f"{k}/3")).microbench for k in (1, 2, 3)]
    assert runs == [False, False, True]
    assert nightly.job(argparse.Namespace(shard="2/3")).shard == shard.parse("2/3")


def test_every_shard_leaves_the_same_room_for_faults_on_the_first_and_microbenchmarks_on_the_last():
    fixed = [nightly.job(argparse.Namespace(shard=f"{k}/3")).shard_fixed for k in (1, 2, 3)]
    assert fixed[0] == fixed[1] == fixed[2]
    assert fixed[0][1] >= 600 and fixed[0][3] == nightly.MICROBENCH_S  # faults.toml fuzzes 10 minutes


def test_merging_shards_keeps_the_fault_records_of_the_shard_that_ran_them():
    def shard_doc(index, faults=None):
        doc = {"environment": {"shard": {"index": index, "count": 2}}, "scenarios": [], "checkers": [],
               "canaries": [], "microbench": {"benchmarks": []}, "partial": False}
        return dict(doc, faults=faults) if faults is not None else doc
    merged = store.merge([shard_doc(1, [{"id": "crash-trials", "status": "pass"}]), shard_doc(2)], ["a", "b"])
    assert merged["merge_complete"] and merged["faults"] == [{"id": "crash-trials", "status": "pass"}]
