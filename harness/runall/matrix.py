"""Scenario files (scenarios/*.toml) expanded into concrete scenarios with stable ids.

Syntax: scenarios/README.md. In short: [meta] for file-wide settings,
[baseline] for the parameters every scenario starts from, and [[group]]s whose
`params` lists expand to their cartesian product (with `cases`, `include` and
`exclude`). Every concrete scenario is checked against the runner's rules.
"""

import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import faults
from . import params as P
from . import rules
from .tomlpos import Locator

VARIANTS = ("release", "asan", "tsan", "valgrind")
KINDS = ("timing", "validation", "faults")
META_KEYS = {"description", "kind", "repetitions", "variants"}
GROUP_KEYS = {"name", "description", "params", "cases", "include", "exclude", "repetitions", "kind", "variants",
              "faults"}
TOP_KEYS = {"meta", "baseline", "group"}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ScenarioFileError(Exception):
    """A scenario file that cannot be used: says file, line and key."""

    def __init__(self, path, line, key, message):
        self.path, self.line, self.key, self.message = str(path), line, key, message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


@dataclass
class Scenario:
    id: str
    slug: str
    params: dict                      # flat, every parameter (defaults filled in)
    group: str
    kind: str = "timing"
    repetitions: int = 5
    variants: tuple = ("release",)
    groups: list = field(default_factory=list)   # every group that asked for it
    source: str = ""                  # file:line of its group

    def spec(self):
        """The JSON spec the runner reads (nested, with schema and id)."""
        return {"schema": P.SCENARIO_SCHEMA, "id": self.id, **P.nest(self.params)}


def stable_hash(params):
    """sha1 of the canonical JSON of the parameters that shape the measurement."""
    kept = {k: v for k, v in params.items() if k not in P.NOT_IN_ID
            and not (k in P.IN_ID_UNLESS_DEFAULT and v == P.PARAMS[k].default)}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode()).hexdigest()


def slug(p):
    """A readable name made only of the parameters (so it is as stable as the hash)."""
    parts = [p["queue"], "proc" if p["transport"] == "processes" else "thr"]
    if p.get("host_kind", "cpp") != "cpp":
        parts.append(f"{p['host_kind']}host")
    if p["backing"] == "file":
        parts.append("file")
    if p["delivery"] == "ring" and p["transport"] == "threads":
        parts.append("evring")
    size = p["payload_bytes"]
    parts.append(f"{size // 1024}K" if size >= 1024 and size % 1024 == 0 else f"{size}B")
    waits = (p["host.wait.kind"], p["sidecar.wait.kind"])
    parts.append(waits[0] if waits[0] == waits[1] else f"{waits[0]}+{waits[1]}")
    parts.append({"different_cores": "2cpu", "same_core": "1cpu", "unpinned": "free"}[p["placement"]])
    for side in ("host", "sidecar"):
        if p[f"{side}.sched.policy"] != "other":
            parts.append(f"{side}-{p[f'{side}.sched.policy']}{p[f'{side}.sched.priority']}")
        elif p[f"{side}.sched.nice"]:
            parts.append(f"{side}-nice{p[f'{side}.sched.nice']}")
    if p["contention.threads"]:
        kind = "proc" if p.get("contention.processes") else ""
        parts.append(f"busy{p['contention.threads']}{kind}-{p['contention.sched.policy']}")
    if p["load.mode"] != "closed":
        parts.append("open" + str(int(p["load.rate_per_s"])) if p["load.mode"] == "open" else "tput")
    if p["load.burst"] != 1:
        parts.append(f"burst{p['load.burst']}")
    return ".".join(parts)


def make_id(params):
    return f"{slug(params)}-{stable_hash(params)[:10]}"


