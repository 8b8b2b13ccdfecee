"""Markdown beside the HTML: the run summary and the comparison verdict (for CI job summaries and PR comments)."""

from .plots import fmt_ns
from .render import fmt_pct, fmt_rate, fmt_ratio

ICON = {"pass": "PASS", "fail": "FAIL", "not run": "not run"}


def _ns(value):
    return "unsupported" if value is None else fmt_ns(value)


def _cell(text):
    return str(text).replace("|", "\\|")


def run_summary(run, strip, rows, provenance, grants):
    out = [f"# ringside run `{run.path.name}`", ""]
    out += [f"- **{v.name}: {ICON.get(v.state, v.state)}**: {v.detail}" for v in strip]
    out.append("")
    out += [f"- {key}: {_cell(value)}" for key, value in provenance]
    if grants:
        out += ["", f"> **Warning:** requested scheduling was not granted in {len(grants)} case(s):"]
        out += [f"> - `{g['scenario']}` {g['side']}: asked {g['requested']}, got {g['granted']}" for g in grants[:20]]
        if len(grants) > 20:
            out.append(f"> - ... and {len(grants) - 20} more (see index.html)")
    out += ["", f"## Scenarios ({len(rows)})", "",
            "| scenario | status | p50 | p99 | p99.9 | max | msg/s | CPU/msg | vs floor | vs best peer |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        lat = r["latency"]
        out.append(f"| `{_cell(r['id'])}` | {r['status']} | {_ns(lat['p50'])} | {_ns(lat['p99'])} | "
                   f"{_ns(lat['p999'])} | {_ns(lat['max'])} | {fmt_rate(r['throughput'], '')} | "
                   f"{'n/a' if r['cpu'] is None else fmt_ns(r['cpu'])} | {fmt_ratio(r['vs_floor'])} | "
                   f"{fmt_ratio(r['vs_best_peer'])} |")
    out += ["", "Full report: `index.html` in the run folder (self-contained, opens from disk).", ""]
    return "\n".join(out)


def comparison_summary(result):
    """The verdict of a comparison in Markdown (result: comparison.Comparison)."""
    out = [f"# ringside comparison: {result.verdict_line}", "",
           f"- base: `{result.base.path.name}` ({result.base.environment.get('git_commit', '?')}), "
           f"candidate: `{result.cand.path.name}` ({result.cand.environment.get('git_commit', '?')})",
           f"- scenarios: {len(result.pairs)} paired, {len(result.added)} added, {len(result.removed)} removed, "
           f"{len(result.failed)} failed"]
    for warning in result.warnings:
        out.append(f"- **Warning:** {warning}")
    if result.machine_note:
        out.append(f"- **Machine changed:** {result.machine_note}")
    out.append(f"- {result.geomean_line}")
    out += ["", f"Rule: regressed/improved only when Mann-Whitney U p < {result.alpha:g}, the change is beyond the "
            f"metric's noise threshold and 3x the scatter of the repetitions, and its 95% bootstrap CI excludes "
            f"zero; at least {result.min_reps} repetitions a side; max only when p99.9 moves the same way. "
            f"Judged on {'floor-normalised' if result.normalised else 'absolute'} figures.", ""]
    flagged = [(p, c) for p in result.judged_pairs() for c in p.changes.values()
               if c.verdict in ("regressed", "improved")]
    if flagged:
        out += ["| scenario | metric | verdict | absolute change | vs floor | 95% CI (judged) | p (judged) |",
                "|---|---|---|--:|--:|--:|--:|"]
        for pair, change in sorted(flagged, key=lambda pc: (pc[1].verdict != "regressed", pc[0].id)):
            judged = change.judged
            out.append(f"| `{_cell(pair.id)}` | {change.label} | **{change.verdict}** | {fmt_pct(change.raw.change)} | "
                       f"{fmt_pct(change.norm.change if change.norm else None)} | {_ci(judged.ci)} | "
                       f"{_p(judged.p_value)} |")
    else:
        out.append("No metric regressed or improved beyond its threshold.")
    counts = result.verdict_counts()
    out += ["", "Verdicts over every metric of every scenario but the floors: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())]
    reasons = result.inconclusive_reasons()
    if reasons:
        out.append("Inconclusive because: " + ", ".join(f"{why} ({n})" for why, n in reasons.most_common()))
    moved = [p for p in result.floors if p.changes["p50"].raw.verdict in ("regressed", "improved")]
    if result.floors:
        out.append(f"Floors (the machine, never a regression): {len(moved)} of {len(result.floors)} moved beyond "
                   f"the noise in p50.")
    out.append("")
    for kind, ids in (("Added", result.added), ("Removed", result.removed), ("Failed", result.failed)):
        if ids:
            out.append(f"{kind}: " + ", ".join(f"`{i}`" for i in ids[:30]) + (" ..." if len(ids) > 30 else ""))
    return "\n".join(out) + "\n"


def _ci(ci):
    return "n/a" if ci is None else f"[{ci[0]:+.1%}, {ci[1]:+.1%}]"


def _p(p):
    return "n/a" if p is None else f"{p:.3g}"
