"""A night split in shards (fake runner): merged into a night of the store, judged against the last passing night."""

import json

from runall_testing import FAKE_RUNNER, ROOT  # first: puts harness/ on sys.path

from runall import cli, jobs, nightstore, store

QUICK = ["--scenarios", str(ROOT / "scenarios" / "quick.toml"), "--variants", "release", "--no-build",
         "--no-microbench"]


def run_night(tmp_path, store_dir, name, shards=(1, 2)):
    folders = []
    for k in shards:
        folder = tmp_path / f"{name}-shard{k}"
        assert cli.main(["nightly", "--shard", f"{k}/2", "--out", str(folder), *QUICK]) == 0
        folders.append(str(folder))
    assert cli.main(["merge", "--store", str(store_dir), *folders]) == 0
    return cli.main(["verdict", "--store", str(store_dir), "--fail-on-regression"])


def test_merged_shards_become_a_night_judged_against_the_last_passing_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RINGSIDE_RUNNER", str(FAKE_RUNNER))
    monkeypatch.delenv("FAKE_RUNNER_MODE", raising=False)
    monkeypatch.delenv("RINGSIDE_RUNALL_INJECT", raising=False)
    monkeypatch.setattr(cli.bootstrap, "prepare", lambda *a: None)
    monkeypatch.setattr(jobs, "run_canaries", lambda *a: [])
    store_dir = tmp_path / "store"

    assert run_night(tmp_path, store_dir, "night1") == 0
    assert run_night(tmp_path, store_dir, "night2") == 0
    assert run_night(tmp_path, store_dir, "night3", shards=(1,)) == 1  # a shard is missing

    first, second, third = nightstore.nights(store_dir)
    assert json.loads((second / nightstore.VERDICT).read_text())["baseline"] == str(first)
    doc = store.load_results(second)
    assert doc["merge_complete"] and len(doc["scenarios"]) == 2
    for scenario in doc["scenarios"]:  # the night holds the shards' files: it stands alone in the store
        for rep in scenario["repetitions"]:
            assert (second / rep["files"]["result"]).resolve().is_relative_to(second.resolve())
            assert (second / rep["files"]["result"]).is_file()
    verdict = (third / "verdict.md").read_text()
    assert "partial" in verdict.splitlines()[0] and f"baseline: `{second.name}`" in verdict