class _File:
    """One scenario file being read: its data, locator and path, for error messages."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            text = self.path.read_text()
        except OSError as error:
            raise ScenarioFileError(path, None, None, f"cannot read: {error.strerror}") from None
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            m = re.search(r"line (\d+)", str(error))
            raise ScenarioFileError(path, int(m.group(1)) if m else None, None, f"not valid TOML: {error}") from None
        self.where = Locator(text)

    def fail(self, context, key, message):
        raise ScenarioFileError(self.path, self.where.line(context, key), key, message)


def _check_params(f, context, prefix, table, sweep):
    """Flat, checked parameters of a table; with sweep, list values are alternatives."""
    if not isinstance(table, dict):
        f.fail(context, prefix.rstrip("."), "must be a table of scenario parameters")
    flat, swept = P.flatten(table), set()
    for name, value in flat.items():
        key = prefix + name
        if name not in P.PARAMS:
            close = [k for k in P.PARAMS if k.split(".")[-1] == name.split(".")[-1]]
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            f.fail(context, key, f"unknown scenario parameter{hint}")
        param = P.PARAMS[name]
        alternatives = value if sweep and _is_sweep(param, value) else [value]
        if sweep and isinstance(value, list) and not value:
            f.fail(context, key, "an empty list: the product would be empty")
        for one in alternatives:
            if (problem := param.check(one)) is not None:
                f.fail(context, key, problem)
        if sweep and _is_sweep(param, value):
            swept.add(name)
            flat[name] = [P.normalise(name, v) for v in alternatives]
        else:
            flat[name] = P.normalise(name, value)
    return (flat, swept) if sweep else flat


def _is_sweep(param, value):
    if param.kind == "cpus":
        return isinstance(value, list) and bool(value) and all(isinstance(v, list) for v in value)
    return isinstance(value, list)


def _settings(f, context, table, allowed, inherited):
    unknown = sorted(set(table) - allowed)
    if unknown:
        f.fail(context, unknown[0], f"unknown key (known: {', '.join(sorted(allowed))})")
    out = dict(inherited)
    if "kind" in table:
        if table["kind"] not in KINDS:
            f.fail(context, "kind", f"must be one of {', '.join(KINDS)}, not {table['kind']!r}")
        out["kind"] = table["kind"]
    if "repetitions" in table:
        reps = table["repetitions"]
        if not isinstance(reps, int) or isinstance(reps, bool) or not 1 <= reps <= 100:
            f.fail(context, "repetitions", f"must be an integer 1..100, not {reps!r}")
        out["repetitions"] = reps
    if "variants" in table:
        variants = table["variants"]
        if not isinstance(variants, list) or not variants or any(v not in VARIANTS for v in variants):
            f.fail(context, "variants", f"must be a non-empty list of {', '.join(VARIANTS)}, not {variants!r}")
        out["variants"] = tuple(variants)
    if "description" in table and not isinstance(table["description"], str):
        f.fail(context, "description", "must be a string")
    return out


def _matches(point, rule):
    """rule: {name: [accepted values]}."""
    return all(point[k] in accepted for k, accepted in rule.items())


def _expand_group(f, index, group, base, settings, cpus):
    context = ("group", index)
    if not isinstance(group, dict):
        f.fail(context, "", "each [[group]] must be a table")
    if not isinstance(group.get("name"), str) or not NAME.match(group["name"]):
        f.fail(context, "name", "every group needs a name of lower-case letters, digits, '-' and '_'")
    settings = _settings(f, context, group, GROUP_KEYS, settings)
    if settings["kind"] == "faults":
        return [_faults_scenario(f, context, group, settings)]
    if "faults" in group:
        f.fail(context, "faults", 'only a group of kind = "faults" takes a faults table')
    values, swept = _check_params(f, context, "params.", group.get("params", {}), sweep=True)
    fixed = {k: v for k, v in values.items() if k not in swept}
    axes = [(k, v) for k, v in values.items() if k in swept]
    factors = [[{k: x} for x in values] for k, values in axes]
    cases = group.get("cases")
    if cases is not None:
        if not isinstance(cases, list) or not cases:
            f.fail(context, "cases", "must be a non-empty list of parameter tables")
        factors.append([_check_params(f, context, "cases.", c, sweep=False) for c in cases])
    rules_of = {}
    for key in ("include", "exclude"):
        entries = group.get(key, [])
        if not isinstance(entries, list):
            f.fail(context, key, "must be a list of parameter tables")
        rules_of[key] = [_check_params(f, context, f"{key}.", e, sweep=(key == "exclude")) for e in entries]
        if key == "exclude":
            rules_of[key] = [{k: (v if k in sw else [v]) for k, v in flat.items()} for flat, sw in rules_of[key]]
    start = {**base, **fixed}
    points = []
    for combo in itertools.product(*factors):
        point = dict(start)
        for part in combo:
            point.update(part)
        if not any(_matches(point, rule) for rule in rules_of["exclude"]):
            points.append(point)
    points += [{**start, **entry} for entry in rules_of["include"]]
    if not points:
        f.fail(context, "exclude" if rules_of["exclude"] else "params", "the product is empty")
    out = []
    for point in points:
        if problems := rules.reasons(point, cpus):
            f.fail(context, _blame(swept, cases), f"scenario {slug(point)} cannot run: "
                   f"{'; '.join(problems)} (change it, or drop it with an exclude rule)")
        line = f.where.line(context)
        out.append(Scenario(id=make_id(point), slug=slug(point), params=point, group=group["name"],
                            kind=settings["kind"], repetitions=settings["repetitions"],
                            variants=settings["variants"], groups=[group["name"]], source=f"{f.path}:{line}"))
    return out


def _faults_scenario(f, context, group, settings):
    """A faults group: no runner parameters, one scenario made of its checked `faults` table (harness/runall/faults.py)."""
    for key in ("params", "cases", "include", "exclude"):
        if key in group:
            f.fail(context, key, "a faults group takes no runner parameters: say what to run in its faults table")
    settings_ = faults.check(lambda key, message: f.fail(context, key, message), group.get("faults", {}))
    canonical = json.dumps(settings_, sort_keys=True, separators=(",", ":"))
    name = group["name"]
    return Scenario(id=f"faults.{name}-{hashlib.sha1(canonical.encode()).hexdigest()[:10]}", slug=f"faults.{name}",
                    params=settings_, group=name, kind="faults", repetitions=1, variants=("release",),
                    groups=[name], source=f"{f.path}:{f.where.line(context)}")


def _blame(swept, cases):
    return "cases" if cases else ("params." + sorted(swept)[0] if swept else "params")


def load(path, cpus=None):
    """Every concrete scenario of a scenario file, in file order, each id once."""
    f = _File(path)
    cpus = rules.allowed_cpus() if cpus is None else cpus
    unknown = sorted(set(f.data) - TOP_KEYS)
    if unknown:
        f.fail((unknown[0],), unknown[0], f"unknown top-level key (known: {', '.join(sorted(TOP_KEYS))})")
    meta = f.data.get("meta", {})
    settings = _settings(f, ("meta",), meta, META_KEYS,
                         {"kind": "timing", "repetitions": 5, "variants": ("release",)})
    base = P.defaults()
    baseline = _check_params(f, ("baseline",), "", f.data.get("baseline", {}), sweep=False)
    base.update(baseline)
    groups = f.data.get("group", [])
    if not isinstance(groups, list) or not groups:
        raise ScenarioFileError(path, None, "group", "no [[group]]: the file describes no scenario")
    seen, names, out = {}, set(), []
    for index, group in enumerate(groups):
        name = group.get("name") if isinstance(group, dict) else None
        if name in names:
            f.fail(("group", index), "name", f"a second group named {name!r}")
        names.add(name)
        for scenario in _expand_group(f, index, group, base, settings, cpus):
            if scenario.id in seen:
                first = seen[scenario.id]
                first.groups.append(scenario.group)
                first.repetitions = max(first.repetitions, scenario.repetitions)
                first.variants = tuple(dict.fromkeys(first.variants + scenario.variants))
                continue
            seen[scenario.id] = scenario
            out.append(scenario)
    return out


def select(scenarios, pattern=None, variants=None):
    """(scenario, variant) pairs: -k matches id, slug or group (substring).

    variants, when given, replaces the variants the file names: the same
    scenarios run in those builds (instrumented ones validate only).
    """
    out = []
    for s in scenarios:
        if pattern and not any(pattern in text for text in (s.id, s.slug, *s.groups)):
            continue
        for variant in (variants or s.variants):
            out.append((s, variant))
    return out
