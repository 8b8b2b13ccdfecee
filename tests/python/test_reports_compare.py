"""reports.compare: a seeded regression is flagged, noise is not, machine drift is called a machine change."""

import json

import pytest

import reports
from reports import results, stats
from reports.comparison import Comparison
from reports_fixtures import TARGET, environment, find_id, make_run, no_library_leaks, runs  # noqa: F401


def comparison(base, cand, **kwargs):
    return Comparison(results.load_run(base), results.load_run(cand), **kwargs)


def flagged(result, verdict):
    return sorted({(p.id, c.metric) for p in result.judged_pairs() for c in p.changes.values()
                   if c.verdict == verdict})


def test_seeded_regression_is_flagged_and_nothing_else(runs, tmp_path):
    target = find_id(TARGET)
    cand = runs("regressed", seed=2, factor={target: 1.25})
    result = comparison(runs("base", seed=1), cand)
    regressed = flagged(result, stats.REGRESSED)
    assert (target, "p50") in regressed and (target, "p99") in regressed
    assert {sid for sid, _ in regressed} == {target}
    assert not result.machine_changed
    assert reports.compare(runs("base", seed=1), cand, tmp_path, fail_on_regression=True) == 3
    assert reports.compare(runs("base", seed=1), cand, tmp_path, fail_on_regression=False) == 0
    md = (tmp_path / "compare.md").read_text()
    assert md.startswith("# ringside comparison: REGRESSED") and target in md
    html = (tmp_path / "compare.html").read_text()
    assert f'id="o-{target}"' in html, "the changed scenario gets its overlaid spectra"


def test_pure_noise_is_not_flagged(runs, tmp_path):
    cand = runs("noise", seed=3)
    result = comparison(runs("base", seed=1), cand)
    assert flagged(result, stats.REGRESSED) == [] and flagged(result, stats.IMPROVED) == []
    assert not result.machine_changed and not result.warnings
    assert result.verdict_line.startswith("no regression")
    assert reports.compare(runs("base", seed=1), cand, tmp_path, fail_on_regression=True) == 0


def test_machine_drift_is_a_machine_change_not_a_regression(runs, tmp_path):
    cand = runs("drift", seed=4, machine=1.3)
    result = comparison(runs("base", seed=1), cand)
    assert result.machine_changed and result.normalised
    raw = {(p.id, c.metric) for p in result.judged_pairs() for c in p.changes.values()
           if c.raw.verdict == stats.REGRESSED}
    assert len(raw) > 20, "on absolute figures everything looks slower"
    assert flagged(result, stats.REGRESSED) == []
    assert reports.compare(runs("base", seed=1), cand, tmp_path, fail_on_regression=True) == 0
    md = (tmp_path / "compare.md").read_text()
    assert "**Machine changed:**" in md and "+30" in md
    assert "Machine changed:" in (tmp_path / "compare.html").read_text()


def test_regression_during_machine_drift_is_still_found(runs):
    target = find_id(TARGET)
    cand = runs("drift-regressed", seed=5, machine=1.3, factor={target: 1.3})
    result = comparison(runs("base", seed=1), cand)
    assert result.machine_changed
    assert {sid for sid, _ in flagged(result, stats.REGRESSED)} == {target}


def test_too_few_repetitions_claim_nothing(tmp_path):
    target = find_id(TARGET)
    make_run(tmp_path / "b", seed=1, repetitions=3, with_files=False)
    make_run(tmp_path / "c", seed=2, repetitions=3, with_files=False, factor={target: 1.5})
    result = comparison(tmp_path / "b", tmp_path / "c")
    change = next(p for p in result.pairs if p.id == target).changes["p50"]
    assert change.verdict == stats.INCONCLUSIVE
    assert "too few repetitions: 3 base, 3 candidate" in change.judged.reason
    assert reports.compare(tmp_path / "b", tmp_path / "c", tmp_path / "out", True) == 0


def test_thresholds_are_configurable_per_metric(runs):
    target = find_id(TARGET)
    result = comparison(runs("base", seed=1), runs("regressed", seed=2, factor={target: 1.25}),
                        thresholds={"p50": 0.5})
    pair = next(p for p in result.pairs if p.id == target)
    assert pair.changes["p50"].verdict == stats.UNCHANGED
    assert pair.changes["p99"].verdict == stats.REGRESSED
    with pytest.raises(ValueError, match="unknown metric"):
        comparison(runs("base", seed=1), runs("noise", seed=3), thresholds={"p42": 0.1})


