"""tt.backends.cuda: the switches of PyTorch's torch.backends.cuda that change what the Triton kernels do."""

from __future__ import annotations

__all__ = ["matmul", "is_built"]


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


matmul = _MatmulFlags()


def is_built() -> bool:
    """True: the Triton kernels are always part of tritensor (whether a GPU is present is tt.cuda's question)."""
    return True
