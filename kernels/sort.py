"""Sorting along the last axis of a (M, R) strided view: sort, argsort, topk, and their backward.

One program sorts one row in registers with a bitonic network over BLOCK = next_pow2(R) slots
(R <= MAX_SORT_R; above that the wrappers raise ValueError and the Tensor layer falls back).
`tl.sort` sorts values only, so the network here sorts (key, index) pairs, compared
lexicographically, which makes it stable and yields the int64 indices PyTorch returns:
  * the key is an order-preserving signed integer image of the value: floats map their bits so
    integer order is float order (-0.0 and 0.0 share a key, so equal values stay in input order;
    every NaN gets the largest key, so NaNs sort last ascending and first descending, as PyTorch);
    integers and bool are their own key. A descending sort complements the key (~key reverses a
    signed order exactly), so ties still keep ascending indices: PyTorch's stable descending sort.
  * padding slots take the largest key and indices >= R, so they sort after every real element.
Values are then gathered from x by the sorted indices, so they are the input's exact bits.
topk(k, largest) is a full sort keeping the first k (sorted=False is served sorted, which is valid).

The backward of sort/topk values is a scatter of the gradient to the indices (zeros elsewhere).
"""

from __future__ import annotations

import sys

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .tuning import Cost, Tunable, next_pow2

MAX_SORT_R = 4096  # the longest row one program sorts in registers
SCATTER = dict(BLOCK=1024, num_warps=4)


def sort_config(R: int) -> dict:
    """BLOCK (the pow2 number of slots) and num_warps for rows of length R; ValueError if too long."""
    if R > MAX_SORT_R:
        raise ValueError(f"sort kernels support rows of at most {MAX_SORT_R} elements, got {R}")
    block = max(2, triton.next_power_of_2(R))
    return dict(BLOCK=block, num_warps=4 if block <= 1024 else (8 if block <= 2048 else 16))


def _block_config(block: int, num_warps: int | None = None) -> dict:
    """A sort config for `block` slots (the kernel's N_DIMS = log2(BLOCK) included)."""
    cfg = sort_config(block)
    return dict(BLOCK=cfg["BLOCK"], N_DIMS=cfg["BLOCK"].bit_length() - 1, num_warps=num_warps or cfg["num_warps"])


