"""The cross-scenario figures of a run report: payload, wait strategy, priority, CPU cost, peers and floors."""

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from . import sweep
from .plots import data_uri, fmt_ns, sparse_log
from .render import fmt_rate

LATENCY = [("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")]
QUEUE_ORDER = ["ringside", "ringside_ring", "boost_spsc", "moodycamel_rwq", "mutex_condvar", "floor_cacheline",
               "floor_futex"]


@dataclass
class Plot:
    anchor: str
    title: str
    uri: str
    caption: str


def _payload_label(size):
    size = int(size)
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def _close(fig, fmt="svg"):
    uri = data_uri(fig, fmt)
    plt.close(fig)
    return uri


def _bars(ax, x, heights, width, **kwargs):
    """Bars on a log axis, each labelled with its value (the eye misjudges bar lengths on a log scale)."""
    bars = ax.bar(x, heights, width, **kwargs)
    for bar, value in zip(bars, heights):
        if np.isfinite(value):
            ax.annotate(fmt_ns(value), (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom",
                        fontsize=6.5, rotation=90, xytext=(0, 2), textcoords="offset points")
    return bars


def _log_floor(ax, values):
    """Bottom of a log bar chart: well below the smallest bar, so lengths are not all near zero."""
    values = [v for v in values if v is not None and np.isfinite(v) and v > 0]
    if values:
        ax.set_ylim(min(values) / 4, max(values) * 3)


def _payload_axis(ax, payloads):
    ax.set_xscale("log", base=2)
    ax.set_xticks(payloads, [_payload_label(p) for p in payloads], rotation=30)
    ax.xaxis.set_minor_locator(plt.NullLocator())


def latency_vs_payload(scenarios):
    ring = [s for s in sweep.timing(scenarios) if s.role == "ringside" and s.load_mode == "closed"]
    varying = {"payload_bytes", "host.wait.kind", "sidecar.wait.kind"}
    chosen, fixed = sweep.best_slice(ring, varying, lambda s: (s.payload, s.wait))
    if len({s.payload for s in chosen}) < 2:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=72, sharey=False)
    waits = sorted({s.wait for s in chosen})
    payloads = sorted({s.payload for s in chosen})
    for ax, (metric, label) in zip(axes, LATENCY):
        for wait in waits:
            by = sweep.median_by([s for s in chosen if s.wait == wait], lambda s: s.payload, metric)
            xs = sorted(by)
            ax.plot(xs, [by[x] for x in xs], marker="o", label=wait)
        ax.set_title(f"{label} round trip")
        sparse_log(ax.yaxis)
        _payload_axis(ax, payloads)
    axes[0].legend(fontsize=8, title="wait strategy")
    fig.tight_layout()
    return Plot("payload", "Latency against payload size, one line per wait strategy", _close(fig),
                f"ringside, closed loop; fixed: {sweep.fixed_text(fixed)}")


def heatmap_p99(scenarios):
    ring = [s for s in sweep.timing(scenarios) if s.role == "ringside" and s.load_mode == "closed"]
    varying = {"payload_bytes", "host.wait.kind", "sidecar.wait.kind"}
    chosen, fixed = sweep.best_slice(ring, varying, lambda s: (s.payload, s.wait))
    cells = sweep.median_by(chosen, lambda s: (s.payload, s.wait), "p99")
    payloads, waits = sorted({k[0] for k in cells}), sorted({k[1] for k in cells})
    if len(payloads) < 2 or len(waits) < 2:
        return None
    grid = np.full((len(waits), len(payloads)), np.nan)
    for (payload, wait), value in cells.items():
        grid[waits.index(wait), payloads.index(payload)] = value
    fig, ax = plt.subplots(figsize=(1.2 * len(payloads) + 3, 0.45 * len(waits) + 1.6), dpi=72)
    image = ax.imshow(np.log10(grid), aspect="auto", cmap="viridis")
    for (row, col), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(col, row, fmt_ns(value), ha="center", va="center", fontsize=8,
                    color="white" if np.log10(value) < np.nanmean(np.log10(grid)) else "black")
    ax.set_xticks(range(len(payloads)), [_payload_label(p) for p in payloads])
    ax.set_yticks(range(len(waits)), waits)
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="log10 p99 (ns)")
    fig.tight_layout()
    return Plot("heatmap", "p99 over payload x wait strategy", _close(fig),
                f"ringside, closed loop; empty cells were not measured; fixed: {sweep.fixed_text(fixed)}")


