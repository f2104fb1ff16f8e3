"""torch._amp_foreach_non_finite_check_and_unscale_ and torch._amp_update_scale_ over kernels/amp_scale.py.

These are the two ops GradScaler (tritensor/amp/grad_scaler.py) is built on, under PyTorch's names, checks
and messages. On cuda the unscale is ONE multi-tensor launch per dtype of the list (the table of
tritensor/ops/foreach.py, cached by the gradients' addresses, so a training loop builds it once), reading
inv_scale from device memory and writing found_inf there; the scale update is one single-program launch. No
host round trip either way. On cpu the NumPy references run. Neither records autograd history.

A sparse COO gradient is unscaled and checked through its values. A strided (non-contiguous) gradient goes
through a contiguous copy within the same launch and is copied back.
"""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.grad_mode import no_grad
from ..kernels import amp_scale as K
from ..tensor import Tensor
from .foreach import _apply

__all__ = ["_amp_foreach_non_finite_check_and_unscale_", "_amp_update_scale_"]


def _method(op: str, device) -> str:
    return f"wrapper_{device.type.upper()}__{op}"


def _same_device(op: str, first: Tensor, named: list[tuple[str, Tensor]]) -> None:
    """PyTorch's dispatcher check: every tensor argument on the first one's device."""
    for name, t in named:
        if t.device != first.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{first.device} and {t.device}! (when checking argument for argument {name} in "
                               f"method {_method(op, first.device)})")


def _check_one_element(checks: list[tuple[str, Tensor, D.dtype]]) -> None:
    """PyTorch's kernel checks, in its order: every count first, then every dtype."""
    for name, t, _ in checks:
        if t.numel() != 1:
            raise RuntimeError(f"{name} must be a 1-element tensor.")
    for name, t, dtype in checks:
        if t.dtype != dtype:
            kind = "an int" if dtype == D.int32 else "a float"
            raise RuntimeError(f"{name} must be {kind} tensor.")


def _is_tensor(t) -> bool:
    return isinstance(t, Tensor)


def _grad_list(self) -> list[Tensor]:
    if _is_tensor(self) or not isinstance(self, (list, tuple)) or not all(_is_tensor(t) for t in self):
        bad = self if _is_tensor(self) or not isinstance(self, (list, tuple)) else \
            next(t for t in self if not _is_tensor(t))
        raise TypeError("_amp_foreach_non_finite_check_and_unscale_(): argument 'self' (position 1) must be tuple "
                        f"of Tensors, not {type(bad).__name__}")
    return list(self)


def _unscale_cuda(grads: list[Tensor], found_inf: Tensor, inv_scale: Tensor) -> None:
    """One launch per dtype over every gradient; strided ones through contiguous copies written back."""
    work = [g if g.is_contiguous() else g.contiguous() for g in grads]
    found, inv = found_inf._dev(), inv_scale._dev()
    _apply(work, lambda group: K.non_finite_check_and_unscale(group, found, inv))
    for g, w in zip(grads, work):
        if w is not g:
            g.copy_(w)


def _amp_foreach_non_finite_check_and_unscale_(self: list[Tensor], found_inf: Tensor, inv_scale: Tensor) -> None:
    """torch._amp_foreach_non_finite_check_and_unscale_: every tensor of `self` *= inv_scale in place, and
    found_inf = 1.0 if any element of any of them (before scaling) is inf or NaN; found_inf is never reset to
    0 here.

    found_inf and inv_scale: one-element float32 tensors on the tensors' device. The tensors: floating point,
    one device, any mix of float16, bfloat16, float32 and float64 (each scaled in float32, float64 for float64,
    as PyTorch's opmath); a sparse COO tensor is scaled and checked through its values. On cuda one kernel
    launch per dtype of the list, with the scale read from and the flag written to device memory (no host
    synchronisation); on cpu the NumPy reference.
    """
    grads = _grad_list(self)
    op = "_amp_foreach_non_finite_check_and_unscale_"
    if not grads:
        return
    dense = [g._values() if g.is_sparse else g for g in grads]
    first = dense[0]
    _same_device(op, first, [*[("self", g) for g in dense[1:]], ("found_inf", found_inf), ("inv_scale", inv_scale)])
    _check_one_element([("inv_scale", inv_scale, D.float32), ("found_inf", found_inf, D.float32)])
    kernel = f"_amp_foreach_non_finite_check_and_unscale_{first.device.type}"
    for g in dense:
        if not g.dtype.is_floating_point:
            raise RuntimeError(f"\"{kernel}\" not implemented for '{D.scalar_type_name(g.dtype)}'")
    with no_grad():
        if first.device.type == "cpu":
            K.non_finite_check_and_unscale_ref([g._host() for g in dense], found_inf._host(), inv_scale._host())
            for g in dense:
                g._bump_version()
        else:
            _unscale_cuda(dense, found_inf, inv_scale)
    found_inf._bump_version()


def _amp_update_scale_(self: Tensor, growth_tracker: Tensor, found_inf: Tensor, scale_growth_factor: float,
                       scale_backoff_factor: float, growth_interval: int) -> Tensor:
    """torch._amp_update_scale_: GradScaler's scale update, in place; returns `self` (the scale).

    If found_inf is nonzero: self *= scale_backoff_factor and growth_tracker = 0. Otherwise growth_tracker + 1,
    and when that reaches growth_interval: self *= scale_growth_factor (only if the result is finite in
    float32) and growth_tracker = 0. self and found_inf: one-element float32 tensors, growth_tracker a
    one-element int32 tensor, all on one device. The products are taken in float64 and rounded to float32, as
    PyTorch's. On cuda a single-program kernel (no host synchronisation); on cpu the NumPy reference.
    """
    op = "_amp_update_scale_"
    for name, t in (("self", self), ("growth_tracker", growth_tracker), ("found_inf", found_inf)):
        if not _is_tensor(t):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    _same_device(op, self, [("growth_tracker", growth_tracker), ("found_inf", found_inf)])
    _check_one_element([("growth_tracker", growth_tracker, D.int32), ("current_scale", self, D.float32),
                        ("found_inf", found_inf, D.float32)])
    growth, backoff, interval = float(scale_growth_factor), float(scale_backoff_factor), int(growth_interval)
    if self.device.type == "cpu":
        K.update_scale_ref(self._host(), growth_tracker._host(), found_inf._host(), growth, backoff, interval)
    else:
        K.update_scale(self._dev(), growth_tracker._dev(), found_inf._dev(), growth, backoff, interval)
    self._bump_version()
    growth_tracker._bump_version()
    return self
