"""embedding_bag over kernels/embedding_bag.py (NumPy on cpu): per-bag sum / mean / max of embedding rows.

Bags arrive as a flat int64 index vector and a (B + 1,) boundary vector (2-d input: fixed-length bags;
1-d input: PyTorch's offsets, with N appended unless include_last_offset). The backward writes one gradient
row per entry (kernel, no atomics) and scatters those rows into the weight gradient with embedding's dense
backward (atomic, or the deterministic sorted segment sum) or returns them as a sparse COO gradient.
per_sample_weights (mode "sum") get grad[bag(j)] . weight[idx[j]].

The functional entry point is `embedding_bag` (nn.functional's argument checks and PyTorch's messages);
PyTorch's torch.embedding_bag (ATen's 4-tuple) is not bound.
"""

from __future__ import annotations

import numpy as np

from .. import device_errors
from .. import dtypes as D
from ..autograd.function import Function
from ..creation import zeros
from ..kernels import embedding_bag as K
from ..tensor import Tensor
from .embedding import (
    OUT_OF_RANGE,
    check_host_range,
    check_indices,
    dense_backward,
    flat_indices,
    rows_of,
    sparse_backward,
)

__all__: list[str] = []


def _host(t: Tensor) -> np.ndarray:
    return t.detach().cpu()._host()


def _forward_cuda(ctx, weight: Tensor, psw: Tensor | None, idx: Tensor, bounds: Tensor, mode: str,
                  padding_idx: int) -> Tensor:
    B, Dim, N = bounds._shape[0] - 1, weight._shape[1], idx._shape[0]
    out = Tensor._empty((B, Dim), weight.dtype, weight.device)
    maxpos = Tensor._empty((B, Dim), D.int64, weight.device) if mode == "max" else None
    o2b = zeros(N, dtype=D.int64, device=weight.device)
    size = Tensor._empty((B,), D.int64, weight.device)
    code = device_errors.expect(weight.device, IndexError, OUT_OF_RANGE)
    K.embedding_bag(out._dev(), None if maxpos is None else maxpos._dev(), o2b._dev(), size._dev(),
                    rows_of(weight)._dev(), idx._dev(), bounds._dev(), mode, None if psw is None else psw._dev(),
                    padding_idx, err=device_errors.error_word(weight.device), err_code=code)
    device_errors.after_launch(weight.device)
    ctx.maxpos, ctx.o2b, ctx.size = maxpos, o2b, size
    return out


class EmbeddingBagFunction(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, weight: Tensor, psw: Tensor | None, idx: Tensor, bounds: Tensor, mode: str, padding_idx: int,
                scale: bool, sparse: bool, covered: int) -> Tensor:
        ctx.idx, ctx.bounds, ctx.mode, ctx.padding_idx, ctx.scale, ctx.sparse = idx, bounds, mode, padding_idx, \
            scale, sparse
        ctx.covered = covered  # entries [0, covered) are in some bag (include_last_offset may leave a tail)
        ctx.num_weights = weight._shape[0]
        ctx.save_for_backward(weight, psw)
        if weight.device.type != "cpu":
            return _forward_cuda(ctx, weight, psw, idx, bounds, mode, padding_idx)
        h_idx = _host(idx)
        check_host_range(h_idx, weight._shape[0])
        out, maxpos, o2b, size = K.embedding_bag_ref(_host(weight), h_idx, _host(bounds), mode,
                                                     None if psw is None else _host(psw), padding_idx)
        ctx.maxpos = None if maxpos is None else Tensor._wrap(maxpos)
        ctx.o2b, ctx.size = Tensor._wrap(o2b), Tensor._wrap(size)
        return Tensor._wrap(out)

    @staticmethod
    def backward(ctx, grad):
        weight, psw = ctx.saved_tensors
        rows = _row_grads(ctx, grad, psw)
        if ctx.needs_input_grad[0]:
            if ctx.sparse:
                if ctx.scale:
                    raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
                gw = sparse_backward(rows, ctx.idx, ctx.num_weights, ctx.padding_idx)
            else:
                gw = dense_backward(rows, ctx.idx, ctx.num_weights, ctx.padding_idx, ctx.scale)
        else:
            gw = None
        gpsw = None
        if psw is not None and ctx.needs_input_grad[1]:
            # d out[b] / d w_j = weight[idx[j]] for j in bag b (zero at padding_idx and outside every bag).
            g = grad.index_select(0, ctx.o2b) * weight.detach().index_select(0, ctx.idx)
            keep = ctx.idx != ctx.padding_idx
            if ctx.covered < ctx.idx._shape[0]:
                keep = keep & Tensor._from_host(np.arange(ctx.idx._shape[0]) < ctx.covered, ctx.idx.device)
            gpsw = (g.sum(1) * keep.to(g.dtype)).to(psw.dtype)
        return gw, gpsw, None, None, None, None, None, None, None


