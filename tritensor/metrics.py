"""Training metrics on disk: a JSON-lines log (`tritensor train --metrics PATH`) and loss/accuracy curves drawn
with matplotlib (`--plot PNG`, the `plot` extra).

One record per line, in the order they happened:

    {"kind": "step", "epoch": 1, "step": 1, "loss": 2.31, "accuracy": null, "lr": 0.003, "time_s": 0.01}
    {"kind": "eval", "epoch": 1, "step": 23, "loss": 0.41, "train_loss": 1.02, "accuracy": 0.93, "lr": ..., ...}

`step` counts optimizer steps from the start of the run (it continues across --resume); `epoch` is 1-based;
an eval record's `loss` is the test loss and `train_loss` the epoch's mean training loss; `time_s` is the
training time since the run started (data loading excluded).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

PLOT_INSTALL = 'pip install "tritensor[plot]"'
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _json_number(value: Any) -> Any:
    # JSON has no NaN/Infinity: a diverged loss is written as null rather than as invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Collects a run's step and eval records and, given a path, appends each to a JSON-lines file as it
    happens (flushed per line, so another process can follow the run)."""

    def __init__(self, path: str | os.PathLike | None = None, *, resume_step: int | None = None,
                 tensorboard: str | os.PathLike | None = None) -> None:
        """Start a log at `path` (None: in memory only). With `resume_step`, the run continues a saved one:
        the file's records up to that step are kept (and re-read) and later ones, which the interrupted run
        wrote after its checkpoint, are dropped; otherwise the file starts empty. With `tensorboard`, every
        record's numbers also go to a SummaryWriter there, as scalars `<kind>/<field>` at the record's step."""
        self.records: list[dict[str, Any]] = []
        self._writer = None
        if tensorboard is not None:
            from .utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(tensorboard), purge_step=resume_step)
        self.path = None if path is None else Path(path)
        if self.path is None:
            self._file = None
            return
        if resume_step is not None and self.path.is_file():
            self.records = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        for record in self.records:
            self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps({k: _json_number(v) for k, v in record.items()}, allow_nan=False) + "\n")
        self._file.flush()

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Record one event ("step" or "eval") with its fields; returns the record."""
        record = {"kind": kind, **fields}
        self.records.append(record)
        if self._file is not None:
            self._write(record)
        if self._writer is not None:
            step = record.get("step")
            for name, value in fields.items():
                if name not in ("step", "epoch") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(f"{kind}/{name}", value, global_step=step)
        return record

    def close(self) -> None:
        """Close the file and the TensorBoard writer (the records stay in memory)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a metrics file; a torn last line (a run killed mid-write) is ignored."""
    records = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                break
            if isinstance(record, dict):
                records.append(record)
    return records


def plot_available() -> bool:
    """Whether matplotlib (the `plot` extra) can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_metrics(records: list[dict[str, Any]], path: str | os.PathLike, *, title: str | None = None) -> None:
    """Draw the training loss (per step, and the evaluated losses) and, for a classifier, the test accuracy per
    epoch into an image file (format from the suffix: .png, .svg or .pdf). Records whose evaluations carry no
    accuracy (a language model's) get the loss panel only, with the validation loss."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot's import
    import matplotlib.pyplot as plt

    steps = [r for r in records if r["kind"] == "step" and r.get("loss") is not None]
    evals = [r for r in records if r["kind"] == "eval"]
    text = not any(r.get("accuracy") is not None for r in evals)
    fig, axes = plt.subplots(1, 1 if text else 2, figsize=(5 if text else 8, 3), dpi=100, squeeze=False)
    ax_loss = axes[0][0]
    ax_loss.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=0.6, alpha=0.5, color="tab:blue",
                 label="train (per step)")
    ax_loss.plot([r["step"] for r in evals], [r.get("train_loss") for r in evals], "-", color="tab:blue",
                 label="train (evaluated)" if text else "train (epoch mean)")
    ax_loss.plot([r["step"] for r in evals], [r["loss"] for r in evals], "o-", ms=3, color="tab:orange",
                 label="validation" if text else "test")
    ax_loss.set(xlabel="step", ylabel="cross-entropy (nats/char)" if text else "cross-entropy loss",
                yscale="linear" if text else "log")
    ax_loss.legend(fontsize="small")
    if text and evals:
        ax_loss.set_title(f"final validation loss {evals[-1]['loss']:.4f}", fontsize="small")
    if not text:
        _accuracy_panel(axes[0][1], evals)
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _accuracy_panel(ax, evals: list[dict[str, Any]]) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.plot([r["epoch"] for r in evals], [r["accuracy"] for r in evals], "o-", ms=3, color="tab:green")
    ax.set(xlabel="epoch", ylabel="test accuracy")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if evals:
        ax.set_title(f"final test accuracy {evals[-1]['accuracy']:.4f}", fontsize="small")
