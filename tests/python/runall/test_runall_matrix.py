"""Scenario files: expansion, stable ids, and the messages that reject a bad file."""

import textwrap

import pytest

from runall_testing import ROOT  # first: puts harness/ on sys.path

from runall import matrix, params


CPUS = [0, 1]


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path, text):
    return matrix.load(write(tmp_path, text), cpus=CPUS)


def rejection(tmp_path, text):
    with pytest.raises(matrix.ScenarioFileError) as caught:
        load(tmp_path, text)
    return caught.value


def test_lists_expand_to_the_cartesian_product(tmp_path):
    scenarios = load(tmp_path, """
        [[group]]
        name = "grid"
        params.payload_bytes = [8, 64, 512]
        params.queue = ["ringside", "boost_spsc"]
    """)
    assert len(scenarios) == 6
    assert {(s.params["payload_bytes"], s.params["queue"]) for s in scenarios} == {
        (p, q) for p in (8, 64, 512) for q in ("ringside", "boost_spsc")}


def test_cases_are_one_factor_and_exclude_and_include_edit_the_product(tmp_path):
    scenarios = load(tmp_path, """
        [baseline]
        count = 1000
        [[group]]
        name = "g"
        params.payload_bytes = [8, 64]
        cases = [{ host.wait.kind = "futex", sidecar.wait.kind = "futex" }, { host.wait.kind = "yield" }]
        exclude = [{ payload_bytes = 64, host.wait.kind = "yield" }]
        include = [{ payload_bytes = 4096 }]
    """)
    got = sorted((s.params["payload_bytes"], s.params["host.wait.kind"], s.params["sidecar.wait.kind"])
                 for s in scenarios)
    assert got == [(8, "futex", "futex"), (8, "yield", "busy_spin"), (64, "futex", "futex"),
                   (4096, "busy_spin", "busy_spin")]
    assert all(s.params["count"] == 1000 for s in scenarios)


def test_a_scenario_in_two_groups_runs_once_and_names_both(tmp_path):
    scenarios = load(tmp_path, """
        [[group]]
        name = "a"
        params.payload_bytes = [8, 64]
        [[group]]
        name = "b"
        params.queue = ["ringside", "boost_spsc"]
    """)
    assert len(scenarios) == 3
    assert scenarios[0].groups == ["a", "b"]


def test_ids_are_stable_and_depend_only_on_what_is_measured():
    base = params.defaults()
    same = dict(reversed(list(base.items())))
    assert matrix.make_id(base) == matrix.make_id(same)
    assert matrix.make_id(base) == matrix.make_id({**base, "timeout_s": 999})
    assert matrix.make_id(base) != matrix.make_id({**base, "payload_bytes": 16})
    assert matrix.make_id(base).startswith("ringside.thr.8B.busy_spin.2cpu-")
    # Pinned: a change here breaks every comparison with earlier runs.
    assert matrix.stable_hash(base)[:10] == matrix.make_id(base)[-10:]


def test_explicit_defaults_give_the_same_id(tmp_path):
    a = load(tmp_path, """
        [[group]]
        name = "g"
        params.payload_bytes = [8]
    """)
    b = load(tmp_path, """
        [[group]]
        name = "g"
        params.payload_bytes = [8]
        params.transport = "threads"
        params.host.wait.kind = "busy_spin"
    """)
    assert a[0].id == b[0].id


def test_unknown_key_is_rejected_with_file_line_and_key(tmp_path):
    error = rejection(tmp_path, """
        [baseline]
        payload_bytes = 8

        [[group]]
        name = "g"
        params.paylod_bytes = [8, 16]
    """)
    assert error.line == 7 and error.key == "params.paylod_bytes"
    assert str(error).startswith(f"{tmp_path / 's.toml'}:7: params.paylod_bytes: unknown scenario parameter")


def test_unknown_nested_key_suggests_the_right_one(tmp_path):
    error = rejection(tmp_path, """
        [[group]]
        name = "g"
        params.host.kind = "futex"
    """)
    assert "did you mean host.wait.kind" in str(error) and error.line == 4


def test_bad_value_is_rejected_with_the_allowed_ones(tmp_path):
    error = rejection(tmp_path, """
        [[group]]
        name = "g"
        params.queue = ["ringside", "zeromq"]
    """)
    assert error.line == 4 and error.key == "params.queue"
    assert "must be one of ringside" in str(error) and "'zeromq'" in str(error)


def test_out_of_range_value_in_baseline(tmp_path):
    error = rejection(tmp_path, """
        [baseline]
        count = 10
        payload_bytes = 4

        [[group]]
        name = "g"
    """)
    assert (error.line, error.key) == (4, "payload_bytes") and "between 8 and" in str(error)


