"""gather / scatter / scatter_add along a dim, and one_hot (a scatter of ones along a new last dim).

gather and scatter(reduce=None / "add") are the shared index kernels of index_core.py with views that
do not move along `dim` (the index chooses there). scatter(reduce="multiply") has no atomic: it runs
`scatter_multiply_kernel`, one program lane per line along `dim`, serially over `dim`. Indices are
never wrapped (PyTorch rejects negative ones here); pass an `IndexCheck` to have out-of-range ones
reported (index_core.py).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import elementwise, tuning
from .device_array import DeviceArray
from .index_core import (
    CFG,
    IndexCheck,
    atleast_1d,
    begin_accumulate,
    dim_base,
    end_accumulate,
    fp_math,
    from_bits,
    launch_gather,
    launch_scatter,
    normalize_dim,
    same_array,
    scalar_bits,
    strides_sig,
)
from .index_errors import report_out_of_range
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type, launch_slices, strided_offsets
from .tuning import Cost, Tunable, next_pow2


@fast_jit(do_not_specialize=["value_bits"])
def scatter_multiply_kernel(
    dst_ptr,  # target; line l, step j goes to dbase(l) + idx(l, j) * dim_stride
    src_ptr,  # values over the lines (ignored when SCALAR_SRC)
    idx_ptr,  # index over the lines
    numel,  # lines in this launch (the index shape without `dim`)
    size1, size2, size3,  # line shape (size0 implied by numel)
    ds0, ds1, ds2, ds3,  # dst strides over the lines
    ss0, ss1, ss2, ss3,  # src strides over the lines
    is0, is1, is2, is3,  # index strides over the lines
    J,  # steps along dim (index.shape[dim])
    src_jstride, idx_jstride,  # src / index strides along dim
    dim_stride, dim_size,  # dst stride and size along dim
    value_bits,  # the scalar source, packed by scalar_bits (SCALAR_SRC)
    err_ptr,  # int64[2] device error word (CHECK), else unused
    err_code,  # the op's registered error code
    SCALAR_SRC: tl.constexpr,  # multiply by value_bits instead of reading src
    CHECK: tl.constexpr,  # report out-of-range indices into err_ptr
    BLOCK: tl.constexpr,  # lines per program
):
    # Different lines never share a target, and one lane walks its line in order, so repeated
    # indices multiply in sequence without atomics (there is no atomic multiply).
    line = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = line < numel
    dbase = strided_offsets(line, size1, size2, size3, ds0, ds1, ds2, ds3).to(tl.int64)
    sbase = strided_offsets(line, size1, size2, size3, ss0, ss1, ss2, ss3).to(tl.int64)
    ibase = strided_offsets(line, size1, size2, size3, is0, is1, is2, is3).to(tl.int64)
    dtype = dst_ptr.dtype.element_ty
    for j in range(0, J):
        k = tl.load(idx_ptr + ibase + j * idx_jstride, mask=mask, other=0).to(tl.int64)
        ok = mask & (k >= 0) & (k < dim_size)
        if CHECK:
            report_out_of_range(err_ptr, err_code, k, mask & ((k < 0) | (k >= dim_size)))
        if SCALAR_SRC:
            value = compute_type(tl.zeros((BLOCK,), dtype) + from_bits(value_bits, dtype))
        else:
            value = compute_type(tl.load(src_ptr + sbase + j * src_jstride, mask=mask))
        target = dst_ptr + dbase + k * dim_stride
        old = compute_type(tl.load(target, mask=ok))
        tl.store(target, cast_to(old * value, dtype), mask=ok)


def _multiply_cost(lines: int, steps: int, itemsizes: int) -> Cost:
    # itemsizes: dst twice (read, multiply, write back) + src + index, per (line, step).
    return Cost(float(lines) * steps * itemsizes, float(lines) * steps)


# One lane per line: fewer lines per program spread a narrow launch over more SMs. It multiplies into
# its target, so the tuner never times it on a user's tensors.
SCATTER_MULTIPLY_TUNING = Tunable(
    "gather_scatter.scatter_multiply",
    space=[dict(CFG[0]), dict(BLOCK=256, num_warps=2), dict(BLOCK=512, num_warps=4), dict(BLOCK=2048, num_warps=8)],
    heuristic=lambda key: dict(CFG[0]),
    cost=_multiply_cost,
    repeatable=False,
)


def _without(seq: tuple, d: int) -> tuple:
    return tuple(v for i, v in enumerate(seq) if i != d)


def _launch_scatter_multiply(dst: DeviceArray, index: DeviceArray, src, dim: int, check: IndexCheck | None) -> None:
    """dst[..., index[l, j], ...] *= src[l, j], each line l serially over j."""
    dim_base(dst, index, dim)  # validates the shapes
    if index.numel() == 0:
        return
    lines = _without(index.shape, dim)
    scalar = not isinstance(src, DeviceArray)
    src_view = index if scalar else src
    arrays = [a.view_as(lines, _without(a.strides, dim)) for a in (dst, src_view, index)]
    value_bits = scalar_bits(src, dst.dtype) if scalar else 0
    src_jstride = 0 if scalar else src.strides[dim]
    err_ptr, err_code = (dst, 0) if check is None else (check.word, check.codes[0])
    steps = index.shape[dim]
    itemsizes = 2 * dst.dtype.itemsize + index.dtype.itemsize + (0 if scalar else src.dtype.itemsize)
    for shape4, strides4, offsets in launch_slices(lines, arrays):
        d, s, i = (a.view_as(shape4, st, off) for a, st, off in zip(arrays, strides4, offsets))
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, d=d, s=s, i=i, numel=numel, shape4=shape4):
            scatter_multiply_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                d, s, i, numel, shape4[1], shape4[2], shape4[3], *d.strides, *s.strides, *i.strides,
                steps, src_jstride, index.strides[dim], dst.strides[dim], dst.shape[dim], value_bits,
                err_ptr, err_code, SCALAR_SRC=scalar, CHECK=check is not None, **config,
            )

        key = (dst.dtype.name, index.dtype.name, scalar, check is not None, next_pow2(numel), next_pow2(steps))
        tuning.launch(SCATTER_MULTIPLY_TUNING, key, dict(lines=numel, steps=steps, itemsizes=itemsizes), run,
                      repeatable=False)


# ================================================================ launch wrappers
def _window(src: DeviceArray, index: DeviceArray) -> DeviceArray:
    """The index-shaped window of src (PyTorch lets src be larger than index)."""
    src = atleast_1d(src)
    if src.ndim != index.ndim or any(s < i for s, i in zip(src.shape, index.shape)):
        raise ValueError(f"src {src.shape} must be at least as large as index {index.shape}")
    return src.view_as(index.shape, src.strides)


def gather(out: DeviceArray, x: DeviceArray, index: DeviceArray, dim: int, check: IndexCheck | None = None) -> None:
    """out[..., j, ...] = x[..., index[..., j, ...], ...] along `dim` (torch.gather).

    out and index share a shape; index.size(d) <= x.size(d) for d != dim. Any dtype; out has x's.
    """
    x, index, out = atleast_1d(x), atleast_1d(index), atleast_1d(out)
    dim = normalize_dim(dim, x.ndim)
    launch_gather(out, dim_base(x, index, dim), [index], [x.strides[dim]], [x.shape[dim]], wrap=False, check=check)


def gather_backward(grad_x: DeviceArray, grad: DeviceArray, index: DeviceArray, dim: int,
                    acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten) = zeros, then scatter_add of grad at index along dim."""
    _scatter_add_into(grad_x, index, grad, dim, acc, zero=True, check=None)


