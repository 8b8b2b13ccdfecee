"""The nightly results store: one run folder per night, <UTC time>-<commit>, read back for baselines and history.

A night's folder is a run folder (results.json, report, files) plus, once its
verdict is written, verdict.json ({"code": exit code, ...}) and verdict.md.
The baseline of a night is the newest earlier complete night whose verdict
passed (code 0); nights without a verdict yet count as passed.
"""

import json
import re
import shutil
from pathlib import Path

from . import store

NAME = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-zA-Z]+)(-\d+)?$")
VERDICT = "verdict.json"
KEEP_WHOLE = 2   # the newest nights keep every file (the next comparison reads the baseline's); older ones results only
KEPT_FILES = ("results.json", VERDICT, "verdict.md")


def check(folder):
    """The store folder as a Path; ValueError when it exists and is not a directory."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--store {folder}: not a directory")
    return path


def new_night(folder):
    """store/<UTC time>-<short commit>/, created (a -2, -3 suffix if that second is taken)."""
    root = check(folder)
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{store.utc_now().strftime('%Y%m%dT%H%M%SZ')}-{store.git('rev-parse', '--short', 'HEAD') or 'nocommit'}"
    path, n = root / stem, 1
    while path.exists():
        n += 1
        path = root / f"{stem}-{n}"
    path.mkdir()
    return path


def nights(folder):
    """Every night folder of the store with a results.json, oldest first (names sort by time)."""
    root = check(folder)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and NAME.match(p.name) and (p / "results.json").is_file())


def _partial(night):
    try:
        return bool(json.loads((night / "results.json").read_text()).get("partial"))
    except (OSError, ValueError):
        return True


def verdict_code(night):
    """The night's recorded verdict exit code, or None before its verdict."""
    try:
        return json.loads((Path(night) / VERDICT).read_text()).get("code")
    except (OSError, ValueError):
        return None


def baseline_for(folder, candidate):
    """The newest night before `candidate` that is complete and passed, or None."""
    candidate = Path(candidate).resolve()
    earlier = [n for n in nights(folder) if n.resolve() != candidate and n.name < candidate.name]
    for night in reversed(earlier):
        if not _partial(night) and verdict_code(night) in (None, 0):
            return night
    return None


def history(folder, candidate, count):
    """The last `count` complete nights up to and including `candidate`, oldest first."""
    candidate = Path(candidate).resolve()
    mine = [n for n in nights(folder) if n.name <= candidate.name and not _partial(n)]
    return mine[-count:]


def record_verdict(night, code, **facts):
    store.write_json(Path(night) / VERDICT, {"code": code, **facts})


def prune(folder, keep):
    """Removes all but the `keep` newest nights; keeps only results and verdict of all but the KEEP_WHOLE newest."""
    all_nights = nights(folder)
    for night in all_nights[:max(0, len(all_nights) - keep)]:
        shutil.rmtree(night, ignore_errors=True)
    for night in all_nights[max(0, len(all_nights) - keep):-KEEP_WHOLE or None]:
        for child in night.iterdir():
            if child.name in KEPT_FILES:
                continue
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
