"""The report's faults section and verdict: crash trials, bad inputs and fuzzing from results.json `faults[]`."""

import json

import reports
from reports import results, verdicts
from reports_fixtures import make_run, no_library_leaks, rendered_base, runs  # noqa: F401


def fault_record(group, status="pass", **summary):
    figures = {"faults_injected": None, "trials": None, "trials_survived": None, "records_committed": None,
               "records_lost": None, "records_duplicated": None, "half_written_seen": None, "bad_inputs_tried": None,
               "bad_inputs_failed": None, "fuzz_executions": None, "fuzz_crashes": None, "fuzz_seconds": None}
    figures.update(summary)
    return {"id": f"faults.{group}-0123456789", "group": group, "short": False, "status": status, "notes": [],
            "wall_s": 1.5, "summary": figures}


def run_with_faults(tmp_path, records):
    run = tmp_path / "run"
    make_run(run, size="tiny", repetitions=1, with_files=False)
    doc = json.loads((run / "results.json").read_text())
    doc["faults"] = records
    (run / "results.json").write_text(json.dumps(doc))
    return run


CRASH = fault_record("crash-recovery", faults_injected=2047, trials=1000, trials_survived=1000,
                     records_committed=612345, records_lost=0, records_duplicated=17, half_written_seen=0)
BAD = fault_record("bad-inputs", bad_inputs_tried=28, bad_inputs_failed=0)
FUZZ = fault_record("fuzzing", fuzz_executions=4_200_000, fuzz_crashes=0, fuzz_seconds=600)


def test_the_report_shows_faults_injected_trials_survived_records_lost_bad_inputs_and_fuzz_figures(tmp_path):
    run = run_with_faults(tmp_path, [CRASH, BAD, FUZZ])
    page = reports.render_run(run, jobs=1).read_text()
    section = page[page.index('id="faults"'):]
    for text in ("2047", "1000 / 1000", "612345", "28", "4200000", "crash-recovery", "fuzzing"):
        assert text in section, text
    verdict = verdicts.faults_verdict(results.load_run(run))
    assert verdict.state == "pass"
    assert "0 records lost" in verdict.detail and "28 bad inputs tried" in verdict.detail
    assert "4200000 fuzz executions, 0 crashes" in verdict.detail


def test_a_lost_record_or_a_fuzz_crash_fails_the_faults_verdict(tmp_path):
    lost = dict(CRASH, status="fail", summary=dict(CRASH["summary"], records_lost=1))
    crashed = dict(FUZZ, status="fail", summary=dict(FUZZ["summary"], fuzz_crashes=3))
    run = run_with_faults(tmp_path, [lost, BAD, crashed])
    verdict = verdicts.faults_verdict(results.load_run(run))
    assert verdict.state == "fail"
    assert "1 records lost" in verdict.detail and "3 crashes" in verdict.detail
    assert [f["group"] for f in verdict.items] == ["crash-recovery", "fuzzing"]


def test_a_run_without_faults_has_no_faults_verdict_or_section(rendered_base):
    run, index = rendered_base
    assert verdicts.faults_verdict(results.load_run(run)) is None
    assert 'id="faults"' not in index.read_text()