def _scatter_add_into(target: DeviceArray, index: DeviceArray, src, dim: int, acc, zero: bool,
                      check: IndexCheck | None) -> None:
    target, index = atleast_1d(target), atleast_1d(index)
    acc = None if acc is None else atleast_1d(acc)
    if isinstance(src, DeviceArray):
        src = _window(src, index)
    dim = normalize_dim(dim, target.ndim)
    dst = begin_accumulate(target, acc, zero)
    launch_scatter(dim_base(dst, index, dim), src, [index], [dst.strides[dim]], [dst.shape[dim]],
                   wrap=False, accumulate=True, check=check)
    end_accumulate(target, dst)


def scatter(out: DeviceArray, x: DeviceArray, index: DeviceArray, src, dim: int, reduce: str | None = None,
            acc: DeviceArray | None = None, check: IndexCheck | None = None) -> None:
    """out = x.scatter(dim, index, src, reduce=reduce) (pass out=x for scatter_).

    out[..., index[..., j, ...], ...] = src[..., j, ...] for every position of index; src is a
    DeviceArray at least index's size (its index-shaped window is read) or a Python scalar.
    reduce: None (duplicate indices: one writer wins), "add" (atomic; see accumulate_dtype/acc)
    or "multiply" (serial along dim, any dtype).
    """
    if not same_array(out, x):
        elementwise.copy(out, x)
    if reduce == "add":
        _scatter_add_into(out, index, src, dim, acc, zero=False, check=check)
        return
    out, index = atleast_1d(out), atleast_1d(index)
    dim = normalize_dim(dim, out.ndim)
    if isinstance(src, DeviceArray):
        src = _window(src, index)
    if reduce == "multiply":
        _launch_scatter_multiply(out, index, src, dim, check)
    elif reduce is None:
        launch_scatter(dim_base(out, index, dim), src, [index], [out.strides[dim]], [out.shape[dim]],
                       wrap=False, accumulate=False, check=check)
    else:
        raise ValueError(f"reduce argument must be either add or multiply, got {reduce}")