def _sort_space(key: tuple, space: str) -> list[dict]:
    """The network must have exactly the key's block of slots (next_pow2(R) >= R); only the warps vary:
    short rows waste most of 4 warps, long rows may prefer fewer, register-heavier threads."""
    heuristic = _block_config(key[-1])
    other = 1 if key[-1] <= 128 else (8 if key[-1] <= 1024 else heuristic["num_warps"] // 2)
    return [heuristic, dict(heuristic, num_warps=other)]


# Keys: (DESCENDING, WRITE_VALUES, dtype name, next_pow2(M), slots). A bitonic network on N slots makes
# about N * log2(N)^2 / 2 compare-and-swaps; the kernel reads a row (twice for the values) and writes K.
SORT_TUNING = Tunable("sort.sort", _sort_space, lambda key: _block_config(key[-1]), lambda M, R, K, itemsize: Cost(
    float(M) * (2 * R * itemsize + K * (itemsize + 8)), float(M) * R * max(1, R.bit_length() - 1) ** 2 / 2))
# Keys: (ZERO_FIRST, dtype name, next_pow2(M), next_pow2(K)). Reads K gradients and indices, writes R (or K).
SCATTER_TUNING = Tunable(
    "sort.scatter_backward", [SCATTER, dict(BLOCK=256, num_warps=2), dict(BLOCK=4096, num_warps=8)],
    lambda key: dict(SCATTER), lambda M, R, K, itemsize: Cost(float(M) * (K * (itemsize + 8) + R * itemsize), 0.0))


@triton.jit
def _order_key(x):
    """A signed integer whose order is x's order (floats: NaN largest; -0.0 == 0.0)."""
    if x.dtype == tl.float64:
        bits = tl.where(x == 0, 0.0, x).to(tl.int64, bitcast=True)
        key = tl.where(bits < 0, bits ^ 0x7FFFFFFFFFFFFFFF, bits)
        return tl.where(x != x, 0x7FFFFFFFFFFFFFFF, key)
    elif x.dtype.is_floating():
        # fp16/bf16 widen to fp32 exactly; the interpreter needs that for bf16 anyway.
        f = x.to(tl.float32)
        bits = tl.where(f == 0, 0.0, f).to(tl.int32, bitcast=True)
        key = tl.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
        return tl.where(f != f, 0x7FFFFFFF, key)
    elif x.dtype == tl.int64 or x.dtype == tl.uint64:
        return x.to(tl.int64)
    else:
        return x.to(tl.int32)


@triton.jit
def _largest_key(key):
    if key.dtype == tl.int64:
        return tl.full(key.shape, 0x7FFFFFFFFFFFFFFF, tl.int64)
    else:
        return tl.full(key.shape, 0x7FFFFFFF, tl.int32)


@triton.jit
def _indicator(n_dims: tl.constexpr, j: tl.constexpr):
    """0/1 along hypercube axis j (counted from the innermost), broadcastable to the hypercube."""
    ar = tl.arange(0, 2)
    ar = tl.reshape(ar, [1] * (n_dims - j - 1) + [2] + [1] * j)
    return ar


@triton.jit
def _compare_and_swap(key, idx, flip, i: tl.constexpr, n_dims: tl.constexpr):
    """One bitonic step across hypercube axis i (innermost = 0) on (key, idx) pairs."""
    # Each slot's partner along the axis is (x + partner) - x. Integer adds wrap, so this is exact;
    # unlike tl.xor_sum, tl.sum is also vectorised by Triton's interpreter.
    pkey = tl.sum(key, n_dims - 1 - i, True) - key
    pidx = tl.sum(idx, n_dims - 1 - i, True) - idx
    greater = (key > pkey) | ((key == pkey) & (idx > pidx))
    swap = greater != (flip ^ _indicator(n_dims, i)).to(tl.int1)
    return tl.where(swap, pkey, key), tl.where(swap, pidx, idx)


@triton.jit
def _bitonic_sort(key, idx, N_DIMS: tl.constexpr):
    """Sort (key, idx) ascending, lexicographically; both are (2**N_DIMS,)."""
    k = tl.reshape(key, [2] * N_DIMS)
    i = tl.reshape(idx, [2] * N_DIMS)
    for stage in tl.static_range(1, N_DIMS + 1):
        if stage < N_DIMS:
            flip = _indicator(N_DIMS, stage)  # alternate directions: bitonic runs of 2**stage
        else:
            flip = 0
        for step in tl.static_range(stage):
            k, i = _compare_and_swap(k, i, flip, stage - 1 - step, N_DIMS)
    return tl.reshape(k, key.shape), tl.reshape(i, idx.shape)


@fast_jit
def sort_kernel(
    values_ptr,  # (M, K) sorted values (unused when WRITE_VALUES is False)
    indices_ptr,  # (M, K) int64 source index of each sorted value
    x_ptr,  # (M, R) input view
    R, K,  # row length, sorted elements written per row (K <= R; K < R for topk)
    stride_xm, stride_xr,  # input strides (elements)
    stride_vm, stride_vk,  # values strides (elements)
    stride_im, stride_ik,  # indices strides (elements)
    DESCENDING: tl.constexpr,  # largest first
    WRITE_VALUES: tl.constexpr,  # False for argsort
    BLOCK: tl.constexpr,  # slots sorted per row: a power of two >= R
    N_DIMS: tl.constexpr,  # log2(BLOCK)
):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * stride_xm
    slots = tl.arange(0, BLOCK)
    in_row = slots < R
    key = _order_key(tl.load(x_row + slots.to(tl.int64) * stride_xr, mask=in_row, other=0))
    if DESCENDING:
        key = ~key
    key = tl.where(in_row, key, _largest_key(key))
    key, idx = _bitonic_sort(key, slots, N_DIMS)
    kept = slots < K
    tl.store(indices_ptr + row * stride_im + slots * stride_ik, idx.to(tl.int64), mask=kept)
    if WRITE_VALUES:
        values = tl.load(x_row + idx.to(tl.int64) * stride_xr, mask=kept)
        tl.store(values_ptr + row * stride_vm + slots * stride_vk, values, mask=kept)


@fast_jit
def scatter_backward_kernel(
    grad_x_ptr,  # (M, R) output: gradient of x
    grad_ptr,  # (M, K) gradient of the sorted / top-k values
    indices_ptr,  # (M, K) int64 indices the forward returned
    R, K,  # row length, gradient entries per row
    stride_gxm, stride_gxr,  # grad_x strides (elements)
    stride_gm, stride_gk,  # grad strides (elements)
    stride_im, stride_ik,  # indices strides (elements)
    ZERO_FIRST: tl.constexpr,  # K < R: clear the row before scattering (a sort covers every slot)
    BLOCK: tl.constexpr,  # elements per loop step
):
    row = tl.program_id(0).to(tl.int64)
    gx_row = grad_x_ptr + row * stride_gxm
    if ZERO_FIRST:
        for start in range(0, R, BLOCK):
            cols = start + tl.arange(0, BLOCK)
            zeros = tl.zeros((BLOCK,), grad_x_ptr.dtype.element_ty)
            tl.store(gx_row + cols.to(tl.int64) * stride_gxr, zeros, mask=cols < R)
        # The zeros must land before the scatter overwrites some of them (other threads' stores).
        tl.debug_barrier()
    for start in range(0, K, BLOCK):
        ks = start + tl.arange(0, BLOCK)
        mask = ks < K
        ks = ks.to(tl.int64)
        idx = tl.load(indices_ptr + row * stride_im + ks * stride_ik, mask=mask, other=0)
        g = tl.load(grad_ptr + row * stride_gm + ks * stride_gk, mask=mask)
        tl.store(gx_row + idx * stride_gxr, g, mask=mask)


def _sort(values: DeviceArray | None, indices: DeviceArray, x: DeviceArray, k: int, descending: bool) -> None:
    M, R = x.shape
    if not 0 <= k <= R:
        raise ValueError(f"k ({k}) out of range for rows of length {R}")
    cfg = sort_config(R)
    if M == 0 or k == 0:
        return
    v = values if values is not None else indices

    def run(config):  # one program per row
        sort_kernel[(M,)](
            v, indices, x, R, k, x.strides[0], x.strides[1], v.strides[0], v.strides[1], indices.strides[0],
            indices.strides[1], DESCENDING=bool(descending), WRITE_VALUES=values is not None, **config)

    key = (bool(descending), values is not None, x.dtype.name, next_pow2(M), cfg["BLOCK"])
    tuning.launch(SORT_TUNING, key, dict(M=M, R=R, K=k, itemsize=x.dtype.itemsize), run)


# ---------------------------------------------------------------- launch wrappers
def sort(values: DeviceArray, indices: DeviceArray, x: DeviceArray, descending: bool = False) -> None:
    """Stable sort of each row of x (M, R) into values (M, R) and int64 indices (M, R).

    NaN sorts last ascending and first descending. R <= MAX_SORT_R, else ValueError.
    """
    _sort(values, indices, x, x.shape[1], descending)


def argsort(indices: DeviceArray, x: DeviceArray, descending: bool = False) -> None:
    """int64 indices (M, R) of the stable sort of each row."""
    _sort(None, indices, x, x.shape[1], descending)


def topk(values: DeviceArray, indices: DeviceArray, x: DeviceArray, k: int, largest: bool = True,
         sorted: bool = True) -> None:  # noqa: A002 - PyTorch's name
    """The k largest (smallest) of each row into values (M, k) and int64 indices (M, k).

    Always written in sorted order (valid for sorted=False too); ties go to the lower index; NaN
    counts as the largest value. R <= MAX_SORT_R, else ValueError.
    """
    _sort(values, indices, x, k, largest)


def sort_backward(grad_x: DeviceArray, grad: DeviceArray, indices: DeviceArray) -> None:
    """grad_x (M, R) = grad (M, K) scattered to `indices`, zeros elsewhere (sort: K == R; topk: K <= R)."""
    M, R = grad_x.shape
    K = grad.shape[1]
    if M == 0 or R == 0:
        return

    def run(config):  # one program per row
        scatter_backward_kernel[(M,)](
            grad_x, grad, indices, R, K, grad_x.strides[0], grad_x.strides[1], grad.strides[0], grad.strides[1],
            indices.strides[0], indices.strides[1], ZERO_FIRST=K < R, **config)

    key = (K < R, grad.dtype.name, next_pow2(M), next_pow2(K))
    tuning.launch(SCATTER_TUNING, key, dict(M=M, R=R, K=K, itemsize=grad.dtype.itemsize), run)


topk_backward = sort_backward


# ---------------------------------------------------------------- NumPy references
# Dtypes whose order fits a signed int32 key (fp16/bf16 widen to fp32 exactly): the reference packs
# (key << 32 | index) into one int64 per element, so one unstable SIMD sort (or a partition for topk) of
# unique keys gives the stable order, ~7x faster than a stable argsort or a lexsort over several keys.
_KEY32 = frozenset(("float16", "bfloat16", "float32", "int8", "int16", "int32", "uint8", "uint16", "bool"))
# NumPy's stable argsort of these already orders as PyTorch ascending (NaN last, -0.0 == 0.0, ties by index).
_STABLE = frozenset(("float64", "int64"))
_HI, _LO = (1, 0) if sys.byteorder == "little" else (0, 1)  # the int32 halves of an int64


def _packed_keys(x: np.ndarray, descending: bool) -> tuple[np.ndarray, bool]:
    """int64 (order key << 32 | index) along the last axis of x: unique, ordered as the stable sort; and
    whether the keys give back x's exact values (no NaN, whose payloads share a key, and no -0.0).

    The int32 key is built contiguous (SIMD passes), then copied once into the high halves of the result: no
    int64 temporaries (a sort's big temporaries cost page faults as well as passes)."""
    exact = True
    if x.dtype.kind in "biu":
        key = x.astype(np.int32, order="C")  # C order: a moved axis becomes the contiguous one the sort walks
    else:
        key = x.astype(np.float32, order="C").view(np.int32)  # fp16/bf16 widen exactly
        nan = np.isnan(key.view(np.float32))
        _flip_negatives(key)  # the kernel's _order_key: int order == float order
        zero = key == -1  # only -0.0 lands on -1, next to 0.0's 0: one key for both, so they stay in index order
        if zero.any():
            key[zero], exact = 0, False
        if nan.any():
            key[nan], exact = 0x7FFFFFFF, False  # every NaN the largest key (one key: NaNs keep index order)
    if descending:
        np.invert(key, out=key)  # ~ reverses int32 order exactly; the index part still ascends
    packed = np.empty(x.shape, np.int64)
    halves = packed.view(np.int32)
    halves[..., _LO::2] = np.arange(x.shape[-1], dtype=np.int32)
    halves[..., _HI::2] = key
    return packed, exact


def _flip_negatives(key: np.ndarray) -> None:
    """Flip the low 31 bits of the negative int32s in place: float bits <-> an order-preserving int (an involution)."""
    t = key >> 31
    t &= np.int32(0x7FFFFFFF)
    key ^= t


def _unpack(packed: np.ndarray, dtype: np.dtype, descending: bool, values: bool) -> tuple:
    """(values if asked (an exact key set) else None, int64 indices) of sorted packed keys; packed becomes the
    indices when it owns its data (a whole-row sort), so no second 8-byte array is made."""
    v = None
    if values:
        out = np.empty(packed.shape, np.float32 if dtype.kind not in "biu" else np.int32)
        key = out.view(np.int32)
        np.copyto(key, packed.view(np.int32)[..., _HI::2])
        if descending:
            np.invert(key, out=key)
        if dtype.kind not in "biu":
            _flip_negatives(key)
        v = out.astype(dtype, copy=False)
    if packed.base is None:
        return v, np.bitwise_and(packed, np.int64(0xFFFFFFFF), out=packed)
    return v, packed & np.int64(0xFFFFFFFF)


def _first_k(x: np.ndarray, k: int, descending: bool, values: bool) -> tuple:
    """(values or None, int64 indices) of the first k of the stable order along the last axis of x, C order."""
    R = x.shape[-1]
    name = x.dtype.name
    if name in _KEY32 and R <= 0x7FFFFFFF:
        if k == 0:
            idx = np.empty(x.shape[:-1] + (0,), np.int64)
            return (np.empty(idx.shape, x.dtype) if values else None), idx
        packed, exact = _packed_keys(x, descending)
        if k < R:
            packed.partition(k - 1, axis=-1)  # the k smallest unique keys first, unordered
            packed = packed[..., :k]
        packed.sort(axis=-1)
        v, idx = _unpack(packed, x.dtype, descending, values and exact)
        if v is not None or not values:
            return v, idx
    elif name in _STABLE:
        if descending:  # stable ascending of the reversed row, reversed: keys descend, NaN first, ties ascend
            order = np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1]
            order = np.subtract(R - 1, order[..., :k], dtype=np.int64)
        else:
            order = np.argsort(x, axis=-1, kind="stable")[..., :k]
        idx = np.ascontiguousarray(order, dtype=np.int64)
    else:
        idx = np.ascontiguousarray(_order(x, -1, descending)[..., :k], dtype=np.int64)
    return (np.take_along_axis(x, idx, -1) if values else None), idx


