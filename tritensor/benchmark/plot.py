"""The benchmark job's figure: the roofline with every tuned kernel on it, and per-kernel config bars."""

from __future__ import annotations

from ..autotune.roofline import Peak
from ..autotune.space import config_id, key_string
from .job import Measured, attainable, point


def pyplot():
    """matplotlib.pyplot on the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(plt, measured: list[Measured], peak: Peak, path: str) -> None:
    """Write the roofline (top) and one bar chart of config times per tuning (below) to `path`."""
    tunings = [(m, r) for m in measured for r in m.results]
    fig, axes = plt.subplots(1 + len(tunings), 1, figsize=(11, 5 + 3 * len(tunings)), squeeze=False,
                             gridspec_kw={"height_ratios": [5] + [3] * len(tunings)})
    points = [(f"{r.spec_name} {m.label}", point(r, m.dtype)) for m, r in tunings]
    _roofline(axes[0, 0], [(name, p) for name, p in points if p is not None], peak)
    for ax, (m, r) in zip(axes[1:, 0], tunings):
        timed = sorted((t for t in r.trials if t.time_ms is not None), key=lambda t: t.time_ms)
        colors = ["tab:orange" if t.config == r.best else "tab:gray" if t.config == r.heuristic else "tab:blue"
                  for t in timed]
        ax.bar(range(len(timed)), [t.time_ms for t in timed], color=colors)
        ax.set_xticks(range(len(timed)), [config_id(t.config) for t in timed], rotation=60, fontsize=6, ha="right")
        ax.set_ylabel("ms")
        ax.set_title(f"{r.spec_name}  {m.label}  (orange: best, gray: heuristic)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_launches(plt, measured: list[Measured], peak: Peak, path: str) -> None:
    """A dry run's figure: every (kernel, key) launched, on `peak`'s roof at the throughput its cost model
    allows at best (top), and that best-case time per launch (below). Nothing here was timed."""
    launches = [(f"{launch.kernel} {key_string(launch.key)}", attainable(launch, m.dtype, peak), launch.count)
                for m in measured for launch in m.launches if launch.bytes]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 10), gridspec_kw={"height_ratios": [5, 3]})
    _roofline(top, [(name.split()[0], p) for name, p, _ in launches], peak, hollow=True)
    top.set_title(top.get_title() + "\ndry run: each launch at the roof its cost model allows (not timed)",
                  fontsize=10)
    bottom.barh(range(len(launches)), [p.time_ms * 1e3 * count for _, p, count in launches])
    bottom.set_yticks(range(len(launches)), [f"{name} x{count}" for name, _, count in launches], fontsize=6)
    bottom.invert_yaxis()
    bottom.set_xscale("log")
    bottom.set_xlabel("best-case time on this roof, all launches of the key (us)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _roofline(ax, points: list, peak: Peak, hollow: bool = False) -> None:
    import numpy as np

    intensity = np.logspace(-2, 4, 200)
    for kind, style in (("tc16", "-"), ("fp32", "--")):
        roof = np.minimum(peak.flops[kind], intensity * peak.bandwidth) / 1e12
        ax.plot(intensity, roof, style, color="black", linewidth=1, label=f"roof ({kind})")
    named = set()
    for name, p in points:
        ax.scatter([p.intensity], [p.tflops], s=30, zorder=3, facecolors="none" if hollow else None,
                   edgecolors="tab:blue" if hollow else None)
        if name not in named:  # a name once: a dry run places many keys of one kernel on the same slope
            ax.annotate(name, (p.intensity, p.tflops), fontsize=7, xytext=(4, 2), textcoords="offset points")
        named.add(name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(f"{peak.name} ({peak.bandwidth / 1e9:.0f} GB/s, {peak.flops['tc16'] / 1e12:.0f} TFLOP/s fp16 "
                 "tensor cores)")
    ax.legend(fontsize=8)
