"""Launch wrappers, split plan, tuning and AOT declarations of the batch-norm kernels (kernels/batch_norm.py).

The op layer hands (N, C, S) views (`ncs_view`) and allocates every buffer: the outputs, the per-channel
coefficient scratch (4, C) and the partials scratch of `scratch_numel` elements, all in the statistics'
type (fp32, fp64 for fp64 inputs). The wrappers never allocate.
"""

from __future__ import annotations

import triton

from . import tuning
from .batch_norm import (
    bn_apply_kernel,
    bn_backward_finalize_kernel,
    bn_backward_stats_kernel,
    bn_finalize_kernel,
    bn_stats_kernel,
)
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .strided import collapse
from .tuning import Cost, Tunable, next_pow2


# ================================================================ views and the split plan
def _cdiv(a: int, b: int) -> int:
    return -(-a // b)



def ncs_view(a: DeviceArray) -> DeviceArray | None:
    """An (N, C, *spatial) array as (N, C, S), or None when its spatial dims do not collapse to one stride.

    S == 1 (an (N, C) input) gives (1, C, N): the batch becomes the reduced axis, read along the channels."""
    n, c, spatial = a.shape[0], a.shape[1], a.shape[2:]
    s = 1
    for d in spatial:
        s *= d
    cshape, (cstrides,) = collapse(tuple(spatial), [tuple(a.strides[2:])])
    if len(cshape) > 1:
        return None
    if s == 1:
        return a.view_as((1, c, n), (0, a.strides[1], a.strides[0]))
    return a.view_as((n, c, s), (a.strides[0], a.strides[1], cstrides[0] if cshape else 1))


def reduce_views(*views: DeviceArray) -> tuple[DeviceArray, ...]:
    """(N, C, S) views of one shape as (1, C, N * S) when N and S merge into one stride in all of them
    (channels-last): the reduction then walks one long axis instead of N short ones."""
    n, c, s = views[0].shape
    if n > 1 and all(v.strides[0] == s * v.strides[2] for v in views):
        return tuple(v.view_as((1, c, n * s), (0, v.strides[1], v.strides[2])) for v in views)
    return views


def _layout(v: DeviceArray) -> str:
    """"inner" when channels are the contiguous axis (channels-last, (N, C) inputs), else "planar"."""
    return "inner" if v.strides[1] == 1 and v.shape[1] > 1 and v.strides[2] != 1 else "planar"


# Chunks hold at least this many elements of a channel (a shorter one costs more in partials than it saves),
# and a chunk along S starts on a multiple of GRANULE elements (16-byte aligned, whole tiles).
MIN_CHUNK = 2048
GRANULE = 256
# The channel block the plan assumes per layout (a config's BLOCK_C may differ: partials are per channel).
_PLAN_BLOCK_C = {"inner": 32, "planar": 1}


def split_plan(view: DeviceArray) -> tuple[int, int, int, int]:
    """(chunk_n, chunk_s, s_chunks, n_chunks) of a reduce view (N, C, S): each channel's (N, S) plane is cut
    into chunk_n rows x chunk_s columns so that about 4 x SM-count programs run when the channels alone give
    fewer than 2 x SM-count; rows of N are cut first (whole contiguous runs), then S. No cut: (N, S, 1, 1)."""
    N, C, S = view.shape
    sms = tuning.sm_count()
    c_programs = -(-C // _PLAN_BLOCK_C[_layout(view)])
    want = 1
    if c_programs < 2 * sms:
        want = max(1, min(-(-4 * sms // c_programs), N * S // MIN_CHUNK))
    n_split = max(1, min(N, want))
    chunk_n = -(-N // n_split)
    n_split = -(-N // chunk_n)
    s_want = want // n_split  # rounded down: S is cut only when the rows leave at least half the want
    chunk_s = S
    if s_want > 1:
        chunk_s = min(S, _cdiv(_cdiv(S, s_want), GRANULE) * GRANULE)
    s_chunks = -(-S // chunk_s)
    return chunk_n, chunk_s, s_chunks, n_split * s_chunks


def scratch_numel(view: DeviceArray, slots: int = 3) -> int:
    """Elements of the partials scratch for a reduce view: slots (3 forward, 2 backward) x C x chunks."""
    return slots * view.shape[1] * split_plan(view)[3]


# ================================================================ tuning
PLANAR_LONG = dict(BLOCK_C=1, BLOCK_N=4, BLOCK_S=256, num_warps=4)  # S >= 256: 4 rows of a 256-wide run
PLANAR_SHORT = dict(BLOCK_C=1, BLOCK_N=64, BLOCK_S=16, num_warps=4)  # short runs: 64 rows side by side
CHANNEL_INNER = dict(BLOCK_C=32, BLOCK_N=1, BLOCK_S=32, num_warps=4)  # 32 contiguous channels x 32 positions
_STATS_EXTRA = [dict(BLOCK_C=1, BLOCK_N=1, BLOCK_S=1024, num_warps=4), dict(BLOCK_C=1, BLOCK_N=2, BLOCK_S=1024,
                num_warps=8), dict(BLOCK_C=64, BLOCK_N=1, BLOCK_S=16, num_warps=4)]
STATS_CONFIGS = [PLANAR_LONG, PLANAR_SHORT, CHANNEL_INNER]


def _stats_heuristic(key: tuple) -> dict:
    """Keys are (layout, dtype, next_pow2(chunks), next_pow2(C), next_pow2(S))."""
    if key[0] == "inner":
        return dict(CHANNEL_INNER)
    return dict(PLANAR_LONG if key[-1] >= 256 else PLANAR_SHORT)


def _stats_space(key: tuple, space: str) -> list[dict]:
    first = _stats_heuristic(key)
    return [first] + [dict(c) for c in STATS_CONFIGS + _STATS_EXTRA if c != first]


APPLY_PLANAR = dict(BLOCK_C=4, BLOCK_S=256, num_warps=4)
APPLY_SHORT = dict(BLOCK_C=32, BLOCK_S=32, num_warps=4)
APPLY_CONFIGS = [APPLY_PLANAR, APPLY_SHORT]
_APPLY_EXTRA = [dict(BLOCK_C=1, BLOCK_S=1024, num_warps=4), dict(BLOCK_C=2, BLOCK_S=1024, num_warps=8),
                dict(BLOCK_C=64, BLOCK_S=16, num_warps=4)]


def _apply_heuristic(key: tuple) -> dict:
    """Keys are (forward/backward, layout of x, x dtype, out dtype, next_pow2(C), next_pow2(S))."""
    return dict(APPLY_PLANAR if key[1] == "planar" and key[-1] >= 256 else APPLY_SHORT)


def _apply_space(key: tuple, space: str) -> list[dict]:
    first = _apply_heuristic(key)
    return [first] + [dict(c) for c in APPLY_CONFIGS + _APPLY_EXTRA if c != first]


FINALIZE_FEW = dict(BLOCK_C=64, BLOCK_K=16, num_warps=4)
FINALIZE_MANY = dict(BLOCK_C=4, BLOCK_K=256, num_warps=4)
FINALIZE_CONFIGS = [FINALIZE_FEW, FINALIZE_MANY]


def _finalize_heuristic(key: tuple) -> dict:
    """Keys end with next_pow2(n_chunks)."""
    return dict(FINALIZE_FEW if key[-1] <= 16 else FINALIZE_MANY)


def _finalize_space(key: tuple, space: str) -> list[dict]:
    first = _finalize_heuristic(key)
    return [first] + [dict(c) for c in FINALIZE_CONFIGS + [dict(BLOCK_C=16, BLOCK_K=64, num_warps=4)] if c != first]


STATS_TUNING = Tunable("batch_norm.stats", _stats_space, _stats_heuristic,
                       lambda L, C, K, itemsize, acc: Cost(float(L) * C * itemsize + 3.0 * acc * C * K, 6.0 * L * C))
BACKWARD_STATS_TUNING = Tunable("batch_norm.backward_stats", _stats_space, _stats_heuristic,
                                lambda L, C, K, itemsize, acc: Cost(2.0 * L * C * itemsize + 2.0 * acc * C * K,
                                                                    4.0 * L * C))
# The finalize kernels update the running statistics (or read partials that a timing run leaves intact, but
# the forward's finalize writes the running buffers in place): never timed on user tensors.
FINALIZE_TUNING = Tunable("batch_norm.finalize", _finalize_space, _finalize_heuristic,
                          lambda C, K, acc: Cost(3.0 * acc * C * K + 8.0 * acc * C, 12.0 * C * K), repeatable=False)
BACKWARD_FINALIZE_TUNING = Tunable("batch_norm.backward_finalize", _finalize_space, _finalize_heuristic,
                                   lambda C, K, acc: Cost(2.0 * acc * C * K + 7.0 * acc * C, 2.0 * C * K))
APPLY_TUNING = Tunable("batch_norm.apply", _apply_space, _apply_heuristic,
                       lambda numel, itemsizes: Cost(float(numel) * itemsizes, 4.0 * numel))


# ================================================================ launch wrappers
def _stats_launch(tunable: Tunable, kernel, part: DeviceArray, views: tuple, extra: tuple, acc: int) -> int:
    """Stage 1 over the reduce views (x, or x and dy); returns the plan's chunk count."""
    v = views[0]
    N, C, S = v.shape
    chunk_n, chunk_s, s_chunks, n_chunks = split_plan(v)
    strides = [st for w in views for st in w.strides]

    def run(cfg):
        kernel[(triton.cdiv(C, cfg["BLOCK_C"]), n_chunks)](part, *views, *extra, N, C, S, *strides, chunk_n, chunk_s,
                                                             s_chunks, n_chunks, **cfg)

    key = (_layout(v), v.dtype.name, next_pow2(n_chunks), next_pow2(C), next_pow2(S))
    tuning.launch(tunable, key, dict(L=N * S, C=C, K=n_chunks, itemsize=v.dtype.itemsize, acc=part.dtype.itemsize),
                  run)
    return n_chunks


def _apply(out: DeviceArray, x: DeviceArray, dy: DeviceArray | None, coef: DeviceArray) -> None:
    N, C, S = x.shape
    g = dy if dy is not None else x

    def run(cfg):
        s_blocks = triton.cdiv(S, cfg["BLOCK_S"])
        bn_apply_kernel[(N * s_blocks, triton.cdiv(C, cfg["BLOCK_C"]))](
            out, x, g, coef, N, C, S, *out.strides, *x.strides, *g.strides, s_blocks, HAS_DY=dy is not None, **cfg)

    # Keys name their spec's fields ("backward", "planar", "float32"): the tuner's AOT pruning finds the spec by them.
    key = ("backward" if dy is not None else "forward", _layout(x), x.dtype.name, out.dtype.name, next_pow2(C),
           next_pow2(S))
    itemsizes = out.dtype.itemsize + x.dtype.itemsize + (0 if dy is None else dy.dtype.itemsize)
    tuning.launch(APPLY_TUNING, key, dict(numel=N * C * S, itemsizes=itemsizes), run)


def _finalize(mean: DeviceArray, invstd: DeviceArray, coef: DeviceArray, rm, rv, weight, bias, part, n_chunks: int,
              eps: float, momentum: float, unbias: float, train: bool, update: bool) -> None:
    C = mean.shape[0]
    some = mean  # any pointer for an unused operand

    def run(cfg):
        bn_finalize_kernel[(triton.cdiv(C, cfg["BLOCK_C"]),)](
            mean, invstd, coef, rm if rm is not None else some, rv if rv is not None else some,
            weight if weight is not None else some, bias if bias is not None else some,
            part if part is not None else some, C, n_chunks, float(eps), float(momentum), float(unbias),
            TRAIN=train, UPDATE=update, HAS_W=weight is not None, HAS_B=bias is not None, **cfg)

    dtypes = tuple(a.dtype.name if a is not None else "-" for a in (mean, rm, weight))
    key = ("train" if train else "eval", *dtypes, update, weight is not None, bias is not None, next_pow2(n_chunks))
    tuning.launch(FINALIZE_TUNING, key, dict(C=C, K=n_chunks, acc=mean.dtype.itemsize), run, repeatable=not update)


def batch_norm_forward(out: DeviceArray, mean: DeviceArray, invstd: DeviceArray, coef: DeviceArray, x: DeviceArray,
                       running_mean: DeviceArray | None, running_var: DeviceArray | None, weight: DeviceArray | None,
                       bias: DeviceArray | None, part: DeviceArray | None, training: bool, momentum: float,
                       eps: float) -> None:
    """out = batch_norm(x); x and out are (N, C, S) views (`ncs_view`) of one shape.

    mean, invstd: (C,) outputs in the statistics' type (the batch's, or the running ones' in eval mode);
    coef: (4, C) scratch of that type; part: contiguous scratch of `scratch_numel(reduce_views(x)[0], 3)`
    elements (training only). Training with running buffers updates them in place with `momentum`
    (unbiased variance)."""
    C = x.shape[1]
    n_chunks = 0
    if training:
        (xr,) = reduce_views(x)
        n_chunks = _stats_launch(STATS_TUNING, bn_stats_kernel, part, (xr,), (), part.dtype.itemsize)
        count = xr.shape[0] * xr.shape[2]
        unbias = count / (count - 1) if count > 1 else float("inf")
    else:
        unbias = 1.0
    _finalize(mean, invstd, coef, running_mean, running_var, weight, bias, part, n_chunks, eps, momentum, unbias,
              training, training and running_mean is not None)
    if out.numel() and C:
        _apply(out, x, None, coef)


def batch_norm_backward(grad_x: DeviceArray | None, grad_w: DeviceArray | None, grad_b: DeviceArray | None,
                        coef: DeviceArray, dy: DeviceArray, x: DeviceArray, mean: DeviceArray, invstd: DeviceArray,
                        weight: DeviceArray | None, part: DeviceArray | None, training: bool) -> None:
    """The input, weight and bias gradients of batch_norm (each None when not wanted); dy, x, grad_x are (N, C, S)
    views of one shape, mean/invstd the forward's (C,) statistics.

    coef: (4, C) scratch in the statistics' type; part: scratch of `scratch_numel(reduce_views(x, dy)[0], 2)`
    elements, needed unless only grad_x is wanted in eval mode (that gradient needs no reduction)."""
    C = x.shape[1]
    n_chunks = 0
    if training or grad_w is not None or grad_b is not None:
        xr, gr = reduce_views(x, dy)
        n_chunks = _stats_launch(BACKWARD_STATS_TUNING, bn_backward_stats_kernel, part, (xr, gr), (mean,),
                                 part.dtype.itemsize)
        count = xr.shape[0] * xr.shape[2]
    else:
        count = 1
    some = mean

    def run(cfg):
        bn_backward_finalize_kernel[(triton.cdiv(C, cfg["BLOCK_C"]),)](
            grad_w if grad_w is not None else some, grad_b if grad_b is not None else some, coef,
            part if part is not None else some, mean, invstd, weight if weight is not None else some, C, n_chunks,
            1.0 / max(count, 1), TRAIN=training, HAS_W=weight is not None, OUT_GW=grad_w is not None,
            OUT_GB=grad_b is not None, **cfg)

    key = (mean.dtype.name, "-" if weight is None else weight.dtype.name, training, weight is not None,
           grad_w is not None, grad_b is not None, next_pow2(n_chunks))
    tuning.launch(BACKWARD_FINALIZE_TUNING, key, dict(C=C, K=n_chunks, acc=mean.dtype.itemsize), run)
    if grad_x is not None and grad_x.numel():
        _apply(grad_x, x, dy, coef)


# ================================================================ AOT / tuner declarations
_ACC = {"fp32": "fp32", "fp16": "fp32", "bf16": "fp32", "fp64": "fp64"}


def _sig(names: list[tuple[str, str]], ints: list[str], floats: list[str] = ()) -> dict[str, str]:
    sig = dict(names)
    sig.update({n: "i32" for n in ints})
    sig.update({n: "fp32" for n in floats})
    return sig


def _stats_sig(dtype: str) -> dict[str, str]:
    return _sig([("part_ptr", f"*{_ACC[dtype]}"), ("x_ptr", f"*{dtype}")],
                ["N", "C", "S", "sxn", "sxc", "sxs", "chunk_n", "chunk_s", "s_chunks", "n_chunks"])


def _backward_stats_sig(dtype: str) -> dict[str, str]:
    acc = _ACC[dtype]
    return _sig([("part_ptr", f"*{acc}"), ("x_ptr", f"*{dtype}"), ("dy_ptr", f"*{dtype}"), ("mean_ptr", f"*{acc}")],
                ["N", "C", "S", "sxn", "sxc", "sxs", "sgn", "sgc", "sgs", "chunk_n", "chunk_s", "s_chunks",
                 "n_chunks"])


def _apply_sig(dtype: str) -> dict[str, str]:
    return _sig([("out_ptr", f"*{dtype}"), ("x_ptr", f"*{dtype}"), ("dy_ptr", f"*{dtype}"),
                 ("coef_ptr", f"*{_ACC[dtype]}")],
                ["N", "C", "S", "son", "soc", "sos", "sxn", "sxc", "sxs", "sgn", "sgc", "sgs", "s_blocks"])


def _finalize_sig(dtype: str) -> dict[str, str]:
    acc = f"*{_ACC[dtype]}"
    return _sig([("mean_ptr", acc), ("invstd_ptr", acc), ("coef_ptr", acc), ("rm_ptr", f"*{dtype}"),
                 ("rv_ptr", f"*{dtype}"), ("w_ptr", f"*{dtype}"), ("b_ptr", f"*{dtype}"), ("part_ptr", acc)],
                ["C", "n_chunks"], ["eps", "momentum", "unbias"])


def _backward_finalize_sig(dtype: str) -> dict[str, str]:
    acc = f"*{_ACC[dtype]}"
    return _sig([("gw_ptr", f"*{dtype}"), ("gb_ptr", f"*{dtype}"), ("coef_ptr", acc), ("part_ptr", acc),
                 ("mean_ptr", acc), ("invstd_ptr", acc), ("w_ptr", f"*{dtype}")], ["C", "n_chunks"], ["inv_count"])


_STATS_SPACE = STATS_CONFIGS + _STATS_EXTRA
_APPLY_SPACE = APPLY_CONFIGS + _APPLY_EXTRA
_FINALIZE_SPACE = FINALIZE_CONFIGS + [dict(BLOCK_C=16, BLOCK_K=64, num_warps=4)]
# The finalize kernels read C x n_chunks partials and write a few (C,) vectors: a few KiB per launch, bound by
# launch latency, not bandwidth; their per-channel loads are scalar by design.
# Unit strides at a contiguous launch, per layout: planar (NCHW) inputs are contiguous along S; channel-inner ones
# ((N, C) inputs, channels-last reductions) along C. Each layout ships the heuristic's configs for it.
# The channel-inner layout (BatchNorm1d's (N, C), channels-last) ships fp32 and bf16 only: fp16 and fp64 compile
# the same code paths in the planar specs, and the CI compiles every shipped build twice per target.
_ALL = ("fp32", "fp16", "bf16", "fp64")
_INNER = ("fp32", "bf16")
_STATS_LAYOUTS = [("planar", [PLANAR_LONG, PLANAR_SHORT], ("sxs", "sgs"), _ALL),
                  ("inner", [CHANNEL_INNER], ("sxc", "sgc"), _INNER)]
_APPLY_LAYOUTS = [("planar", [APPLY_PLANAR, APPLY_SHORT], ("sos", "sxs", "sgs"), _ALL),
                  ("inner", [APPLY_SHORT], ("soc", "sxc", "sgc"), _INNER)]
SPECS = [
    KernelSpec(f"batch_norm.stats[{lay}:{d}]", bn_stats_kernel, _stats_sig(d), {}, cfgs, _STATS_SPACE,
               unit_args=units[:1])
    for lay, cfgs, units, dtypes in _STATS_LAYOUTS for d in dtypes
] + [
    KernelSpec(f"batch_norm.backward_stats[{lay}:{d}]", bn_backward_stats_kernel, _backward_stats_sig(d), {}, cfgs,
               _STATS_SPACE, unit_args=units)
    for lay, cfgs, units, dtypes in _STATS_LAYOUTS for d in dtypes
] + [
    KernelSpec(f"batch_norm.apply[{'backward' if dy else 'forward'}:{lay}:{d}]", bn_apply_kernel, _apply_sig(d),
               dict(HAS_DY=dy), cfgs, _APPLY_SPACE, unit_args=units)
    for dy in (False, True) for lay, cfgs, units, dtypes in _APPLY_LAYOUTS for d in dtypes
] + [
    KernelSpec(f"batch_norm.finalize[{'train' if train else 'eval'}:{d}]", bn_finalize_kernel, _finalize_sig(d),
               dict(TRAIN=train, UPDATE=train, HAS_W=True, HAS_B=True), FINALIZE_CONFIGS, _FINALIZE_SPACE,
               memory_bound=False, unit_args=())
    for train in (True, False) for d in ("fp32", "fp64")
] + [
    KernelSpec(f"batch_norm.backward_finalize[{d}]", bn_backward_finalize_kernel, _backward_finalize_sig(d),
               dict(TRAIN=True, HAS_W=True, OUT_GW=True, OUT_GB=True), FINALIZE_CONFIGS, _FINALIZE_SPACE,
               memory_bound=False, unit_args=())
    for d in ("fp32", "fp64")
]
