"""tt.backends: PyTorch's backend switches, for the ones that change what tritensor's kernels do.

    tt.backends.cuda.matmul.allow_tf32 = True   # fp32 matmuls may use TF32 tensor cores (default False)
    tt.set_float32_matmul_precision("high")      # the same switch, PyTorch's other spelling

tritensor does not use cuDNN; `tt.backends.cudnn` only accepts the flags PyTorch scripts commonly set
(benchmark, deterministic, ...) so such scripts port unchanged, and they have no effect.
"""

from __future__ import annotations

_PRECISIONS = ("highest", "high", "medium")


class _MatmulFlags:
    """tt.backends.cuda.matmul: how float32 matmuls may trade precision for speed on the GPU."""

    __slots__ = ("_allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction")

    def __init__(self):
        # PyTorch's default since 1.12: full fp32 (IEEE) products unless the user opts in.
        self._allow_tf32 = False
        # Accepted for compatibility; the kernels always accumulate 16-bit products in fp32.
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self) -> bool:
        return self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"allow_tf32 expects a bool, got {type(value).__name__}")
        self._allow_tf32 = value

    def __repr__(self) -> str:
        return f"tt.backends.cuda.matmul(allow_tf32={self._allow_tf32})"


class _CudaBackend:
    __slots__ = ("matmul",)

    def __init__(self):
        self.matmul = _MatmulFlags()

    @staticmethod
    def is_built() -> bool:
        """True: the Triton kernels are always part of tritensor (whether a GPU is present is tt.cuda's question)."""
        return True


class _CudnnBackend:
    """Accepted, without effect: tritensor's kernels are Triton kernels, not cuDNN calls."""

    def __init__(self):
        self.enabled = True
        self.benchmark = False
        self.deterministic = False
        self.allow_tf32 = True

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def version() -> None:
        return None


cuda = _CudaBackend()
cudnn = _CudnnBackend()


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


__all__ = ["cuda", "cudnn", "get_float32_matmul_precision", "set_float32_matmul_precision"]
