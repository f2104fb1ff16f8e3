"""Foreach ops (torch._foreach_*) over kernels/multi_tensor.py: one launch for a whole list of tensors on cuda.

On cuda the tensors are grouped by dtype and described by one int64 table (addresses, sizes and the
chunks every tensor is cut into), built on the host and copied to the device in one transfer; a norm is
then one multi-tensor launch (a partial per chunk) and one fixed-order combine launch, and a scale or
clamp is one in-place launch per dtype. Tables are cached by (addresses, sizes, dtypes): an optimizer
step's gradients keep their memory, so a training loop builds its table once. The cpu path runs the
NumPy references per tensor.

`total_norm` / `scale_` are the helpers torch.nn.utils' clipping uses (module attributes,
not tt.* names); the `_foreach_*` functions are tt.* names, as in the torch namespace. None of these
record autograd history (PyTorch's callers run them under no_grad).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import dtypes as D
from ..autograd.grad_mode import no_grad
from ..kernels import multi_tensor as K
from ..kernels.device_array import DeviceArray
from ..tensor import Tensor
from .shape import stack

__all__ = ["_foreach_norm", "_foreach_mul_", "_foreach_clamp_min_", "_foreach_clamp_max_"]

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 8


class _Plan:
    """The device table of one list of cuda tensors: its groups (one per dtype) and their chunk ranges."""

    def __init__(self, tensors: list[Tensor]):
        device = tensors[0].device
        order: dict = {}
        for i, t in enumerate(tensors):
            order.setdefault(t.dtype, []).append(i)
        host, layout = [], []
        offset = chunk_base = 0
        for dtype, idx in order.items():
            devs = [tensors[i]._dev() for i in idx]
            sizes = [d.numel() for d in devs]
            chunk_len = K.chunk_length(sum(sizes))
            ctensor, cstart = K.build_table(sizes, chunk_len)
            addrs = np.array([d.data_ptr() for d in devs], dtype=np.int64)
            counts = np.array([-(-n // chunk_len) for n in sizes], dtype=np.int64)
            bounds = chunk_base + np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            parts = [addrs, np.array(sizes, dtype=np.int64), ctensor, cstart, bounds]
            layout.append((dtype, idx, offset, [p.size for p in parts], chunk_len, sum(sizes),
                           bool(np.all(addrs % 16 == 0)), chunk_base))
            host.extend(parts)
            offset += sum(p.size for p in parts)
            chunk_base += ctensor.size
        self.chunks = chunk_base
        host.append(np.array([0, chunk_base], dtype=np.int64))  # the total norm's one range: every chunk
        self.table = Tensor._from_host(np.concatenate(host), device)
        self.groups = []  # (dtype, tensor indices, K.Group, bounds view, first chunk)
        dev = self.table._dev()
        for dtype, idx, off, lens, chunk_len, numel, aligned, first in layout:
            # The kernels take the element type from a pointer they never read: the table's own memory, typed
            # as the group's dtype, so that a cached plan keeps no gradient alive.
            like = DeviceArray(dev.storage, 0, (1,), (1,), dtype)
            views = []
            for n in lens:
                views.append(dev.view_as((n,), (1,), dev.offset + off))
                off += n
            group = K.Group(*views[:4], like, numel, aligned, chunk_len)
            self.groups.append((dtype, idx, group, views[4], first))
        self.all_bounds = dev.view_as((2,), (1,), dev.offset + offset)
        self.device = device


def _plan(tensors: list[Tensor]) -> _Plan:
    key = (tensors[0].device, tuple((t._dev().data_ptr(), t.numel(), t.dtype) for t in tensors))
    plan = _CACHE.get(key)
    if plan is None:
        plan = _CACHE[key] = _Plan(tensors)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return plan


def _acc_dtype(dtypes) -> D.dtype:
    return D.float64 if D.float64 in dtypes else D.float32


def _result_dtype(dtypes) -> D.dtype:
    out = None
    for d in dtypes:
        out = d if out is None else D.promote_types(out, d)
    return out


def _check_list(name: str, tensors) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'self' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    tensors = list(tensors)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument 'self' (position 1) must be tuple of Tensors, not "
                            f"{type(t).__name__}")
    if tensors and any(t.device != tensors[0].device for t in tensors):
        raise RuntimeError("Expected all tensors to be on the same device")
    return tensors


def _check_float(tensors: list[Tensor]) -> None:
    for t in tensors:
        if not t.dtype.is_floating_point:
            raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                               f"{D.scalar_type_name(t.dtype)} instead.")


def _check_empty(tensors: list[Tensor], p: float) -> None:
    if p < 0 and any(t.numel() == 0 for t in tensors):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because the "
                           "operation does not have an identity")


def _on_cuda(tensors: list[Tensor]) -> bool:
    return bool(tensors) and tensors[0].device.type == "cuda"


def _dense(tensors: list[Tensor]) -> list[Tensor]:
    """For the read-only norms: a strided cuda tensor is read through a contiguous copy."""
    return [t if t.is_contiguous() else t.contiguous() for t in tensors]


def _fused(tensors: list[Tensor]) -> bool:
    """The multi-tensor kernels apply: cuda tensors, contiguous (the table holds flat element counts)."""
    return bool(tensors) and tensors[0].device.type == "cuda" and all(t.is_contiguous() for t in tensors)


def _partials(plan: _Plan, p: float) -> Tensor:
    partials = Tensor._empty((max(plan.chunks, 1),), _acc_dtype([g[0] for g in plan.groups]), plan.device)
    pv = partials._dev()
    for _, _, group, _, first in plan.groups:  # each group writes its own range of partials
        K.multi_tensor_norm(pv.view_as((group.chunks,), (1,), pv.offset + first), group, p)
    return partials


def _as_float(p) -> float:
    if isinstance(p, Tensor):
        return float(p.item())
    return float(p)


# ---------------------------------------------------------------- public foreach ops
@no_grad()
def _foreach_norm(self: list[Tensor], ord: float = 2, dtype: D.dtype | None = None) -> list[Tensor]:
    """torch._foreach_norm: the order-`ord` vector norm of every tensor, each a 0-d tensor of its dtype (or
    `dtype`); on cuda one multi-tensor launch per dtype and one combine launch per dtype."""
    tensors = _check_list("_foreach_norm", self)
    _check_float(tensors)
    p = _as_float(ord)
    _check_empty(tensors, p)
    if _on_cuda(tensors):
        tensors = _dense(tensors)
    if not _fused(tensors):
        out = [Tensor._wrap(K.vector_norm_ref(t.detach().cpu()._host(), p)).to(t.device) for t in tensors]
    else:
        plan = _plan(tensors)
        partials = _partials(plan, p)
        out = [None] * len(tensors)
        for gdtype, idx, _, bounds, _ in plan.groups:
            norms = Tensor._empty((len(idx),), gdtype, plan.device)
            K.norm_combine(norms._dev(), partials._dev(), bounds, p)
            for j, i in enumerate(idx):
                out[i] = norms._view((), (), j)
    if dtype is not None:
        out = [o.to(dtype) for o in out]
    return out


def _scalar_tensor(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise RuntimeError("scalar tensor expected to be 0 dim but it has "
                               f"{value.ndim} dimensions and {value.numel()} elements.")
        if value.device != like.device:
            value = value.to(like.device)
        return value.contiguous()
    return Tensor._from_host(np.array([value], dtype=np.float64), like.device)


@no_grad()
def _foreach_mul_(self: list[Tensor], other) -> None:
    """torch._foreach_mul_: every tensor *= other (a number or a one-element tensor) in place; on cuda one
    multi-tensor launch per dtype (the factor read from device memory: no host round trip)."""
    tensors = _check_list("_foreach_mul_", self)
    if isinstance(other, (list, tuple)):
        if len(other) != len(tensors):
            raise RuntimeError(f"Tensor list must have same number of elements as scalar list, but got "
                               f"{len(tensors)} and {len(other)}")
        for t, o in zip(tensors, other):
            t.mul_(o)
        return
    if not _fused(tensors) or not all(t.dtype.is_floating_point for t in tensors):
        for t in tensors:
            t.mul_(other.to(t.device) if isinstance(other, Tensor) else other)
        return
    coef = _scalar_tensor(other, tensors[0])
    _apply(tensors, lambda group: K.multi_tensor_scale(group, coef._dev().view_as((1,), (1,))))


def _apply(tensors: list[Tensor], launch) -> None:
    for _, _, group, _, _ in _plan(tensors).groups:
        launch(group)
    for t in tensors:
        t._bump_version()


def foreach_clamp_(tensors: list[Tensor], lo: float, hi: float) -> None:
    """Every tensor clamped to [lo, hi] in place (NaN kept), one multi-tensor launch per dtype on cuda."""
    with no_grad():
        if not _fused(tensors) or not all(t.dtype.is_floating_point for t in tensors):
            for t in tensors:
                t.clamp_(min=None if lo == -np.inf else lo, max=None if hi == np.inf else hi)
            return
        _apply(tensors, lambda group: K.multi_tensor_clamp(group, lo, hi))


def _foreach_clamp_min_(self: list[Tensor], scalar: float) -> None:
    """torch._foreach_clamp_min_: every tensor = max(tensor, scalar) in place."""
    foreach_clamp_(_check_list("_foreach_clamp_min_", self), float(scalar), np.inf)


def _foreach_clamp_max_(self: list[Tensor], scalar: float) -> None:
    """torch._foreach_clamp_max_: every tensor = min(tensor, scalar) in place."""
    foreach_clamp_(_check_list("_foreach_clamp_max_", self), -np.inf, float(scalar))


# ---------------------------------------------------------------- helpers of nn.utils' clipping
def _total_cpu(tensors: list[Tensor], p: float) -> Tensor:
    """PyTorch's order: the per-tensor norms (each in its dtype), then the norm of their stack."""
    norms = [K.vector_norm_ref(t.detach().cpu()._host(), p) for t in tensors]
    dtype = _result_dtype([t.dtype for t in tensors])
    stacked = np.stack([n.astype(dtype.np) for n in norms])
    return Tensor._wrap(K.vector_norm_ref(stacked, p)).to(tensors[0].device)


