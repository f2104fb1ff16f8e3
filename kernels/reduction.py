"""Row reductions over a (M, R) strided view: sum (the foundation's reduction).

The Tensor layer permutes the reduced dims last and collapses each group to one strided dim
(copying only when a group cannot be collapsed), so one kernel covers every `dim`. Each program
owns BLOCK_M rows and loops over R in BLOCK_R chunks, accumulating in fp32 (fp64 for fp64): R is a
runtime value, so rows of any length share one compiled kernel per block shape.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .strided import cast_to

# (BLOCK_M, BLOCK_R, num_warps): rows contiguous along R read a long chunk of one row; rows whose
# elements are strided (R is an outer dim) read many rows side by side so loads coalesce across M.
ROW_CONTIGUOUS = dict(BLOCK_M=1, BLOCK_R=1024, num_warps=4)
ROW_STRIDED = dict(BLOCK_M=64, BLOCK_R=16, num_warps=4)



@triton.jit
def sum_kernel(
    out_ptr,  # (M,) output
    x_ptr,  # (M, R) input view
    M, R,  # rows, reduced length
    stride_xm, stride_xr,  # input strides (elements)
    stride_out,  # output stride (elements)
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # reduced elements per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    if x_ptr.dtype.element_ty.is_int():
        acc_type = tl.int64
    acc = tl.zeros((BLOCK_M, BLOCK_R), dtype=acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = tl.load(x_ptr + rows[:, None] * stride_xm + cols[None, :] * stride_xr, mask=mask, other=0)
        acc += x.to(acc_type)
    total = cast_to(tl.sum(acc, axis=1), out_ptr.dtype.element_ty)
    tl.store(out_ptr + rows * stride_out, total, mask=row_mask)


def reduce_config(x: DeviceArray) -> dict:
    """The heuristic config for an (M, R) view."""
    return ROW_CONTIGUOUS if x.strides[1] == 1 or x.shape[0] == 1 else ROW_STRIDED


def sum(out: DeviceArray, x: DeviceArray) -> None:  # noqa: A001 - the op's name
    """out[m] = sum_r x[m, r] for a 2-d view x and 1-d view out."""
    M, R = x.shape
    if M == 0:
        return
    cfg = reduce_config(x)
    sum_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
        out, x, M, R, x.strides[0], x.strides[1], out.strides[0],
        BLOCK_M=cfg["BLOCK_M"], BLOCK_R=cfg["BLOCK_R"], num_warps=cfg["num_warps"],
    )


def sum_ref(x: np.ndarray, axis: tuple, keepdims: bool, dtype) -> np.ndarray:
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=dtype)


SPECS = [
    KernelSpec(f"reduction.sum[{dtype}]", sum_kernel,
               {"out_ptr": f"*{acc}", "x_ptr": f"*{dtype}", "M": "i32", "R": "i32", "stride_xm": "i32",
                "stride_xr": "i32", "stride_out": "i32"},
               {}, [ROW_CONTIGUOUS, ROW_STRIDED])
    for dtype, acc in (("fp32", "fp32"), ("fp16", "fp32"), ("i32", "i64"))
]
