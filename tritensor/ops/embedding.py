"""torch.embedding / embedding_renorm_ over kernels/embedding.py (NumPy on cpu).

The forward gathers weight rows; an index outside [0, num_embeddings) raises PyTorch's cpu IndexError on both
devices (on cuda through the device error word). The weight's gradient is dense (V, D) or, with sparse=True,
a sparse COO tensor (ops/sparse_coo.py) holding the looked-up rows' gradients: indices (1, nnz), values
(nnz, D), padding_idx's entries removed, as PyTorch's embedding_sparse_backward.

The dense backward on cuda is an atomic scatter-add, or, under `tt.use_deterministic_algorithms(True)` and
for scale_grad_by_freq (which needs each index's count), a stable sort of the indices followed by a
fixed-order segment sum per run of equal indices: no atomics, the same bits every run (see
kernels/embedding.py). Index vectors longer than the sort kernel's row are sorted in chunks on the device and
the chunks' sums added in order (no host round trip). The bag ops are in ops/embedding_bag.py.
"""

from __future__ import annotations

import numpy as np

from .. import determinism, device_errors
from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..creation import arange, full, zeros
from ..kernels import embedding as K
from ..kernels.sort import MAX_SORT_R
from ..tensor import Tensor
from .dispatch import check_same_device
from .shape import cat
from .sort import sort
from .sparse_coo import SparseCOOTensor