@no_grad()
def total_norm(tensors: list[Tensor], p: float, *, clip_max_norm: float | None = None) -> tuple[Tensor,
                                                                                                 Tensor | None]:
    """(the order-p norm of all tensors as if concatenated, clip coefficient or None), a 0-d tensor of the
    tensors' promoted dtype on their device. On cuda: one multi-tensor launch per dtype and one combine launch,
    which with clip_max_norm also writes min(max_norm / (norm + 1e-6), 1) as a (1,) tensor."""
    tensors = _check_list("get_total_norm", tensors)
    _check_float(tensors)
    _check_empty(tensors, p)
    dtype = _result_dtype([t.dtype for t in tensors])
    if _on_cuda(tensors):
        tensors = _dense(tensors)
    if not _fused(tensors) or p == 0:
        # p == 0: PyTorch's total is the count of tensors with a nonzero norm (the 0-"norm" of the norms).
        total = _total_cpu(tensors, p) if not _fused(tensors) else _count_nonzero_norms(tensors, dtype)
        coef = None
        if clip_max_norm is not None:
            coef = (clip_max_norm / (total + 1e-6)).clamp(max=1.0)
        return total, coef
    plan = _plan(tensors)
    partials = _partials(plan, p)
    out = Tensor._empty((1,), dtype, plan.device)
    coef = Tensor._empty((1,), dtype, plan.device) if clip_max_norm is not None else None
    K.norm_combine(out._dev(), partials._dev(), plan.all_bounds, p,
                   coef._dev() if coef is not None else None, clip_max_norm or 0.0)
    return out._view((), (), 0), coef


def _count_nonzero_norms(tensors: list[Tensor], dtype: D.dtype) -> Tensor:
    norms = stack([n.to(dtype) for n in _foreach_norm(tensors, 0)])
    return (norms != 0).sum().to(dtype)


@no_grad()
def scale_(tensors: list[Tensor], coef: Tensor) -> None:
    """Every tensor *= coef (a one-element tensor on their device), one multi-tensor launch per dtype on cuda."""
    _foreach_mul_(tensors, coef)
