"""Gradient scaling for mixed precision (torch.amp.GradScaler's two fused ops), on the multi-tensor table.

`non_finite_check_and_unscale_kernel` is torch._amp_foreach_non_finite_check_and_unscale_: every element of
every gradient of a dtype group is multiplied in place by `inv_scale` (read from device memory: the host
never reads the scale), and `found_inf` is set to 1.0 when any element, before scaling, is inf or NaN. It
reads the table of kernels/multi_tensor.py (addresses, sizes, chunks; built and cached by
tritensor/ops/foreach.py), so one launch serves every gradient of one dtype, however many there are. One
program per chunk: the full blocks are unmasked (128-bit loads and stores when the table says ALIGNED), and
the chunk's verdict is one store of 1.0 after its last block. Several programs may store that same 1.0: a
benign race (every writer writes the same value), as in PyTorch's own kernel. found_inf is never reset.

`amp_update_scale_kernel` is torch._amp_update_scale_: one program, one thread's work, so that the scale's
update never waits on the host:

    if found_inf:  scale *= backoff_factor; growth_tracker = 0
    else:          growth_tracker += 1; when it reaches growth_interval: growth_tracker = 0 and
                   scale *= growth_factor unless that overflows fp32 to inf

with the products in fp64, rounded to fp32, as PyTorch's `float * double`.

The NumPy references are the cpu path and the oracle of the tests.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .multi_tensor import Group
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

# The same streaming space as the multi-tensor scale (kernels/multi_tensor.py): every BLOCK divides MIN_CHUNK.
_SPACE = [dict(BLOCK=1024, num_warps=4), dict(BLOCK=2048, num_warps=8), dict(BLOCK=512, num_warps=4),
          dict(BLOCK=4096, num_warps=8)]
_UPDATE_CONFIG = dict(num_warps=1)
FP32_OVERFLOW: tl.constexpr = tl.constexpr(2.0**128 - 2.0**103)  # the smallest magnitude fp32 rounds to inf
_UPDATE_SINGLE = "one program reads and writes three scalars: one warp is all it can use"


# ---------------------------------------------------------------- kernels
@triton.jit
def _check_and_scale(x, inv, bad):
    # PyTorch's functor: the check is on the value before scaling; inv == 1 leaves the value as it is
    finite = (x == x) & (tl.abs(x) != float("inf"))
    bad = tl.where(finite, bad, 1)
    return tl.where(inv == 1.0, x, x * inv), bad


@fast_jit
def non_finite_check_and_unscale_kernel(
    addr_ptr,  # (T,) int64 data addresses of the group's gradients
    size_ptr,  # (T,) int64 element counts
    ctensor_ptr,  # (C,) int64 tensor index of each chunk
    cstart_ptr,  # (C,) int64 first element of each chunk
    like_ptr,  # never read: its pointer type is the element type of every table address
    found_inf_ptr,  # (1,) fp32, out: set to 1.0 when the chunk holds an inf or NaN (never reset)
    inv_scale_ptr,  # (1,) fp32: the factor every element is multiplied by
    chunk_len,  # elements per chunk (a multiple of BLOCK)
    ALIGNED: tl.constexpr,  # every address 16-byte aligned
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    t = tl.load(ctensor_ptr + pid)
    start = tl.load(cstart_ptr + pid)
    n = tl.load(size_ptr + t)
    base = tl.load(addr_ptr + t).to(like_ptr.dtype)
    if ALIGNED:
        base = tl.multiple_of(base, 16)
        start = tl.multiple_of(start, BLOCK)
    elem: tl.constexpr = like_ptr.dtype.element_ty
    # PyTorch's opmath: fp32 for 16-bit and fp32 gradients, fp64 for fp64 ones (inv_scale is fp32 either way)
    ctype: tl.constexpr = tl.float64 if elem == tl.float64 else tl.float32
    inv = tl.load(inv_scale_ptr).to(ctype)
    bad = tl.zeros((BLOCK,), tl.int32)
    lanes = tl.arange(0, BLOCK)
    end = tl.minimum(start + chunk_len, n)
    for off in range(0, chunk_len, BLOCK):
        offs = start + off + lanes
        if start + off + BLOCK <= end:  # a full block: unmasked, so aligned loads and stores are 128-bit
            x = compute_type(tl.load(base + offs)).to(ctype)
            y, bad = _check_and_scale(x, inv, bad)
            tl.store(base + offs, cast_to(y, elem))
        elif start + off < end:
            mask = offs < end
            x = compute_type(tl.load(base + offs, mask=mask, other=0)).to(ctype)  # 0 is finite: masked lanes pass
            y, bad = _check_and_scale(x, inv, bad)
            tl.store(base + offs, cast_to(y, elem), mask=mask)
    if tl.max(bad, axis=0) > 0:
        tl.store(found_inf_ptr, 1.0)


@fast_jit
def amp_update_scale_kernel(
    scale_ptr,  # (1,) fp32, in/out: the loss scale
    tracker_ptr,  # (1,) int32, in/out: successful steps since the scale last changed
    found_inf_ptr,  # (1,) fp32: nonzero when this iteration's gradients held an inf or NaN
    growth_factor: tl.float64,  # fp64 as PyTorch's double (a Python float would otherwise pass as fp32)
    backoff_factor: tl.float64,
    growth_interval,  # int: the tracker value at which the scale grows
):
    scale = tl.load(scale_ptr)
    tracker = tl.load(tracker_ptr)
    found = tl.load(found_inf_ptr) != 0  # C's `if (*found_inf)`: NaN counts as found
    backed = (scale.to(tl.float64) * backoff_factor).to(tl.float32)
    grown = scale.to(tl.float64) * growth_factor
    successful = tracker + 1
    grow = successful == growth_interval
    # Never grow past fp32 to inf: float(grown) is finite iff |grown| < 2**128 - 2**103 (from there on, round to
    # nearest even gives inf). Testing in fp64 rounds only values that fit, so no lane overflows a conversion.
    grown_finite = tl.abs(grown) < FP32_OVERFLOW  # False for NaN too
    new_scale = tl.where(found, backed, tl.where(grow & grown_finite, grown, scale.to(tl.float64)).to(tl.float32))
    new_tracker = tl.where(found | grow, 0, successful)
    tl.store(scale_ptr, new_scale)
    tl.store(tracker_ptr, new_tracker)


# ---------------------------------------------------------------- tuning and launch wrappers
def _unscale_cost(n: int, chunks: int, itemsize: int) -> Cost:
    """Reads and writes every element once, plus the chunk table."""
    return Cost(2.0 * n * itemsize + 24.0 * chunks, 2.0 * n)


# Keys: (dtype, aligned, chunk_len, next_pow2(chunks)). The launch scales its operands in place (never timed
# on a user's tensors: repeatable=False).
UNSCALE_TUNING = Tunable("amp_scale.unscale", _SPACE, lambda key: dict(_SPACE[0]), _unscale_cost, repeatable=False)
UPDATE_TUNING = Tunable("amp_scale.update", [_UPDATE_CONFIG], lambda key: dict(_UPDATE_CONFIG),
                        lambda: Cost(16.0, 2.0), repeatable=False, single=_UPDATE_SINGLE)


def non_finite_check_and_unscale(group: Group, found_inf: DeviceArray, inv_scale: DeviceArray) -> None:
    """Every tensor of the group *= inv_scale[0] in place, and found_inf[0] = 1.0 if any element was inf or
    NaN (left as it was otherwise); found_inf and inv_scale: one-element fp32 arrays."""
    C = group.chunks
    if C == 0:
        return

    def run(cfg):
        non_finite_check_and_unscale_kernel[(C,)](group.addrs, group.sizes, group.ctensor, group.cstart, group.like,
                                                  found_inf, inv_scale, group.chunk_len, ALIGNED=group.aligned,
                                                  **cfg)

    key = (group.like.dtype.name, group.aligned, group.chunk_len, next_pow2(C))
    sizes = dict(n=group.numel, chunks=C, itemsize=group.like.dtype.itemsize)
    tuning.launch(UNSCALE_TUNING, key, sizes, run, repeatable=False)


def update_scale(scale: DeviceArray, growth_tracker: DeviceArray, found_inf: DeviceArray, growth_factor: float,
                 backoff_factor: float, growth_interval: int) -> None:
    """torch._amp_update_scale_'s update of scale (one fp32) and growth_tracker (one int32) in place, from
    found_inf (one fp32): one program, no host round trip."""

    def run(cfg):
        amp_update_scale_kernel[(1,)](scale, growth_tracker, found_inf, float(growth_factor), float(backoff_factor),
                                      int(growth_interval), **cfg)

    tuning.launch(UPDATE_TUNING, (), {}, run, repeatable=False)


# ---------------------------------------------------------------- NumPy references
def _compute_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def non_finite_check_and_unscale_ref(grads: list[np.ndarray], found_inf: np.ndarray, inv_scale: np.ndarray) -> None:
    """The reference of non_finite_check_and_unscale on host arrays, in place: each array *= inv_scale (in
    fp32, fp64 for fp64 arrays, rounded back to its dtype); found_inf = 1.0 if any element was inf or NaN."""
    inv = np.float32(inv_scale.reshape(-1)[0])
    for g in grads:
        ctype = _compute_dtype(g.dtype)
        in_place = g.dtype == ctype and g.flags.c_contiguous  # no copy; never for an overlapping (stride-0) view
        x = g if in_place else g.astype(ctype)
        if not np.isfinite(x).all():
            found_inf[...] = 1.0
        if inv != 1.0:
            with np.errstate(over="ignore", invalid="ignore"):
                if in_place:
                    g *= ctype.type(inv)
                else:
                    np.copyto(g, x * ctype.type(inv), casting="unsafe")


def update_scale_ref(scale: np.ndarray, growth_tracker: np.ndarray, found_inf: np.ndarray, growth_factor: float,
                     backoff_factor: float, growth_interval: int) -> None:
    """The reference of update_scale on one-element host arrays (fp32 scale, int32 tracker), in place."""
    current = np.float64(scale.reshape(-1)[0])
    with np.errstate(over="ignore", invalid="ignore"):
        if found_inf.reshape(-1)[0]:
            scale[...] = np.float32(current * backoff_factor)
            growth_tracker[...] = 0
            return
        successful = int(growth_tracker.reshape(-1)[0]) + 1
        if successful == growth_interval:
            grown = np.float32(current * growth_factor)
            if np.isfinite(grown):
                scale[...] = grown
            growth_tracker[...] = 0
        else:
            growth_tracker[...] = np.int64(successful).astype(np.int32)


# ---------------------------------------------------------------- AOT / tuner declarations
def _unscale_signature(dtype: str) -> dict[str, str]:
    return {"addr_ptr": "*i64", "size_ptr": "*i64", "ctensor_ptr": "*i64", "cstart_ptr": "*i64",
            "like_ptr": f"*{dtype}", "found_inf_ptr": "*fp32", "inv_scale_ptr": "*fp32", "chunk_len": "i32"}


SPECS = [
    KernelSpec(f"amp_scale.unscale[{dtype}]", non_finite_check_and_unscale_kernel, _unscale_signature(dtype),
               dict(ALIGNED=True), _SPACE[:1], _SPACE)
    for dtype in ("fp32", "bf16", "fp16", "fp64")
] + [
    # One program updates two scalars from three (12 bytes): latency, not bandwidth, so no vector width.
    KernelSpec("amp_scale.update[fp32]", amp_update_scale_kernel,
               {"scale_ptr": "*fp32", "tracker_ptr": "*i32", "found_inf_ptr": "*fp32", "growth_factor": "fp64",
                "backoff_factor": "fp64", "growth_interval": "i32"},
               {}, [_UPDATE_CONFIG], single=_UPDATE_SINGLE, memory_bound=False, indivisible=("growth_interval",)),
]