def scatter_backward(grad_x: DeviceArray | None, grad_src: DeviceArray | None, grad: DeviceArray,
                     index: DeviceArray, dim: int) -> None:
    """Backward of scatter (reduce=None): grad_x = grad with the scattered positions zeroed,
    grad_src (index's shape) = grad.gather(dim, index). Pass None for a gradient not needed."""
    if grad_x is not None:
        scatter(grad_x, grad, index, 0, dim)
    if grad_src is not None:
        gather(grad_src, grad, index, dim)


def scatter_add(out: DeviceArray, x: DeviceArray, index: DeviceArray, src, dim: int,
                acc: DeviceArray | None = None, check: IndexCheck | None = None) -> None:
    """out = x.scatter_add(dim, index, src): duplicate indices sum (pass out=x for scatter_add_)."""
    scatter(out, x, index, src, dim, reduce="add", acc=acc, check=check)


def scatter_add_backward(grad_x: DeviceArray | None, grad_src: DeviceArray | None, grad: DeviceArray,
                         index: DeviceArray, dim: int) -> None:
    """grad_x = grad; grad_src (index's shape) = grad.gather(dim, index)."""
    if grad_x is not None:
        elementwise.copy(grad_x, grad)
    if grad_src is not None:
        gather(grad_src, grad, index, dim)


def one_hot(out: DeviceArray, index: DeviceArray, num_classes: int | None = None) -> None:
    """out = F.one_hot(index, num_classes): out has index's shape + (num_classes,), int64 (num_classes=-1
    in PyTorch means index.max() + 1: the Tensor layer resolves it and allocates).

    Indices outside [0, num_classes) leave their row zero (PyTorch raises; the Tensor layer checks).
    """
    classes = out.shape[-1] if out.ndim else 0
    if out.shape != index.shape + (classes,) or num_classes not in (None, classes):
        raise ValueError(f"out {out.shape} must be index's shape {index.shape} + (num_classes,)")
    elementwise.fill(out, 0)
    column = index.view_as(index.shape + (1,), index.strides + (0,))
    launch_scatter(dim_base(out, column, out.ndim - 1), 1, [column], [out.strides[-1]], [out.shape[-1]],
                   wrap=False, accumulate=False)


