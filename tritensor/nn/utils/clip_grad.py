"""Gradient clipping (torch.nn.utils.clip_grad): get_total_norm, clip_grads_with_norm_, clip_grad_norm_,
clip_grad_value_.

On cuda (foreach=None or True) the total norm of all gradients is one multi-tensor reduction launch per
dtype plus one fixed-order combine launch that also writes the clip coefficient, and the scaling is one
multi-tensor launch per dtype reading that coefficient from device memory (tritensor/ops/foreach.py).
foreach=False, or tensors spread over devices, takes the per-tensor path; foreach=True on cpu tensors raises
PyTorch's error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from ...autograd import no_grad
from ...creation import tensor
from ...ops import foreach as F
from ...ops.shape import stack
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]

_Tensors = Tensor | Iterable[Tensor]


def _as_list(tensors: _Tensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters: list[Tensor]) -> list[Tensor]:
    return [p.grad for p in parameters if p.grad is not None]


def _use_foreach(tensors: list[Tensor], foreach: bool | None) -> bool:
    """PyTorch's choice: foreach kernels on one accelerator device; foreach=True on cpu is an error."""
    devices = {t.device for t in tensors}
    if foreach and any(d.type == "cpu" for d in devices):
        raise RuntimeError("foreach=True was passed, but can't use the foreach API on cpu tensors")
    return foreach is not False and len(devices) == 1 and next(iter(devices)).type == "cuda"


def _check_finite(total_norm: Tensor, norm_type: float) -> None:
    if (total_norm.isnan() | total_norm.isinf()).item():
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")


def _per_tensor_total(tensors: list[Tensor], norm_type: float) -> Tensor:
    device = tensors[0].device
    norms = [F._foreach_norm([t], norm_type)[0].to(device) for t in tensors]
    return F._foreach_norm([stack(norms)], norm_type)[0]


@no_grad()
def get_total_norm(tensors: _Tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The order-`norm_type` norm of all tensors as if concatenated into one vector (inf, -inf and 0 included),
    a 0-d tensor on the first tensor's device; tensor(0.) for an empty list."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    fused = _use_foreach(tensors, foreach)  # raises for foreach=True on cpu
    if fused or {t.device.type for t in tensors} == {"cpu"}:
        total = F.total_norm(tensors, norm_type)[0]
    else:
        total = _per_tensor_total(tensors, norm_type)
    if error_if_nonfinite:
        _check_finite(total, norm_type)
    return total


def _scale(grads: list[Tensor], coef: Tensor, foreach: bool | None) -> None:
    if _use_foreach(grads, foreach):
        F.scale_(grads, coef)
        return
    for g in grads:
        g.mul_(coef.to(g.device))


@no_grad()
def clip_grads_with_norm_(parameters: _Tensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the parameters' gradients in place by min(max_norm / (total_norm + 1e-6), 1)."""
    _clip_with_norm(_grads(_as_list(parameters)), float(max_norm), total_norm, foreach)


def _clip_with_norm(grads: list[Tensor], max_norm: float, total_norm: Tensor, foreach: bool | None) -> None:
    if not grads:
        return
    coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
    _scale(grads, coef, foreach)


@no_grad()
def clip_grad_norm_(parameters: _Tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so that their joint norm (as if concatenated) is at most max_norm.

    Returns that total norm (before clipping); tensor(0.) when no parameter has a grad. error_if_nonfinite
    raises RuntimeError (before any gradient changes) when the total norm is NaN or infinite."""
    grads = _grads(_as_list(parameters))
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return tensor(0.0)
    if not _use_foreach(grads, foreach):
        total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
        _clip_with_norm(grads, max_norm, total, foreach)
        return total
    # One reduction launch per dtype, one combine launch that also writes the coefficient, one scaling launch.
    total, coef = F.total_norm(grads, norm_type, clip_max_norm=max_norm)
    if error_if_nonfinite:
        _check_finite(total, norm_type)
    F.scale_(grads, coef)
    return total


def clip_grad_norm(parameters: _Tensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated alias of clip_grad_norm_ (PyTorch warns the same way)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@no_grad()
def clip_grad_value_(parameters: _Tensors, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient in place to [-clip_value, clip_value] (one multi-tensor launch per dtype on cuda)."""
    clip_value = float(clip_value)
    grads = _grads(_as_list(parameters))
    if not grads:
        return
    if _use_foreach(grads, foreach):
        F.foreach_clamp_(grads, -clip_value, clip_value)
        return
    for g in grads:
        g.clamp_(min=-clip_value, max=clip_value)
