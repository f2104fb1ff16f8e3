"""repr() in PyTorch's format: tensor([...], device='cuda:0', dtype=tritensor.float16, requires_grad=True).

`set_printoptions` sets what the text shows (precision, summarisation, line width, scientific notation), as
torch.set_printoptions does; the layout rules below (one width per tensor, integer mode for whole-valued floats,
scientific notation chosen from the range of the shown values, summaries with edge items) are PyTorch's.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from . import dtypes as D


class _PrintOptions:
    """The current print options (one set per process, as in PyTorch)."""

    __slots__ = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")

    def __init__(self) -> None:
        self.precision = 4
        self.threshold: float = 1000
        self.edgeitems = 3
        self.linewidth = 80
        self.sci_mode: bool | None = None


_OPTS = _PrintOptions()

# precision, threshold, edgeitems, linewidth of each named profile
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def _checked_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"set_printoptions(): argument '{name}' must be int, not {type(value).__name__}")
    if value < low:
        raise ValueError(f"set_printoptions(): argument '{name}' must be at least {low}, got {value}")
    return int(value)


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Sets how tensors print, as torch.set_printoptions.

    Args:
        precision: digits after the decimal point of floating-point values (default 4).
        threshold: tensors with more elements than this print summarised: `edgeitems` values at each end of
            every dimension around `...` (default 1000; `math.inf` never summarises).
        edgeitems: values shown at each end of a summarised dimension (default 3).
        linewidth: characters per line before a row of values wraps (default 80).
        profile: "default", "short" (precision 2, edgeitems 2) or "full" (no summary) sets the four options
            above first; the others given in the same call then override it. Any other profile is ignored, as
            PyTorch ignores it.
        sci_mode: True or False forces scientific notation on or off; None (also what every call that omits
            it sets, as in PyTorch) chooses it from the values.

    Options left None keep their current value (except `sci_mode`).

    >>> tt.set_printoptions(precision=2)
    >>> tt.tensor([1.12345])
    tensor([1.12])
    >>> tt.set_printoptions(threshold=5)
    >>> tt.arange(10)
    tensor([0, 1, 2,  ..., 7, 8, 9])
    >>> tt.set_printoptions(profile="default")
    """
    # Check everything before changing anything: a bad call leaves the options as they were.
    if precision is not None:
        precision = _checked_int("precision", precision, 0)
    if edgeitems is not None:
        edgeitems = _checked_int("edgeitems", edgeitems, 0)
    if linewidth is not None:
        linewidth = _checked_int("linewidth", linewidth, 1)
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, Real)
                                  or math.isnan(threshold)):
        raise TypeError(f"set_printoptions(): argument 'threshold' must be a number, not {type(threshold).__name__}")
    if sci_mode is not None and not isinstance(sci_mode, (bool, np.bool_)):
        raise TypeError(f"set_printoptions(): argument 'sci_mode' must be bool or None, not "
                        f"{type(sci_mode).__name__}")
    if isinstance(profile, str) and profile in _PROFILES:
        _OPTS.precision, _OPTS.threshold, _OPTS.edgeitems, _OPTS.linewidth = _PROFILES[profile]
    if precision is not None:
        _OPTS.precision = precision
    if threshold is not None:
        _OPTS.threshold = threshold
    if edgeitems is not None:
        _OPTS.edgeitems = edgeitems
    if linewidth is not None:
        _OPTS.linewidth = linewidth
    _OPTS.sci_mode = None if sci_mode is None else bool(sci_mode)


