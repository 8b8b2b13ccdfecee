"""The valgrind variant's grouped memcheck (harness/runall/memcheck.py): grouping, per-case results, failures."""

import json
import os
import sys
import textwrap
import time

from runall_testing import FIXTURES  # first: puts harness/ on sys.path

from runall import memcheck, testsuite

HERE = FIXTURES / "memcheck"
BUILD = "/work/main/build/valgrind"
CTEST = ["ctest", "--test-dir", BUILD, "--output-on-failure", "--timeout", 300, "-j", 2, "--no-tests=ignore",
         "-L", "^(quick)$", "-T", "memcheck", "-LE", "^(stress|process|no_memcheck)$"]


def show_only():
    return json.loads((HERE / "ctest_show_only.json").read_text())["tests"]


def planned():
    groups, disabled, others = memcheck.plan(show_only(), 300)
    return {(g.exe.rsplit("/", 1)[1], g.env, "-" in g.cases[0]): g for g in groups}, disabled, others


# ---- grouping -------------------------------------------------------------------

def test_the_cases_of_one_binary_share_one_valgrind_run():
    groups, _, _ = planned()
    region = groups[("region_test", (), False)]
    assert region.cases == ["RegionClaims.OnlyOneOfSeveralProcessesRacingForADeadHoldersRoleGetsIt",
                            "RegionClaims.ASecondClaimIsRefused"]
    assert region.args == ("--gtest_also_run_disabled_tests",)
    assert region.cwd == f"{BUILD}/tests"


def test_a_groups_timeout_is_the_sum_of_its_cases_timeouts_capped():
    groups, _, _ = planned()
    assert groups[("region_test", (), False)].timeout == 1200
    assert groups[("tracer_queue_test", (), False)].timeout == memcheck.TIMEOUT_CAP_SECONDS == 1800


def test_disabled_cases_are_not_run_but_counted():
    groups, disabled, _ = planned()
    assert disabled == ["RegionClaims.DISABLED_SlowClaim"]
    assert all("DISABLED_SlowClaim" not in c for g in groups.values() for c in g.cases)


def test_a_case_with_its_own_environment_runs_apart_with_that_environment():
    groups, _, _ = planned()
    assert groups[("raii_test", (("RINGSIDE_X", "1"),), False)].cases == ["raii_Region.SeesTheEnvironment"]
    assert groups[("raii_test", (), False)].cases == ["raii_Region.MoveAssignmentDestroysTheTargetsOldRegionOnce"]


def test_a_gtest_name_with_a_dash_is_never_joined_into_another_filter():
    groups, _, _ = planned()
    assert groups[("tracer_queue_test", (), True)].cases == ["Weird.Name-With-Dash"]
    assert "Weird.Name-With-Dash" not in groups[("tracer_queue_test", (), False)].cases


def test_examples_and_cases_with_unmodelled_properties_are_left_to_ctest():
    _, _, others = planned()
    assert others == ["raii_Region.ExpectedToFail", "example_c_host", "example_cpp_host"]


def test_the_listing_uses_the_same_directory_and_selection_as_the_ctest_command():
    cmd = CTEST + ["-R", "Region"]
    assert memcheck.selection(cmd) == ["-L", "^(quick)$", "-LE", "^(stress|process|no_memcheck)$", "-R", "Region"]
    assert memcheck.option(cmd, "--test-dir") == BUILD
    assert memcheck.option(cmd, "--timeout") == "300"


def test_the_valgrind_command_comes_from_the_cmake_cache(tmp_path):
    (tmp_path / "CMakeCache.txt").write_text(textwrap.dedent("""\
        MEMORYCHECK_COMMAND:FILEPATH=/opt/bin/valgrind
        MEMORYCHECK_COMMAND_OPTIONS:STRING=--error-exitcode=1 --leak-check=full --num-callers=40
        MEMORYCHECK_SUPPRESSIONS_FILE:FILEPATH=/src/my.supp
        """))
    assert memcheck.valgrind_prefix(tmp_path, "L.%p.log") == [
        "/opt/bin/valgrind", "--log-file=L.%p.log", "--error-exitcode=1", "--leak-check=full", "--num-callers=40",
        "--suppressions=/src/my.supp"]


# ---- results per case ---------------------------------------------------------

