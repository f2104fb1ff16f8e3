"""tt.backends: PyTorch's backend switches, for the ones that change what tritensor's kernels do.

    tt.backends.cuda.matmul.allow_tf32 = True   # fp32 matmuls may use TF32 tensor cores (default False)
    tt.set_float32_matmul_precision("high")      # the same switch, PyTorch's other spelling

tritensor does not use cuDNN; `tt.backends.cudnn` only accepts the flags PyTorch scripts commonly set
(benchmark, deterministic, ...) so such scripts port unchanged, and they have no effect. Each backend is a module,
as PyTorch's are (`import tritensor.backends.cudnn as cudnn` works): cuda, cudnn, mps.
"""

from __future__ import annotations

from . import cuda, cudnn, mps

_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision: str) -> None:
    """PyTorch's switch: "highest" keeps fp32 matmuls in IEEE fp32; "high" and "medium" allow TF32."""
    if precision not in _PRECISIONS:
        raise RuntimeError(f"Invalid precision: {precision!r}; expected one of {', '.join(_PRECISIONS)}")
    cuda.matmul.allow_tf32 = precision != "highest"


def get_float32_matmul_precision() -> str:
    """The current float32 matmul precision: "highest" (IEEE fp32) or "high" (TF32 allowed).

    "medium" set with `set_float32_matmul_precision` reads back as "high" (both only allow TF32 here).
    """
    return "high" if cuda.matmul.allow_tf32 else "highest"


__all__ = ["cuda", "cudnn", "mps", "get_float32_matmul_precision", "set_float32_matmul_precision"]