def priority_contention(scenarios):
    ring = [s for s in sweep.timing(scenarios) if s.role == "ringside" and s.load_mode == "closed"]
    varying = {"placement", "contention.threads", "contention.sched.policy", "contention.sched.priority",
               "contention.sched.nice", "contention.cpus", "host.cpu", "sidecar.cpu"} | {
        f"{side}.sched.{key}" for side in ("host", "sidecar") for key in ("policy", "priority", "nice")}
    coords = lambda s: (s.param("placement"), bool(s.param("contention.threads")), sweep.sched_label(s))  # noqa: E731
    chosen, fixed = sweep.best_slice(ring, varying, coords)
    labels = sorted({coords(s)[2] for s in chosen})
    groups = sorted({coords(s)[:2] for s in chosen})
    if len(labels) < 2 and len(groups) < 2:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), dpi=72)
    width = 0.8 / max(len(labels), 1)
    for ax, metric in zip(axes, ("p50", "p99")):
        by = sweep.median_by(chosen, coords, metric)
        for j, label in enumerate(labels):
            heights = [by.get(g + (label,), np.nan) for g in groups]
            refused = sum(1 for s in chosen if coords(s)[2] == label and
                          any(not g.get("as_requested", True) for _, g in s.grants()))
            name = f"boost: {label}" + (f" (NOT granted in {refused} scenarios)" if refused else "")
            _bars(ax, np.arange(len(groups)) + j * width, heights, width, label=name)
        _log_floor(ax, list(by.values()))
        ax.set_xticks(np.arange(len(groups)) + width * (len(labels) - 1) / 2,
                      [f"{p.replace('_', ' ')}\n{'with' if c else 'no'} contention" for p, c in groups])
        sparse_log(ax.yaxis)
        ax.set_title(f"{metric} round trip")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=min(len(labels), 4), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.88))
    return Plot("priority", "Priority with and without contention, same vs different cores", _close(fig),
                f"ringside, closed loop; fixed: {sweep.fixed_text(fixed)}")


def latency_vs_cpu(scenarios):
    ring = [s for s in sweep.timing(scenarios) if s.role == "ringside" and s.value("cpu") is not None]
    if len(ring) < 2:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), dpi=72)
    for ax, metric in zip(axes, ("p50", "p99")):
        for wait in sorted({s.wait for s in ring}):
            points = [(s.value("cpu"), s.value(metric)) for s in ring if s.wait == wait]
            points = [p for p in points if p[1] is not None]
            ax.scatter([p[0] for p in points], [p[1] for p in points], label=wait, s=22, alpha=0.8)
        sparse_log(ax.xaxis)
        sparse_log(ax.yaxis)
        ax.set_xlabel("CPU time per message (both sides)")
        ax.set_title(f"{metric} against CPU per message")
    axes[0].legend(fontsize=8, title="wait strategy")
    fig.tight_layout()
    return Plot("cpu", "Latency against CPU per message, per wait strategy", _close(fig),
                "every ringside scenario; lower-left is better: a wait strategy buys latency with CPU")


def throughput_vs_payload(scenarios, memcpy, memcpy_by_payload=None):
    runs = [s for s in sweep.timing(scenarios) if s.role != "floor" and s.value("throughput") is not None]
    mode = "throughput" if any(s.load_mode == "throughput" for s in runs) else "closed"
    runs = [s for s in runs if s.load_mode == mode]
    chosen, fixed = sweep.best_slice(runs, {"payload_bytes", "queue"}, lambda s: (s.payload, s.queue))
    if len({s.payload for s in chosen}) < 2:
        return None
    payloads = sorted({s.payload for s in chosen})
    reference = {p: r for p, r in (memcpy_by_payload or {}).items() if payloads[0] <= p <= payloads[-1]}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), dpi=72)
    ratios = []
    for queue in [q for q in QUEUE_ORDER if q in {s.queue for s in chosen}]:
        mine = [s for s in chosen if s.queue == queue]
        msgs = sweep.median_by(mine, lambda s: s.payload, "throughput")
        xs = sorted(msgs)
        axes[0].plot(xs, [msgs[x] for x in xs], marker="o", label=queue)
        axes[1].plot(xs, [msgs[x] * x for x in xs], marker="o", label=queue)
        if queue == "ringside":
            for x in xs:
                if x in reference:
                    ratio = msgs[x] * x / reference[x]
                    ratios.append(f"{_payload_label(x)} {ratio:.2f}x")
                    axes[1].annotate(f"{ratio:.2f}x memcpy", (x, msgs[x] * x), textcoords="offset points",
                                     xytext=(4, -12), fontsize=7)
    if reference:
        xs = sorted(reference)
        axes[1].plot(xs, [reference[x] for x in xs], color="gray", ls="--", marker=".", label="memcpy (one core)")
    elif memcpy:
        axes[1].axhline(memcpy, color="gray", ls="--", label=f"memcpy {memcpy / 1e9:.1f} GB/s")
    for ax, unit in zip(axes, ("messages/s", "bytes/s")):
        sparse_log(ax.yaxis, FuncFormatter(lambda v, _p, u=unit: fmt_rate(v, "") + ("B/s" if u == "bytes/s" else "/s")))
        ax.set_ylabel(unit)
        _payload_axis(ax, payloads)
        ax.set_title(f"throughput in {unit}")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    if reference:
        note = ("dashed: the machine memcpy bandwidth per payload size (ringside_memcpy_bench, this run); "
                f"ringside bytes/s as a multiple of it: {', '.join(ratios) or 'no common payload'}")
    elif memcpy:
        note = "dashed: the machine memcpy bandwidth"
    else:
        note = "memcpy bandwidth not measured in this run"
    return Plot("throughput", "Throughput against payload", _close(fig),
                f"load mode {mode}; {note}; fixed: {sweep.fixed_text(fixed)}")


