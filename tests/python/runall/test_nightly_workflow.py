"""ci/nightly.yml runs ci/nightly.sh (the contract) with options the script and run_all.py both accept."""

import re
import shlex

import pytest

from runall_testing import ROOT  # noqa: F401  (first: puts harness/ on sys.path)

from runall import cli

yaml = pytest.importorskip("yaml", reason="python3-yaml (bootstrap NEEDS['test']) is not installed")

WORKFLOW = ROOT / "ci" / "nightly.yml"
SCRIPT = ROOT / "ci" / "nightly.sh"


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def script_options():
    """The options ci/nightly.sh takes itself (its case patterns)."""
    text = SCRIPT.read_text()
    return set(re.findall(r"^\s+(--[a-z-]+)(?:=\*)?[|)]", text, re.M)) | set(re.findall(r"\|(--[a-z-]+)\)", text))


def steps(workflow, job):
    return workflow["jobs"][job]["steps"]


def script_calls(workflow, job):
    """Each `ci/nightly.sh ...` line of a job, as words, with ${{ }} expressions replaced by a sample."""
    calls = []
    for step in steps(workflow, job):
        for line in str(step.get("run", "")).splitlines():
            if "ci/nightly.sh" in line:
                line = re.sub(r"\$\{\{\s*matrix\.shard\s*\}\}", "2", line)
                line = re.sub(r"\$\{\{\s*env\.SHARDS\s*\}\}", str(workflow["env"]["SHARDS"]), line)
                line = re.sub(r"\$\{\{\s*env\.STORE\s*\}\}", workflow["env"]["STORE"], line)
                line = re.sub(r"\$\{\{[^}]*\}\}", "--quick", line)
                calls.append(shlex.split(line))
    return calls


def test_it_runs_every_night_and_by_hand(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers


def test_each_shard_job_runs_the_script_on_its_shard(workflow):
    shards = workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(workflow["env"]["SHARDS"]) + 1))
    (call,) = script_calls(workflow, "shard")
    assert call[:5] == ["ci/nightly.sh", "--shard", f"2/{workflow['env']['SHARDS']}", "--out", "shard-2"]
    uploads = [s for s in steps(workflow, "shard") if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "shard-${{ matrix.shard }}"


def test_the_merge_job_merges_every_shard_into_the_store_it_caches(workflow):
    merge = workflow["jobs"]["merge"]
    assert merge["needs"] == "shard" and "always()" in merge["if"]
    (call,) = script_calls(workflow, "merge")
    store = workflow["env"]["STORE"]
    assert call[:4] == ["ci/nightly.sh", "--merge", "--store", store] and call[-1] == "shards/shard-*"
    cached = {s["uses"].split("@")[0]: s["with"] for s in steps(workflow, "merge") if "cache" in s.get("uses", "")}
    assert cached["actions/cache/restore"]["path"] == cached["actions/cache/save"]["path"] == "${{ env.STORE }}"
    assert cached["actions/cache/restore"]["restore-keys"] == "nightly-store-"
    downloads = [s for s in steps(workflow, "merge") if "download-artifact" in s.get("uses", "")]
    assert downloads[0]["with"] == {"pattern": "shard-*", "path": "shards"}
    report = [s for s in steps(workflow, "merge") if "upload-artifact" in s.get("uses", "")]
    assert report and "steps.night.outputs.folder" in report[0]["with"]["path"]


def test_the_workflow_uses_only_options_the_script_or_run_all_nightly_accepts(workflow):
    own = script_options()
    assert {"--quick", "--merge", "--store", "--summary", "--shard", "--out"} <= own
    nightly = cli.create_parser()._subparsers._group_actions[0].choices["nightly"]
    passthrough = set(nightly._option_string_actions)
    for job in ("shard", "merge"):
        for call in script_calls(workflow, job):
            unknown = [w for w in call if w.startswith("--") and w not in own | passthrough]
            assert not unknown, f"{job}: {unknown}"


def script_run_all_commands():
    """The run_all.py command lines ci/nightly.sh runs, with its variables replaced by samples."""
    samples = {"$store": "reports/nightly", "$verdict": "/tmp/v.md", "$shard": "1/4", "$out": "shard-1",
               "$keep": "60", "$quick": "--scenarios scenarios/quick.toml --variants release --no-microbench",
               '"$@"': ""}  # passed-through options, or (merge) the shards' folders: added below
    lines = []
    for line in SCRIPT.read_text().splitlines():
        if 'run "$python" "$root/run_all.py"' in line:
            line = line.split('run_all.py"', 1)[1].split(">")[0].split("||")[0]
            for name, value in samples.items():
                line = line.replace(f'"{name}"', value).replace(name, value)
            argv = shlex.split(line)
            lines.append(argv + {"merge": ["shard-1", "shard-2"], "nightly": ["--no-build"]}.get(argv[0], []))
    return lines


def test_the_script_calls_run_all_commands_that_exist_with_options_they_accept():
    commands = script_run_all_commands()
    assert {c[0] for c in commands} == {"nightly", "merge", "verdict", "clean"}
    parser = cli.create_parser()
    for argv in commands:
        assert argv[0] in cli.COMMANDS
        parser.parse_args(argv)  # SystemExit (a failure) on an unknown option


def test_the_workflow_header_tells_other_ci_systems_how_to_call_the_script():
    header = [line for line in WORKFLOW.read_text().splitlines() if line.startswith("#")]
    text = "\n".join(header)
    assert "ci/nightly.sh --shard K/N" in text and "ci/nightly.sh --merge" in text
