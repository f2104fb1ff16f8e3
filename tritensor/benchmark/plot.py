"""The benchmark job's figure: the roofline with every tuned kernel on it, and per-kernel config bars."""

from __future__ import annotations

from ..autotune.roofline import Peak
from ..autotune.space import config_id
from .job import Measured, point


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
    _roofline(axes[0, 0], tunings, peak)
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


def _roofline(ax, tunings: list, peak: Peak) -> None:
    import numpy as np

    intensity = np.logspace(-2, 4, 200)
    for kind, style in (("tc16", "-"), ("fp32", "--")):
        roof = np.minimum(peak.flops[kind], intensity * peak.bandwidth) / 1e12
        ax.plot(intensity, roof, style, color="black", linewidth=1, label=f"roof ({kind})")
    for m, r in tunings:
        p = point(r, m.dtype)
        if p is None:
            continue
        ax.scatter([p.intensity], [p.tflops], s=30, zorder=3)
        ax.annotate(f"{r.spec_name} {m.label}", (p.intensity, p.tflops), fontsize=7, xytext=(4, 2),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(f"{peak.name} ({peak.bandwidth / 1e9:.0f} GB/s, {peak.flops['tc16'] / 1e12:.0f} TFLOP/s fp16 "
                 "tensor cores)")
    ax.legend(fontsize=8)