# ================================================================ NumPy references
def _dim_coords(index: np.ndarray, dim: int) -> tuple:
    """Full coordinate arrays of every index position, with `index` itself along `dim`."""
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index
    return tuple(coords)


def gather_ref(x: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray:
    x, index = np.atleast_1d(x), np.atleast_1d(index)
    dim %= x.ndim
    return x[_dim_coords(index, dim)]


def gather_backward_ref(grad: np.ndarray, x_shape: tuple, index: np.ndarray, dim: int) -> tuple:
    return (scatter_add_ref(np.zeros(x_shape, grad.dtype), index, grad, dim),)


def scatter_ref(x: np.ndarray, index: np.ndarray, src, dim: int, reduce: str | None = None) -> np.ndarray:
    out = np.atleast_1d(x).copy()
    index = np.atleast_1d(index)
    dim %= out.ndim
    coords = _dim_coords(index, dim)
    if isinstance(src, np.ndarray):
        src = np.atleast_1d(src)[tuple(slice(0, n) for n in index.shape)]
    else:
        src = np.full(index.shape, src).astype(out.dtype)
    if reduce is None:
        out[coords] = src
    elif reduce == "add":
        acc = fp_math(out)
        np.add.at(acc, coords, src.astype(acc.dtype))
        out = acc.astype(out.dtype)
    elif reduce == "multiply":
        acc = fp_math(out)
        np.multiply.at(acc, coords, src.astype(acc.dtype))
        out = acc.astype(out.dtype)
    else:
        raise ValueError(reduce)
    return out.reshape(np.shape(x))


def scatter_backward_ref(grad: np.ndarray, index: np.ndarray, dim: int) -> tuple:
    return scatter_ref(grad, index, 0, dim), gather_ref(grad, index, dim)


def scatter_add_ref(x: np.ndarray, index: np.ndarray, src, dim: int) -> np.ndarray:
    return scatter_ref(x, index, src, dim, reduce="add")


def scatter_add_backward_ref(grad: np.ndarray, index: np.ndarray, dim: int) -> tuple:
    return grad.copy(), gather_ref(grad, index, dim)


def one_hot_ref(index: np.ndarray, num_classes: int) -> np.ndarray:
    return (np.asarray(index)[..., None] == np.arange(num_classes)).astype(np.int64)


# ================================================================ registration table and kernel specs
OPS = {
    # name: (forward wrapper, backward wrapper or None, forward ref, backward ref or None)
    "gather": (gather, gather_backward, gather_ref, gather_backward_ref),
    "scatter": (scatter, scatter_backward, scatter_ref, scatter_backward_ref),
    "scatter_add": (scatter_add, scatter_add_backward, scatter_add_ref, scatter_add_backward_ref),
    "one_hot": (one_hot, None, one_hot_ref, None),
}


def _multiply_signature(dtype: str) -> dict[str, str]:
    sig = {"dst_ptr": f"*{dtype}", "src_ptr": f"*{dtype}", "idx_ptr": "*i64", "numel": "i32", "size1": "i32",
           "size2": "i32", "size3": "i32"}
    for p in ("ds", "ss", "is"):
        sig.update(strides_sig(p))
    sig.update(J="i32", src_jstride="i32", idx_jstride="i32", dim_stride="i32", dim_size="i64",
               value_bits="i64", err_ptr="*i64", err_code="i32")
    return sig


SPECS = [KernelSpec(f"gather_scatter.scatter_multiply[{dt}{':scalar' if sc else ''}{':check' if ck else ''}]",
                    scatter_multiply_kernel, _multiply_signature(dt), dict(SCALAR_SRC=sc, CHECK=ck), CFG,
                    SCATTER_MULTIPLY_TUNING.all_configs())
         for dt, sc, ck in (("fp32", False, True), ("bf16", False, False), ("i8", True, True))]

__all__ = [
    "gather", "gather_backward", "one_hot", "scatter", "scatter_add", "scatter_add_backward", "scatter_backward",
]