def _row_grads(ctx, grad: Tensor, psw: Tensor | None) -> Tensor:
    """The (N, D) gradient row of every entry."""
    psw_rows = psw if ctx.mode == "sum" else None
    if grad.device.type == "cpu":
        return Tensor._wrap(K.embedding_bag_backward_ref(
            _host(grad), _host(ctx.idx), _host(ctx.bounds), ctx.mode, None if ctx.maxpos is None else
            _host(ctx.maxpos), _host(ctx.size), None if psw_rows is None else _host(psw_rows), ctx.padding_idx))
    g = rows_of(grad)
    rows = zeros((ctx.idx._shape[0], g._shape[1]), dtype=g.dtype, device=g.device)
    K.embedding_bag_backward(rows._dev(), g._dev(), None if ctx.maxpos is None else ctx.maxpos._dev(),
                             ctx.size._dev(), ctx.idx._dev(), ctx.bounds._dev(), ctx.mode,
                             None if psw_rows is None else psw_rows.detach()._dev(), ctx.padding_idx)
    return rows


def _bounds(input: Tensor, offsets: Tensor | None, include_last_offset: bool) -> tuple:  # noqa: A002
    """(flat int64 indices, int64 (B + 1,) bag boundaries, how many leading entries the bags cover), with
    PyTorch's offset checks (the offsets are read on the host: a synchronisation for cuda offsets)."""
    if input.ndim == 2:
        n, length = input.numel(), input._shape[1]
        ends = np.arange(0, n + 1, length) if length else np.zeros(input._shape[0] + 1, np.int64)
        return flat_indices(input), Tensor._from_host(ends.astype(np.int64), input.device), n
    idx = flat_indices(input)
    off = _host(offsets).astype(np.int64)
    n = idx._shape[0]
    if include_last_offset:
        if off.shape[0] < 1:
            raise RuntimeError("include_last_offset: number of offset should be at least 1")
    if off.shape[0] and off[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {int(off[0])}")
    if off.shape[0] and off[-1] > n:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {n}, but got {int(off[-1])}")
    ends = off if include_last_offset else np.concatenate([off, [n]])
    return idx, Tensor._from_host(np.ascontiguousarray(ends), input.device), int(ends[-1]) if len(ends) else 0


def _check_args(input: Tensor, weight: Tensor, offsets, mode: str, scale: bool, sparse: bool,  # noqa: A002
                per_sample_weights) -> None:
    if per_sample_weights is not None and tuple(input._shape) != tuple(per_sample_weights._shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                         f"must have the same shape as the input ({input.shape})")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type "
                             f"{type(offsets).__name__ if not isinstance(offsets, Tensor) else offsets.type()}")
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if mode == "max":
        if scale:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    elif mode not in ("sum", "mean"):
        raise ValueError("mode has to be one of sum, mean or max")


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,  # noqa: A002
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxes of bags of embedding rows, as torch.nn.functional.embedding_bag: input is (B, L)
    (B bags of L indices) or 1-D with `offsets` (each bag's start); the result is (B, embedding_dim), zeros
    for an empty bag. per_sample_weights (input's shape) scale each row, mode "sum" only."""
    _check_args(input, weight, offsets, mode, scale_grad_by_freq, sparse, per_sample_weights)
    check_indices(input, "indices", "embedding_bag")
    if offsets is not None:
        check_indices(offsets, "offsets", "embedding_bag")
        if offsets.dtype is not input.dtype:
            prefix = "torch." if input.device.type == "cpu" else "torch.cuda."
            names = {D.int64: "LongTensor", D.int32: "IntTensor"}
            raise RuntimeError(f"Expected tensor for argument #1 'indices' to have the same type as tensor for "
                               f"argument #2 'offsets'; but type {prefix}{names[input.dtype]} does not equal "
                               f"{prefix}{names[offsets.dtype]} (while checking arguments for embedding_bag)")
    if max_norm is not None:
        from .embedding import embedding_renorm_

        embedding_renorm_(weight, input, max_norm, norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    V = weight._shape[0]
    if padding_idx is None:
        padding_idx = -1
    else:
        if not -V <= padding_idx < V:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, -{V} through {V - 1}, but got "
                               f"{padding_idx}")
        padding_idx = padding_idx + V if padding_idx < 0 else padding_idx
    idx, bounds, covered = _bounds(input, offsets, include_last_offset)
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    if psw is not None and not psw.is_contiguous():
        psw = psw.contiguous()
    return EmbeddingBagFunction.apply(weight, psw, idx, bounds, mode, int(padding_idx), bool(scale_grad_by_freq),
                                      bool(sparse), covered)
