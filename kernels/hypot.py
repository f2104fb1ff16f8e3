"""hypot(a, b) = sqrt(a**2 + b**2), elementwise: the Triton math on the shared map kernel, and the NumPy
reference. The worked example of CONTRIBUTING.md: a new elementwise op is this module, tritensor/ops/hypot.py
and tests/ops/test_hypot.py, nothing else.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import MAP_SHIPPED, MAP_SPACE, _map_signature, launch_map, map_kernel
from .ieee_math import div_ieee, sqrt_ieee
from .launch_spec import KernelSpec


@triton.jit
def _hypot(a, b, p0, p1):
    # Scaled by the larger magnitude, as C's hypot: a*a + b*b would overflow fp32 above ~1.8e19 and
    # underflow below ~1e-19. As in C, an infinite operand wins over a NaN one.
    abs_a = tl.abs(a)
    abs_b = tl.abs(b)
    big = tl.where(abs_a > abs_b, abs_a, abs_b)
    small = tl.where(abs_a > abs_b, abs_b, abs_a)
    ratio = div_ieee(small, tl.where(big == 0, 1.0, big))
    scaled = big * sqrt_ieee(1.0 + ratio * ratio)
    scaled = tl.where((a != a) | (b != b), float("nan"), scaled)
    return tl.where((abs_a == float("inf")) | (abs_b == float("inf")), float("inf"), scaled)


def hypot(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """out = hypot(a, b); a and b already share out's dtype and are broadcast to its shape."""
    launch_map(_hypot, [out], [a, b])


def hypot_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NumPy's hypot, through fp32 for half types (as PyTorch computes them)."""
    if a.dtype.itemsize < 4:
        return np.hypot(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
    return np.hypot(a, b)


SPECS = [
    KernelSpec(f"hypot.map[{dtype}]", map_kernel, _map_signature(dtype, 2, 1), dict(OP=_hypot, N_IN=2, N_OUT=1),
               MAP_SHIPPED, MAP_SPACE)
    for dtype in ("fp32", "fp16", "bf16", "fp64")
]