def _sorted_ref(x: np.ndarray, k: int, axis: int, descending: bool, values: bool) -> tuple:
    """(values or None, int64 indices) of the first k of the stable order of x along axis, C-contiguous."""
    v, idx = _first_k(np.moveaxis(x, axis, -1), k, descending, values)
    if axis % max(x.ndim, 1) != x.ndim - 1:
        idx = np.ascontiguousarray(np.moveaxis(idx, -1, axis))
        v = np.ascontiguousarray(np.moveaxis(v, -1, axis)) if values else None
    return v, idx


def _order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort with PyTorch's NaN placement (last ascending, first descending); any dtype."""
    if x.dtype.kind == "f" or x.dtype.name == "bfloat16":
        xf = x.astype(np.float64)
        nan = np.isnan(xf).astype(np.int8)  # breaks the tie between NaN (as +inf) and a real +inf
        value = np.where(nan, np.inf, xf) + 0.0  # + 0.0 makes -0.0 equal to 0.0
        keys = (-value, -nan) if descending else (value, nan)
    else:
        key = x.astype(np.int64)
        keys = (~key,) if descending else (key,)  # ~ reverses int64 order exactly (no -INT64_MIN overflow)
    return _lexsort_axis(keys, axis)


def _lexsort_axis(keys: tuple, axis: int) -> np.ndarray:
    """Stable sort by keys[0], then keys[1], ... along `axis`; the index breaks remaining ties."""
    moved = [np.moveaxis(k, axis, -1) for k in keys]
    idx = np.broadcast_to(np.arange(moved[0].shape[-1]), moved[0].shape)
    return np.moveaxis(np.lexsort([idx] + moved[::-1], axis=-1), -1, axis)


