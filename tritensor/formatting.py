"""repr() in PyTorch's format: tensor([...], device='cuda:0', dtype=tritensor.float16, requires_grad=True)."""

from __future__ import annotations

import numpy as np

from . import dtypes as D

_PRECISION = 4
_THRESHOLD = 1000
_EDGEITEMS = 3
_LINEWIDTH = 80


def _float_formatter(values: np.ndarray):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{_PRECISION}f}"
    absmax = float(np.abs(finite).max())
    absmin = float(np.abs(finite[finite != 0]).min()) if np.any(finite != 0) else 0.0
    if np.all(finite == np.round(finite)) and absmax < 1e8:
        width = max(len(f"{v:.0f}.") for v in finite)
        return lambda v: (_special(v) or f"{v:.0f}.").rjust(width)
    if absmax >= 1e8 or (absmin and absmin < 1e-4) or (absmin and absmax / absmin > 1000.0):
        width = max(len(f"{v:.{_PRECISION}e}") for v in finite)
        return lambda v: (_special(v) or f"{v:.{_PRECISION}e}").rjust(width)
    width = max(len(f"{v:.{_PRECISION}f}") for v in finite)
    return lambda v: (_special(v) or f"{v:.{_PRECISION}f}").rjust(width)


def _complex_formatter(values: np.ndarray):
    """PyTorch's complex format, `1.5000+2.0000j`: each part has its own float format over all elements."""
    real = _float_formatter(values.real.astype(np.float64))
    imag = _float_formatter(np.abs(values.imag).astype(np.float64))
    texts = {}

    def text(v) -> str:
        sign = "-" if np.signbit(v.imag) and not np.isnan(v.imag) else "+"
        return f"{real(float(v.real))}{sign}{imag(abs(float(v.imag))).strip()}j"

    width = max((len(text(v)) for v in values), default=0)
    return lambda v: texts.setdefault(complex(v), text(v).rjust(width))


def _special(v: float) -> str | None:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _format(values: np.ndarray, dtype: D.dtype) -> str:
    summarize = values.size > _THRESHOLD
    if dtype is D.bool:
        fmt = lambda v: str(bool(v))  # noqa: E731
        width = 5 if values.size and not values.all() else 4
        fmt2 = lambda v: fmt(v).rjust(width)  # noqa: E731
    elif dtype.is_complex:
        fmt2 = _complex_formatter(values.ravel())
    elif dtype.is_floating_point:
        sample = values.astype(np.float64)
        fmt2 = _float_formatter(sample.ravel())
        values = sample
    else:
        width = max((len(str(int(v))) for v in values.ravel()), default=1)
        fmt2 = lambda v: str(int(v)).rjust(width)  # noqa: E731
    return np.array2string(values, formatter={"all": fmt2}, separator=", ", prefix="tensor(",
                           threshold=_THRESHOLD if summarize else values.size + 1, edgeitems=_EDGEITEMS,
                           max_line_width=_LINEWIDTH)


def tensor_repr(t) -> str:
    """The text `repr(tensor)` shows, PyTorch's format: values, then device, size and dtype where needed.

    Reads the values to the host (a synchronisation point on cuda).
    """
    values = t.detach()._to_host_array()
    body = _format(values, t.dtype) if values.size else "[]"
    suffix = []
    if t.device.type != "cpu":
        suffix.append(f"device='{t.device}'")
    if values.size == 0 and t.ndim != 1:
        suffix.append(f"size={tuple(t.shape)}")
    defaults = (D.get_default_dtype(), D.default_complex_dtype(), D.int64, D.bool)
    if t.dtype not in defaults or (values.size == 0 and t.dtype is not D.get_default_dtype()):
        suffix.append(f"dtype={t.dtype}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffix.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + suffix) + ")"
