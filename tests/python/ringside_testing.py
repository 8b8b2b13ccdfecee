"""Helpers for the Python host's tests (a module of its own: `conftest` is ambiguous with nested conftest.py files)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = ROOT / "src" / "python"
if str(PACKAGE_ROOT) not in sys.path:
    sys.path.insert(0, str(PACKAGE_ROOT))


def clean_env():
    """The environment for helper processes (cc, nm): without the ASan preload of the interpreter."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env
