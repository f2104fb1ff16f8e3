"""Correctly rounded fp32 division and square root for kernels that must match IEEE results.

On NVIDIA GPUs fp32 `/` compiles to the 2-ulp div.full and tl.sqrt to sqrt.approx; fp64 is IEEE anyway.
"""

import triton
import triton.language as tl


@triton.jit
def div_ieee(a, b):
    """Correctly rounded a / b."""
    if b.dtype.is_fp64():
        return a / b
    else:
        return tl.div_rn(a, b)


@triton.jit
def sqrt_ieee(x):
    """Correctly rounded sqrt(x)."""
    if x.dtype.is_fp64():
        return tl.sqrt(x)
    else:
        return tl.sqrt_rn(x)
