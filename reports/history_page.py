"""history.html (self-contained: plots inline) and history.md from a History: each headline metric over the nights."""

from pathlib import Path

from . import render
from matplotlib.ticker import FuncFormatter

from .plots import NS, data_uri, plt, sparse_log
from .results import METRICS

MAX_PLOTS = 60  # flagged series first; about 25 kB each
MAX_ROWS = 30   # of the Markdown table (job summaries); new regressions come first
RATE = FuncFormatter(lambda v, _p: render.fmt_rate(v, ""))


def _order(history):
    flagged = {id(f.series) for f in history.findings}
    return sorted(history.series, key=lambda s: (id(s) not in flagged, s.role == "floor", s.scenario, s.metric))


def plot(series, nights, fig, ax):
    """One series over the nights (log scale), each lasting change marked at its first night."""
    ax.clear()
    xs = [i for i, v in enumerate(series.values) if v is not None]
    ys = [series.values[i] for i in xs]
    ax.plot(xs, ys, marker="o", ms=3, lw=1, color="tab:blue")
    for change in series.changes:
        worse = series.worse(change)
        ax.axvline(change.start - 0.5, color="tab:red" if worse else "tab:green", lw=1.5, ls="--")
        ax.annotate(f"{change.kind} {change.change:+.1%}", (change.start - 0.5, 1.0), xycoords=("data", "axes fraction"),
                    textcoords="offset points", xytext=(3, -12), fontsize=8, color="tab:red" if worse else "tab:green")
    unit = METRICS[series.metric][3]
    sparse_log(ax.yaxis, RATE if unit == "msg/s" else NS)
    ax.set_title(f"{series.label} ({series.role})", fontsize=9)
    step = max(1, len(nights) // 12)
    ticks = list(range(0, len(nights), step))
    ax.set_xticks(ticks, [nights[i].label for i in ticks], rotation=30, ha="right", fontsize=7)
    ax.set_xlim(-0.5, max(len(nights) - 0.5, 0.5))
    return data_uri(fig)


def images(history):
    if not history.nights:
        return [], 0
    fig, ax = plt.subplots(figsize=(7.5, 2.6), dpi=80)
    fig.subplots_adjust(left=0.11, right=0.98, top=0.88, bottom=0.32)
    ordered = _order(history)
    out = [(s, plot(s, history.nights, fig, ax)) for s in ordered[:MAX_PLOTS]]
    plt.close(fig)
    return out, max(0, len(ordered) - MAX_PLOTS)


def markdown(history):
    """The history part of the nightly verdict."""
    nights = history.nights
    out = [f"## History: {len(nights)} nights"
           + (f" ({nights[0].name} .. {nights[-1].name})" if nights else ""), ""]
    if not history.findings:
        out.append("No lasting step or drift in any headline metric.")
    else:
        out += ["| | series | change | first night | commit |", "|---|---|---|---|---|"]
        for f in history.findings[:MAX_ROWS]:
            tag = ("**NEW REGRESSION**" if f.counts else "machine" if f.machine else
                   "floor (machine)" if f.series.role == "floor" else ("new" if f.new else "") +
                   (" worse" if f.worse else " better"))
            c = f.change
            what = (f"step {c.change:+.1%}" if c.kind == "step" else
                    f"drift {c.per_night:+.2%}/night ({c.change:+.1%} so far)")
            out.append(f"| {tag.strip()} | `{f.series.label}` | {what} | `{f.night.name}` | `{f.night.commit[:12]}` |")
    if len(history.findings) > MAX_ROWS:
        out.append(f"\n... and {len(history.findings) - MAX_ROWS} more in history.html")
    for path, reason in history.skipped:
        out.append(f"- skipped `{path}`: {reason}")
    return "\n".join(out) + "\n"


def render_history(history, out_path):
    """Writes history.html at out_path; returns its path."""
    pictures, omitted = images(history)
    env = render.environment()
    return render.write(Path(out_path), env, "history.html", title="ringside nightly history", h=history,
                        pictures=pictures, omitted=omitted)