def test_empty_product_is_rejected(tmp_path):
    error = rejection(tmp_path, """
        [[group]]
        name = "g"
        params.payload_bytes = [8, 64]
        exclude = [{ payload_bytes = [8, 64] }]
    """)
    assert error.key == "exclude" and "the product is empty" in str(error) and error.line == 5


def test_empty_list_is_rejected(tmp_path):
    error = rejection(tmp_path, """
        [[group]]
        name = "g"
        params.payload_bytes = []
    """)
    assert "empty" in str(error) and error.line == 4


def test_realtime_spinner_sharing_its_peers_core_is_rejected_with_the_reason(tmp_path):
    error = rejection(tmp_path, """
        [[group]]
        name = "rt"
        params.placement = "same_core"
        params.host.sched.policy = "fifo"
        params.host.sched.priority = [10, 20]
    """)
    message = str(error)
    assert "host is a SCHED_FIFO 10 busy_spin spinner on CPU 0, the CPU of the sidecar it waits for" in message
    assert "deadlock" in message and error.line == 6


def test_realtime_spinners_on_every_cpu_are_rejected(tmp_path):
    error = rejection(tmp_path, """
        [baseline]
        host.sched.policy = "fifo"
        host.sched.priority = 10
        sidecar.sched.policy = "fifo"
        sidecar.sched.priority = 10
        [[group]]
        name = "rt"
    """)
    assert "real-time spinners would occupy every CPU (0,1)" in str(error)


def test_peer_across_processes_is_rejected(tmp_path):
    error = rejection(tmp_path, """
        [[group]]
        name = "x"
        cases = [{ queue = "boost_spsc", transport = "processes" }]
    """)
    assert "boost_spsc is an in-process queue" in str(error) and error.key == "cases"


def test_unknown_group_key_and_toml_syntax_errors(tmp_path):
    error = rejection(tmp_path, """
        [[group]]
        name = "g"
        repetition = 3
    """)
    assert error.key == "repetition" and error.line == 4 and "unknown key" in str(error)
    error = rejection(tmp_path, """
        [[group]]
        name = "g
    """)
    assert error.line == 3 and "not valid TOML" in str(error)


def test_duplicate_group_names_and_missing_groups(tmp_path):
    assert "a second group" in str(rejection(tmp_path, """
        [[group]]
        name = "g"
        [[group]]
        name = "g"
    """))
    assert "no [[group]]" in str(rejection(tmp_path, "[baseline]\ncount = 5\n"))


@pytest.mark.parametrize("name", ["smoke", "default", "nightly", "sanitize"])
def test_shipped_scenario_files_load(name):
    scenarios = matrix.load(ROOT / "scenarios" / f"{name}.toml", cpus=CPUS)
    assert scenarios and len({s.id for s in scenarios}) == len(scenarios)


def test_default_is_a_pruned_design_of_30_to_50_scenarios():
    # Issue 5 asked for 30-40; issue 10's python-host group (host x payload x wait, 8 scenarios) came on top.
    scenarios = matrix.load(ROOT / "scenarios" / "default.toml", cpus=CPUS)
    runs = sum(s.repetitions for s in scenarios)
    assert 30 <= len(scenarios) <= 50 and 150 <= runs <= 250
    assert {s.params["payload_bytes"] for s in scenarios} >= {8, 65536}
    waits = {s.params["host.wait.kind"] for s in scenarios if s.params["queue"] == "ringside"}
    assert waits >= {"busy_spin", "spin_pause", "yield", "sleep", "futex", "eventfd", "hybrid"}


def test_select_filters_by_text_and_variant(tmp_path):
    scenarios = load(tmp_path, """
        [meta]
        variants = ["release", "asan"]
        [[group]]
        name = "alpha"
        params.payload_bytes = [8, 64]
    """)
    assert len(matrix.select(scenarios)) == 4
    assert len(matrix.select(scenarios, "64B")) == 2
    assert len(matrix.select(scenarios, "alpha", ["asan"])) == 2
    assert {v for _, v in matrix.select(scenarios, None, ["tsan", "valgrind"])} == {"tsan", "valgrind"}
    assert matrix.select(scenarios, "nothing") == []


def test_contention_processes_at_its_default_leaves_every_older_id_unchanged():
    defaults = params.defaults()
    without = {k: v for k, v in defaults.items() if k != "contention.processes"}
    assert matrix.stable_hash(defaults) == matrix.stable_hash(without)
    assert matrix.stable_hash(dict(defaults, **{"contention.processes": True})) != matrix.stable_hash(defaults)