OUT_OF_RANGE = "index out of range in self"
_TYPES = {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double", "uint8": "Byte",
          "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}


def _host(t: Tensor) -> np.ndarray:
    return t._np if t._np is not None else t._host()


def check_indices(indices: Tensor, arg: str, op: str) -> None:
    """PyTorch's checkScalarTypes for an index tensor: Long or Int."""
    if indices.dtype not in (D.int64, D.int32):
        prefix = "torch." if indices.device.type == "cpu" else "torch.cuda."
        raise RuntimeError(f"Expected tensor for argument #1 '{arg}' to have one of the following scalar types: "
                           f"Long, Int; but got {prefix}{_TYPES[indices.dtype.name]}Tensor instead (while checking "
                           f"arguments for {op})")


def check_host_range(idx: np.ndarray, num: int) -> None:
    """The cpu check: any index outside [0, num) raises IndexError."""
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        raise IndexError(OUT_OF_RANGE)


def flat_indices(indices: Tensor) -> Tensor:
    """indices as a contiguous int64 (N,) tensor (no copy when it already is one)."""
    flat = indices.reshape(-1)
    if flat.dtype is not D.int64:
        flat = flat.to(D.int64)
    return flat if flat.is_contiguous() else flat.contiguous()


def rows_of(weight: Tensor) -> Tensor:
    """weight with unit column stride, as the kernels read it."""
    return weight if weight.ndim == 2 and (weight.stride(1) == 1 or weight._shape[1] <= 1) else weight.contiguous()


def sorted_chunks(idx: Tensor, skip: int) -> tuple[Tensor, Tensor]:
    """The flat int64 indices cut into chunks of MAX_SORT_R (the longest row the cuda sort kernel holds in
    registers), each chunk stably sorted on the device: (sorted (C, chunk), the positions in idx they came
    from (C, chunk)). The last chunk is padded with `skip`, a value the segment kernel skips."""
    n = idx._shape[0]
    if n <= MAX_SORT_R:
        values, perm = sort(idx, stable=True)
        return values.reshape(1, n), perm.reshape(1, n)
    chunks = -(-n // MAX_SORT_R)
    padded = cat([idx, full((chunks * MAX_SORT_R - n,), skip, dtype=D.int64, device=idx.device)])
    values, perm = sort(padded.reshape(chunks, MAX_SORT_R), dim=-1, stable=True)
    starts = arange(0, chunks * MAX_SORT_R, MAX_SORT_R, dtype=D.int64, device=idx.device).reshape(chunks, 1)
    return values, perm + starts


def _sorted_backward(g: Tensor, idx: Tensor, num_weights: int, padding_idx: int, scale: bool) -> Tensor:
    """The deterministic weight gradient: per chunk of sorted indices, each run of equal indices summed in
    input order by one program and added to its row, chunk after chunk (no atomics: the same bits every run).
    Several chunks accumulate in fp32 for 16-bit gradients, and scale_grad_by_freq divides at the end by the
    counts (summed the same way from ones, exact)."""
    values, perm = sorted_chunks(idx, padding_idx if padding_idx >= 0 else -1)
    shape = (num_weights, g._shape[1])
    if values._shape[0] == 1:
        out = zeros(shape, dtype=g.dtype, device=g.device)
        K.embedding_backward_sorted(out._dev(), g._dev(), values[0]._dev(), perm[0]._dev(), padding_idx, scale)
        return out
    acc = D.float32 if g.dtype in (D.float16, D.bfloat16) else g.dtype

    def summed(rows: Tensor, skip: int) -> Tensor:
        out = zeros((num_weights, rows._shape[1]), dtype=acc, device=g.device)
        for c in range(values._shape[0]):
            K.embedding_backward_sorted(out._dev(), rows._dev(), values[c]._dev(), perm[c]._dev(), skip,
                                        accumulate=c > 0)
        return out

    out = summed(g, padding_idx)
    if scale:
        counts = summed(Tensor._full((idx._shape[0], 1), 1, acc, g.device), padding_idx)
        out = out / counts.clamp(min=1)
    return out if acc is g.dtype else out.to(g.dtype)


# ---------------------------------------------------------------- forward
def _lookup(weight: Tensor, idx: Tensor) -> Tensor:
    """weight[idx] as (N, D) for a flat int64 idx, checked."""
    V, Dim = weight._shape
    if weight.device.type == "cpu":
        host_idx = _host(idx)
        check_host_range(host_idx, V)
        return Tensor._wrap(np.ascontiguousarray(K.embedding_ref(_host(weight), host_idx)))
    out = Tensor._empty((idx._shape[0], Dim), weight.dtype, weight.device)
    code = device_errors.expect(weight.device, IndexError, OUT_OF_RANGE)
    K.embedding(out._dev(), rows_of(weight)._dev(), idx._dev(), err=device_errors.error_word(weight.device),
                err_code=code)
    device_errors.after_launch(weight.device)
    return out


def dense_backward(grad_rows: Tensor, idx: Tensor, num_weights: int, padding_idx: int,
                   scale_grad_by_freq: bool) -> Tensor:
    """The (V, D) weight gradient from (N, D) gradient rows at flat int64 indices."""
    if grad_rows.device.type == "cpu":
        return Tensor._wrap(K.embedding_backward_host(_host(grad_rows), _host(idx), num_weights, padding_idx,
                                                      scale_grad_by_freq))
    g = grad_rows if grad_rows.is_contiguous() else grad_rows.contiguous()
    shape = (num_weights, g._shape[1])
    if determinism.are_deterministic_algorithms_enabled() or scale_grad_by_freq:
        return _sorted_backward(g, idx, num_weights, padding_idx, scale_grad_by_freq)
    acc = D.float32 if g.dtype in (D.float16, D.bfloat16) else g.dtype  # no 16-bit float atomics
    out = zeros(shape, dtype=acc, device=g.device)
    K.embedding_backward(out._dev(), g._dev(), idx._dev(), padding_idx)
    return out if acc is g.dtype else out.to(g.dtype)


def sparse_backward(grad_rows: Tensor, idx: Tensor, num_weights: int, padding_idx: int) -> SparseCOOTensor:
    """The weight gradient as a sparse COO tensor: indices (1, nnz), values (nnz, D); padding entries dropped."""
    if padding_idx >= 0:
        keep = idx != padding_idx
        idx, grad_rows = idx[keep], grad_rows[keep]
    return SparseCOOTensor._make_coo(idx.reshape(1, -1), grad_rows.detach(), (num_weights, grad_rows._shape[1]))


class EmbeddingFunction(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, weight: Tensor, indices: Tensor, padding_idx: int, scale_grad_by_freq: bool,
                sparse: bool) -> Tensor:
        idx = flat_indices(indices)
        ctx.idx, ctx.num_weights = idx, weight._shape[0]
        ctx.padding_idx, ctx.scale, ctx.sparse = padding_idx, scale_grad_by_freq, sparse
        return _lookup(weight, idx).reshape(tuple(indices._shape) + (weight._shape[1],))

    @staticmethod
    def backward(ctx, grad):
        rows = grad.reshape(-1, grad._shape[-1])
        if ctx.sparse:
            if ctx.scale:
                raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
            return sparse_backward(rows, ctx.idx, ctx.num_weights, ctx.padding_idx), None, None, None, None
        grad_weight = EmbeddingDenseBackward.apply(rows, ctx.idx, ctx.num_weights, ctx.padding_idx, ctx.scale)
        return grad_weight, None, None, None, None


class EmbeddingDenseBackward(Function):
    """embedding_dense_backward: the scatter-add of gradient rows (differentiable: its adjoint is the lookup)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, rows: Tensor, idx: Tensor, num_weights: int, padding_idx: int, scale: bool) -> Tensor:
        ctx.idx, ctx.padding_idx, ctx.scale = idx, padding_idx, scale
        return dense_backward(rows, idx, num_weights, padding_idx, scale)

    @staticmethod
    def backward(ctx, gg):
        out = _lookup(gg, ctx.idx) if not gg._requires_grad else EmbeddingFunction.apply(gg, ctx.idx, -1, False, False)
        if ctx.padding_idx >= 0 or ctx.scale:
            w = (ctx.idx != ctx.padding_idx).to(out.dtype)
            if ctx.scale:
                ones = Tensor._full(ctx.idx._shape, 1.0, out.dtype, out.device)
                counts = dense_backward(ones.reshape(-1, 1), ctx.idx, gg._shape[0], -1, False).reshape(-1)
                w = w / _lookup(counts.reshape(-1, 1), ctx.idx).reshape(-1)
            out = out * w.reshape(-1, 1)
        return out, None, None, None, None


def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """The rows of `weight` (num_embeddings, embedding_dim) at `indices` (any shape, Long or Int): shape
    indices.shape + (embedding_dim,). padding_idx's row gets no gradient (-1: none); sparse=True gives a sparse
    COO weight gradient; scale_grad_by_freq divides each row's gradient by its count in `indices`."""
    if not isinstance(weight, Tensor) or not isinstance(indices, Tensor):
        raise TypeError("embedding(): argument 'weight' and 'indices' must be Tensor")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    check_indices(indices, "indices", "embedding")
    check_same_device(weight, indices)
    return EmbeddingFunction.apply(weight, indices, int(padding_idx), bool(scale_grad_by_freq), bool(sparse))


def embedding_renorm_(weight: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> Tensor:
    """In place, without autograd: each row of `weight` named in `indices` whose norm_type-norm exceeds
    max_norm is scaled to max_norm / (norm + 1e-7), as torch.embedding_renorm_. Returns weight."""
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    check_indices(indices, "indices", "embedding_renorm_")
    idx = flat_indices(indices)
    V = weight._shape[0]
    with no_grad():
        if weight.device.type == "cpu":
            host_idx = _host(idx)
            check_host_range(host_idx, V)
            arr = weight._host()
            arr[...] = K.embedding_renorm_ref(arr, host_idx, max_norm, norm_type)
        else:
            # The kernel skips indices outside [0, V); the lookup that follows reports them (no round trip here).
            target = rows_of(weight)
            values, _ = sorted_chunks(idx, -1)
            # Chunk by chunk (a row may appear in several: renormalising it again leaves it within max_norm).
            for c in range(values._shape[0]):
                K.embedding_renorm(target._dev(), values[c]._dev(), float(max_norm), float(norm_type))
            if target is not weight:
                weight.copy_(target)
        weight._bump_version()
    return weight


__all__ = ["embedding", "embedding_renorm_"]