def peers_and_floors(scenarios):
    closed = [s for s in sweep.timing(scenarios) if s.load_mode == "closed"]
    chosen, fixed = sweep.best_slice(closed, {"payload_bytes", "queue"}, lambda s: (s.payload, s.queue))
    queues = [q for q in QUEUE_ORDER if q in {s.queue for s in chosen}]
    if len(queues) < 2:
        return None
    payloads = sorted({s.payload for s in chosen})
    fig, axes = plt.subplots(1, 2, figsize=(13, 4), dpi=72)
    width = 0.8 / len(queues)
    for ax, metric in zip(axes, ("p50", "p99")):
        by = sweep.median_by(chosen, lambda s: (s.payload, s.queue), metric)
        for j, queue in enumerate(queues):
            _bars(ax, np.arange(len(payloads)) + j * width, [by.get((p, queue), np.nan) for p in payloads], width,
                  label=queue, hatch="//" if queue.startswith("floor") else None)
        _log_floor(ax, list(by.values()))
        ax.set_xticks(np.arange(len(payloads)) + width * (len(queues) - 1) / 2,
                      [_payload_label(p) for p in payloads])
        sparse_log(ax.yaxis)
        ax.set_title(f"{metric} round trip by payload")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=len(queues), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return Plot("peers", "ringside vs peers vs floors", _close(fig), f"fixed: {sweep.fixed_text(fixed)}")


def python_vs_cpp(scenarios):
    """Python host p50 / C++ host p50 of the same scenario (results.json ratios.vs_cpp_host), per payload and wait."""
    python = [s for s in sweep.timing(scenarios)
              if s.param("host_kind") == "python" and s.ratios.get("vs_cpp_host") is not None]
    if not python:
        return None

    def label(s):
        return f"{s.wait}, {s.param('delivery', 'vtable')}"

    payloads = sorted({s.payload for s in python})
    labels = sorted({label(s) for s in python})
    ratio = {(s.payload, label(s)): s.ratios["vs_cpp_host"] for s in python}
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=72)
    width = 0.8 / len(labels)
    for j, name in enumerate(labels):
        _bars(ax, np.arange(len(payloads)) + j * width, [ratio.get((p, name), np.nan) for p in payloads], width,
              label=name)
    ax.set_yscale("log")
    _log_floor(ax, list(ratio.values()))
    ax.axhline(1, color="gray", ls=":")
    ax.set_xticks(np.arange(len(payloads)) + width * (len(labels) - 1) / 2, [_payload_label(p) for p in payloads])
    ax.set_ylabel("Python p50 / C++ p50")
    ax.legend(fontsize=8, title="wait, delivery")
    ax.set_title("What a managed host pays: the Python host against the C++ host")
    fig.tight_layout()
    listed = "; ".join(f"{_payload_label(p)} {name}: {ratio[(p, name)]:.1f}x" for p in payloads for name in labels
                       if (p, name) in ratio)
    return Plot("python-host", "Python host vs C++ host", _close(fig),
                "round-trip p50 of the Python host (ctypes binding, GIL on the callback thread) over the C++ host of "
                f"the same scenario in this run: {listed}")


def all_plots(scenarios, memcpy_bytes_per_s=None, memcpy_by_payload=None):
    makers = (lambda: latency_vs_payload(scenarios), lambda: heatmap_p99(scenarios),
              lambda: priority_contention(scenarios), lambda: latency_vs_cpu(scenarios),
              lambda: throughput_vs_payload(scenarios, memcpy_bytes_per_s, memcpy_by_payload), lambda: peers_and_floors(scenarios),
              lambda: python_vs_cpp(scenarios))
    return [plot for plot in (make() for make in makers) if plot is not None]