class _Formatter:
    """One text width and notation for every value of a tensor, chosen from the values that will be shown."""

    def __init__(self, values: np.ndarray, floating: bool) -> None:
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if not floating:
            if values.size:
                # An integer's text only grows with its magnitude, so the extremes give the widest one.
                self.width = max(len(str(values.min().item())), len(str(values.max().item())))
            return
        flat = values.ravel()
        shown = flat[np.isfinite(flat) & (flat != 0)]
        if shown.size == 0:
            # Only zeros and non-finite values: integer mode, and (as in PyTorch) sci_mode is not applied.
            return
        magnitudes = np.abs(shown)
        low, high = float(magnitudes.min()), float(magnitudes.max())
        self.int_mode = bool(np.all(shown == np.ceil(shown)))
        precision = _OPTS.precision
        if self.int_mode:
            self.sci_mode = high / low > 1000.0 or high > 1.0e8
            texts = [f"{v:.{precision}e}" for v in shown.tolist()] if self.sci_mode else \
                [f"{v:.0f}." for v in shown.tolist()]
        else:
            self.sci_mode = high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
            texts = [f"{v:.{precision}{'e' if self.sci_mode else 'f'}}" for v in shown.tolist()]
        self.width = max(1, max(len(text) for text in texts))
        if _OPTS.sci_mode is not None:
            self.sci_mode = _OPTS.sci_mode

    def format(self, value) -> str:
        """One value's text, right-aligned to the common width."""
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{_OPTS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" if math.isinf(value) or math.isnan(value) else f"{value:.0f}."
        else:
            text = f"{value:.{_OPTS.precision}f}"
        return text.rjust(self.width)


class _Layout:
    """Writes the nested `[...]` text of one tensor's values with its formatters (two for complex values)."""

    def __init__(self, summarize: bool, real: _Formatter, imag: _Formatter | None = None) -> None:
        self.summarize = summarize
        self.real = real
        self.imag = imag
        self.edge = _OPTS.edgeitems

    def value(self, v) -> str:
        if self.imag is None:
            return self.real.format(v)
        imag = (self.imag.format(v.imag) + "j").lstrip()
        # A sign of its own (negative, -0.0, nan with a sign) joins directly; otherwise a "+" joins the parts.
        return self.real.format(v.real) + (imag if imag[0] in "+-" else "+" + imag)

    def vector(self, row: np.ndarray, indent: int) -> str:
        width = self.real.width + 2 + (self.imag.width + 1 if self.imag is not None else 0)
        per_line = max(1, int((_OPTS.linewidth - indent) // width))
        n, edge = row.shape[0], self.edge
        if self.summarize and not edge:
            texts = ["..."]
        elif self.summarize and n > 2 * edge:
            texts = [self.value(v) for v in row[:edge].tolist()] + [" ..."] + \
                [self.value(v) for v in row[n - edge:].tolist()]
        else:
            texts = [self.value(v) for v in row.tolist()]
        lines = [", ".join(texts[i:i + per_line]) for i in range(0, len(texts), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"

    def nested(self, a: np.ndarray, indent: int) -> str:
        if a.ndim == 0:
            return self.value(a.item())
        if a.ndim == 1:
            return self.vector(a, indent)
        n, edge = a.shape[0], self.edge
        if self.summarize and n > 2 * edge:
            slices = [self.nested(a[i], indent + 1) for i in range(edge)] + ["..."] + \
                [self.nested(a[i], indent + 1) for i in range(n - edge, n)]
        else:
            slices = [self.nested(a[i], indent + 1) for i in range(n)]
        return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _shown(values: np.ndarray) -> np.ndarray:
    """The values a summarised print shows (edge items of every dimension): what the formatter is fitted to."""
    edge = _OPTS.edgeitems
    if values.ndim == 0:
        return values
    if values.ndim > 1 and not edge:
        return values[(slice(0, 0),) * values.ndim]
    picks = [np.r_[0:edge, n - edge:n] if n > 2 * edge else np.arange(n) for n in values.shape]
    return values[np.ix_(*picks)]


def _format(values: np.ndarray, dtype: D.dtype, indent: int = 7) -> str:
    """The `[...]` text of a non-empty host array holding a tensor of `dtype`, its continuation lines indented
    for a text that starts `indent` columns in (7: after "tensor(")."""
    summarize = values.size > _OPTS.threshold
    if dtype.is_complex:
        values = values.astype(np.complex128)
        sample = _shown(values) if summarize else values
        layout = _Layout(summarize, _Formatter(sample.real, True), _Formatter(sample.imag, True))
    elif dtype.is_floating_point:
        values = values.astype(np.float64)  # float16/bfloat16 print through float, as in PyTorch
        layout = _Layout(summarize, _Formatter(_shown(values) if summarize else values, True))
    else:
        layout = _Layout(summarize, _Formatter(_shown(values) if summarize else values, False))
    return layout.nested(values, indent)


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """Appends `, name=value` suffixes, starting a new line (indented) where one would pass the line width."""
    parts = [text]
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > _OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(t) -> str:
    """The text `repr(tensor)` shows, PyTorch's format: values, then device, size and dtype where needed.

    Reads the values to the host (a synchronisation point on cuda).
    """
    values = t.detach()._to_host_array()
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if values.size == 0:
        body = "[]"
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if t.dtype is not D.get_default_dtype():
            suffixes.append(f"dtype={t.dtype}")
    else:
        body = _format(values, t.dtype)
        if not _OPTS.edgeitems:
            suffixes.append(f"size={tuple(t.shape)}")
        if t.dtype not in (D.get_default_dtype(), D.default_complex_dtype(), D.int64, D.bool):
            suffixes.append(f"dtype={t.dtype}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes("tensor(" + body, suffixes, 7)