def test_different_machine_or_grants_are_not_comparable(tmp_path):
    make_run(tmp_path / "b", seed=1, with_files=False)
    make_run(tmp_path / "c", seed=2, with_files=False, refuse_rt=False,
             env=environment(cpu_model="AMD EPYC 7R13 Processor", kernel="6.5.0-1-amd64"))
    result = comparison(tmp_path / "b", tmp_path / "c")
    text = " | ".join(result.warnings)
    assert "not comparable: CPU differs" in text and "not comparable: kernel differs" in text
    assert "not comparable: granted priorities differ" in text
    assert "NOT COMPARABLE" in result.verdict_line
    assert any(key == "cpu_model" and differs for key, _, _, differs in result.env_diff)


def test_added_removed_and_failed_are_listed(tmp_path):
    gone, broken = find_id(r"boost_spsc\.thr\.8B\."), find_id(r"ringside\.thr\.8B\.yield\.2cpu-")
    make_run(tmp_path / "b", seed=1, with_files=False)
    make_run(tmp_path / "c", seed=2, with_files=False, drop_ids=(gone,), failed_ids=(broken,))
    result = comparison(tmp_path / "b", tmp_path / "c")
    assert result.removed == [gone] and result.added == [] and result.failed == [broken]
    assert all(p.id not in (gone, broken) for p in result.pairs)
    reports.compare(tmp_path / "b", tmp_path / "c", None, False)
    md = (tmp_path / "c" / "compare" / "compare.md").read_text()
    assert f"Removed: `{gone}`" in md and f"Failed: `{broken}`" in md


def test_unknown_schema_version_is_refused_clearly(tmp_path):
    make_run(tmp_path / "b", seed=1, with_files=False, validation_runs=False, size="default")
    document = json.loads((tmp_path / "b" / "results.json").read_text())
    document["schema_version"] = 99
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "results.json").write_text(json.dumps(document))
    with pytest.raises(results.SchemaError, match=r"schema_version 99 is unknown; this reports package reads "
                                                  r"versions 1"):
        reports.compare(tmp_path / "b", tmp_path / "new", tmp_path / "out")
    with pytest.raises(ValueError):  # run_all.py turns a ValueError into "error: ..." and exit 2
        reports.render_run(tmp_path / "new")


def test_known_older_schema_is_upgraded(tmp_path, monkeypatch):
    make_run(tmp_path / "old", seed=1, with_files=False, validation_runs=False, schema_version=0)

    def from_v0(document):
        return dict(document, schema_version=1)
    monkeypatch.setitem(results.UPGRADES, 0, from_v0)
    run = results.load_run(tmp_path / "old")
    assert run.document["schema_version"] == 1 and run.scenarios


def test_command_line_compare_and_its_exit_codes(runs, tmp_path, capsys):
    from reports.__main__ import main
    target = find_id(TARGET)
    base, cand = runs("base", seed=1), runs("regressed", seed=2, factor={target: 1.25})
    assert main(["compare", str(base), str(cand), "--out", str(tmp_path), "--fail-on-regression"]) == 3
    assert main(["compare", str(base), str(cand), "--out", str(tmp_path), "--fail-on-regression",
                 "--threshold", "p50=0.5", "--threshold", "p99=0.5", "--threshold", "throughput=0.5",
                 "--threshold", "cpu=0.5"]) == 0
    assert main(["compare", str(tmp_path / "nothing"), str(cand)]) == 2
    assert "no results.json here" in capsys.readouterr().err


def test_noisy_floors_that_agree_still_mean_the_machine_changed(tmp_path):
    make_run(tmp_path / "b", seed=1, size="tiny", with_files=False, noise=0.12)
    make_run(tmp_path / "c", seed=2, size="tiny", with_files=False, noise=0.12, machine=1.3)
    result = comparison(tmp_path / "b", tmp_path / "c")
    alone = [p for p in result.floors if p.changes["p50"].raw.verdict == stats.REGRESSED]
    assert len(alone) * 2 < len(result.floors), "each floor alone is too noisy to call"
    assert result.machine_changed and "in geometric mean" in result.machine_note
    assert flagged(result, stats.REGRESSED) == []


def test_scenarios_renamed_by_a_parameter_change_are_not_compared_and_say_why(tmp_path):
    make_run(tmp_path / "b", seed=1, size="tiny", with_files=False, validation_runs=False)
    make_run(tmp_path / "c", seed=2, size="tiny", with_files=False, validation_runs=False, count=30000)
    result = comparison(tmp_path / "b", tmp_path / "c")
    assert result.pairs == [] and len(result.added) == len(result.removed) > 0
    assert result.verdict_line.startswith("NOTHING COMPARED")
    assert any("removed and added again under a new id" in w and "count 20000 -> 30000" in w for w in result.warnings)
    assert reports.compare(tmp_path / "b", tmp_path / "c", tmp_path / "out", True) == 0
    assert "nothing compared" in (tmp_path / "out" / "compare.html").read_text()
