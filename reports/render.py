"""The jinja2 environment, number formatting, and writing self-contained pages (CSS and script inline)."""

import math
import re
from pathlib import Path

import jinja2
from markupsafe import Markup

from .plots import fmt_ns

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"


def _real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt_rate(value, unit="/s"):
    if not _real(value):
        return "n/a"
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}{unit}"
    return f"{value:.3g} {unit}"


def fmt_ratio(value):
    return f"{value:.2f}x" if _real(value) else "n/a"


def fmt_pct(value, signed=True):
    if not _real(value):
        return "n/a"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def fmt_ns_cell(value):
    return fmt_ns(value) if _real(value) else "n/a"


def page_name(scenario_id):
    """The detail page of a scenario: a file name made of the id's safe characters."""
    return "scenario-" + re.sub(r"[^A-Za-z0-9._-]+", "_", scenario_id)[:150] + ".html"


def environment():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined)
    env.filters.update(ns=fmt_ns_cell, rate=fmt_rate, ratio=fmt_ratio, pct=fmt_pct, page=page_name)
    env.globals["css"] = Markup((TEMPLATES / "style.css").read_text())
    env.globals["table_js"] = Markup((TEMPLATES / "table.js").read_text())
    return env


def write(path, env, template, **context):
    Path(path).write_text(env.get_template(template).render(**context), encoding="utf-8")
    return Path(path)