def sort_ref(x: np.ndarray, axis: int = -1, descending: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort of x along axis: (values, int64 indices); NaN last ascending, first descending."""
    return _sorted_ref(x, x.shape[axis], axis, descending, True)


def argsort_ref(x: np.ndarray, axis: int = -1, descending: bool = False) -> np.ndarray:
    """int64 indices of the stable sort of x along axis."""
    return _sorted_ref(x, x.shape[axis], axis, descending, False)[1]


def topk_ref(x: np.ndarray, k: int, axis: int = -1, largest: bool = True,
             sorted: bool = True) -> tuple[np.ndarray, np.ndarray]:  # noqa: A002
    """The first k of the stable sort along axis (descending when largest): always sorted, as the kernel."""
    return _sorted_ref(x, k, axis, largest, True)


def sort_backward_ref(grad: np.ndarray, x: np.ndarray, indices: np.ndarray, axis: int = -1) -> tuple:
    gx = np.zeros(x.shape, grad.dtype)
    np.put_along_axis(gx, indices, grad, axis=axis)
    return (gx,)


topk_backward_ref = sort_backward_ref

# For the Tensor layer: wrappers, references, and what the backward takes after (grad_x, grad).
OPS = {
    "sort": dict(forward=sort, ref=sort_ref, backward=sort_backward, backward_ref=sort_backward_ref,
                 saves=("indices",)),
    "argsort": dict(forward=argsort, ref=argsort_ref, backward=None, backward_ref=None, saves=()),
    "topk": dict(forward=topk, ref=topk_ref, backward=topk_backward, backward_ref=topk_backward_ref,
                 saves=("indices",)),
}


def _sort_signature(dtype: str) -> dict[str, str]:
    return {"values_ptr": f"*{dtype}", "indices_ptr": "*i64", "x_ptr": f"*{dtype}", "R": "i32", "K": "i32",
            "stride_xm": "i32", "stride_xr": "i32", "stride_vm": "i32", "stride_vk": "i32",
            "stride_im": "i32", "stride_ik": "i32"}


_ITEMSIZE = {"fp32": 4, "bf16": 2, "fp64": 8, "i64": 8, "i1": 1, "u8": 1}


def _row_fills_threads(itemsize: int):
    """The width rule binds a sort config only when its row gives each thread 16 bytes to read.

    One program sorts one row of BLOCK slots, held in registers across all its threads for the network
    (N log2(N)^2 / 2 compare-and-swaps: compute, not traffic, for short rows). A row of fewer than
    16 bytes per thread (fp32 rows of up to 128 slots on 4 warps, bool rows of up to 2048) cannot give
    each thread a 128-bit access, whatever the layout; longer rows can, and must."""
    return lambda config: config["BLOCK"] * itemsize >= 16 * 32 * config["num_warps"]


SPECS = [
    KernelSpec(f"sort.sort[{dtype}{':desc' if desc else ''}]", sort_kernel, _sort_signature(dtype),
               dict(DESCENDING=desc, WRITE_VALUES=True), [_block_config(b) for b in blocks],
               [c for n in range(1, 13) for c in _sort_space((2 ** n,), "max")],
               memory_bound=_row_fills_threads(_ITEMSIZE[dtype]))
    # The first spec is the AOT gate's quick sample: small blocks (a 4096-slot network takes ~30 s).
    for dtype, desc, blocks in [("fp32", False, (2, 128)), ("fp32", True, (1024, 4096)),
                                ("bf16", False, (64, 2048)), ("fp64", True, (512,)),
                                ("i64", False, (4096,)), ("i1", False, (32,)), ("u8", True, (16,))]
] + [
    KernelSpec(f"sort.scatter_backward[{dtype}{':zero_first' if zero else ''}]", scatter_backward_kernel,
               {"grad_x_ptr": f"*{dtype}", "grad_ptr": f"*{dtype}", "indices_ptr": "*i64", "R": "i32",
                "K": "i32", **{f"stride_{n}{d}": "i32" for n, ds in (("gx", "mr"), ("g", "mk"), ("i", "mk"))
                               for d in ds}},
               dict(ZERO_FIRST=zero), [SCATTER], SCATTER_TUNING.all_configs())
    for dtype, zero in [("fp32", True), ("fp32", False), ("bf16", True), ("fp64", False)]
]