def test_gtest_json_gives_passed_failed_and_skipped_per_case():
    assert memcheck.gtest_results(HERE / "gtest_output.json", "") == {
        "Queues/TypedQueue/0.KeepsOrder": "passed",
        "Queues/TypedQueue/1.KeepsOrder": "failed",
        "Queues/TypedQueue/2.KeepsOrder": "skipped"}


def test_the_console_is_read_when_a_crash_left_no_json(tmp_path):
    console = (HERE / "gtest_console.out").read_text()
    assert memcheck.gtest_results(tmp_path / "missing.json", console) == {
        "Queues/TypedQueue/0.KeepsOrder": "passed",
        "Queues/TypedQueue/1.KeepsOrder": "failed",
        "Queues/TypedQueue/2.KeepsOrder": "skipped"}
    cut = console[:console.index("[ RUN      ] Queues/TypedQueue/1")]
    assert memcheck.gtest_results(tmp_path / "missing.json", cut) == {"Queues/TypedQueue/0.KeepsOrder": "passed"}


QUEUE = [f"Queues/TypedQueue/{i}.KeepsOrder" for i in range(3)]


def group(cases=QUEUE):
    return memcheck.Group("/b/tracer_queue_test", (), "/b", (), list(cases), 60)


def test_valgrind_errors_in_the_test_process_log_fail_every_case_gtest_passed():
    results = memcheck.gtest_results(HERE / "gtest_output.json", "")
    leak = FIXTURES / "memcheck_leak.log"  # Parent PID: 21691
    cases, problem, logs = memcheck.judge(group(), 1, "exited", results, [leak], parent_pid=21691)
    assert problem == "valgrind errors"
    assert cases == dict(zip(QUEUE, ("failed", "failed", "skipped")))
    assert logs == [leak]


def test_a_clean_log_and_a_failed_case_fail_only_that_case():
    results = memcheck.gtest_results(HERE / "gtest_output.json", "")
    clean = FIXTURES / "memcheck_clean.log"
    cases, problem, logs = memcheck.judge(group(), 1, "exited", results, [clean], parent_pid=0)
    assert (problem, logs) == ("", [])
    assert cases == dict(zip(QUEUE, ("passed", "failed", "skipped")))


def test_errors_only_in_a_forked_childs_log_are_shown_but_fail_nothing_as_with_ctest():
    # ctest -T memcheck fails a test on valgrind's exit code, which is the test process's own.
    leak = FIXTURES / "memcheck_leak.log"
    results = {name: "passed" for name in QUEUE}
    cases, problem, logs = memcheck.judge(group(), 0, "exited", results, [leak], parent_pid=1)
    assert problem == "" and set(cases.values()) == {"passed"} and logs == [leak]


def test_a_crash_fails_the_unfinished_cases_and_keeps_the_finished_ones():
    results = {QUEUE[0]: "passed"}
    cases, problem, _ = memcheck.judge(group(), -6, "exited", results, [], parent_pid=1)
    assert cases == dict(zip(QUEUE, ("passed", "failed", "failed")))
    assert problem == "exited -6, 2 selected case(s) did not finish"


def test_a_timeout_fails_the_unfinished_cases():
    cases, problem, _ = memcheck.judge(group(), None, "deadline", {QUEUE[0]: "passed"}, [], parent_pid=1)
    assert cases == dict(zip(QUEUE, ("passed", "failed", "failed")))
    assert problem.startswith("timed out")


def test_a_non_zero_exit_after_every_case_passed_fails_them_all():
    results = {name: "passed" for name in QUEUE}
    cases, problem, _ = memcheck.judge(group(), 1, "exited", results, [], parent_pid=1)
    assert set(cases.values()) == {"failed"} and problem == "exited 1 with no failed case"


def test_a_binary_that_cannot_start_fails_all_its_cases(tmp_path):
    (tmp_path / "CMakeCache.txt").write_text("MEMORYCHECK_COMMAND:FILEPATH=/bin/true\n")
    outcome = memcheck.run_group(memcheck.Group(str(tmp_path / "missing_test"), (), str(tmp_path / "gone"), (),
                                                QUEUE, 60), 1, tmp_path, tmp_path, time.monotonic() + 60)
    assert outcome.problem.startswith("not started")
    assert set(outcome.cases.values()) == {"failed"}


# ---- whole runs under a fake valgrind -------------------------------------------

FAKE_VALGRIND = """\
#!{python}
# Stands in for valgrind: writes its log (errors when FAKE_ERRORS=1), the gtest JSON
# fixture and the console fixture, records its directory, and exits like valgrind would.
import os, shutil, sys
args = sys.argv[1:]
log = next(a.split("=", 1)[1] for a in args if a.startswith("--log-file=")).replace("%p", str(os.getpid()))
out = next(a.split(":", 1)[1] for a in args if a.startswith("--gtest_output=json:"))
errors = os.environ.get("FAKE_ERRORS") == "1"
with open(log, "w") as f:
    f.write(f"==1== Parent PID: {{os.getppid()}}\\n==1== ERROR SUMMARY: {{int(errors)}} errors from 1 contexts\\n")
shutil.copy({fixtures!r} + "/gtest_output.json", out)
with open(os.environ["FAKE_SEEN"], "a") as f:
    f.write(os.getcwd() + " " + " ".join(args) + "\\n")
sys.stdout.write(open({fixtures!r} + "/gtest_console.out").read())
sys.exit(1)  # one case failed in the fixture: gtest exits 1 (and so would valgrind's --error-exitcode=1)
"""


def fake_build(tmp_path, monkeypatch, errors):
    fake = tmp_path / "valgrind"
    fake.write_text(FAKE_VALGRIND.format(python=sys.executable, fixtures=str(HERE)))
    fake.chmod(0o755)
    (tmp_path / "CMakeCache.txt").write_text(f"MEMORYCHECK_COMMAND:FILEPATH={fake}\n"
                                             "MEMORYCHECK_COMMAND_OPTIONS:STRING=--error-exitcode=1\n")
    monkeypatch.setenv("FAKE_SEEN", str(tmp_path / "seen"))
    monkeypatch.setenv("FAKE_ERRORS", "1" if errors else "0")


def test_a_valgrind_error_fails_the_binary_and_is_reported_with_its_log(tmp_path, monkeypatch):
    fake_build(tmp_path, monkeypatch, errors=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    outcome = memcheck.run_group(memcheck.Group("/b/tracer_queue_test", (), str(tmp_path), (), QUEUE, 60),
                                 1, tmp_path, logs, time.monotonic() + 60)
    assert outcome.problem == "valgrind errors"
    assert outcome.cases == dict(zip(QUEUE, ("failed", "failed", "skipped")))
    said = []
    memcheck.report(outcome, 1, 1, said.append)
    text = "\n".join(said)
    assert "***Failed valgrind errors" in text
    assert "ERROR SUMMARY: 1 errors" in text  # the log itself, not only its name
    assert f"--gtest_filter={':'.join(QUEUE)}" in (tmp_path / "seen").read_text()


def test_run_counts_cases_of_every_group_plus_ctests_counts_for_the_others(tmp_path, monkeypatch):
    fake_build(tmp_path, monkeypatch, errors=False)
    tests = [t for t in show_only() if "TypedQueue" in t["name"] or t["name"].startswith("example_")
             or "DISABLED" in t["name"]]
    for t in tests:
        t["command"][0] = t["command"][0].replace(BUILD, str(tmp_path))
        for p in t["properties"]:
            if p["name"] == "WORKING_DIRECTORY":
                p["value"] = str(tmp_path)
    monkeypatch.setattr(memcheck, "list_tests", lambda cmd: tests)
    seen = []
    ctest_output = textwrap.dedent("""\
        1/2 MemCheck  #1: example_c_host ...................   Passed    3.10 sec
        2/2 MemCheck  #2: example_cpp_host .................   Passed    3.20 sec
        100% tests passed, 0 tests failed out of 2
        """)

    def fake_ctest(cmd, deadline, capture=False, log=None):
        seen.append(cmd)
        return 0, ctest_output

    cmd = [str(c) for c in CTEST]
    cmd[cmd.index("--test-dir") + 1] = str(tmp_path)
    rc, counts = memcheck.run(cmd + ["-R", "Queue|example"], 2, time.monotonic() + 60, tmp_path / "logs",
                              testsuite.count_results, fake_ctest)
    assert counts == (1 + 2, 1, 1 + 1)  # cases + examples passed, one case failed, one skip + one disabled
    assert rc == 1
    assert seen[0][-2:] == ["-R", "^(example_c_host|example_cpp_host)$"]
    assert "Queue|example" not in seen[0] and "-T" in seen[0]
    assert (tmp_path / "seen").read_text().startswith(str(tmp_path) + " ")
    assert os.path.exists(tmp_path / "logs" / "memcheck-valgrind.log")
