"""Fused optimizer steps over kernels/optim.py: one update per parameter on either device, the NumPy
reference on cpu and the fused Triton kernel on cuda.

Both update the parameter and its state tensors in place and bump their versions (a graph that saved
the old parameter then refuses to backward, as in PyTorch). PyTorch has no public name for a single
fused step, so nothing here is a tt.* name; tritensor.optim imports `sgd_step_` / `adam_step_` from here.
"""

from __future__ import annotations

from collections.abc import Callable

from ..autograd.grad_mode import no_grad
from ..kernels import optim as K
from ..tensor import Tensor

__all__: list[str] = []


def _checked_grad(param: Tensor, grad: Tensor) -> Tensor:
    if grad.device != param.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{param.device} and {grad.device}! (parameter and its .grad)")
    if grad._shape != param._shape:
        raise RuntimeError(f"parameter of shape {list(param._shape)} has a gradient of shape {list(grad._shape)}")
    if not param.dtype.is_floating_point or not grad.dtype.is_floating_point:
        raise RuntimeError(f"optimizers update floating point tensors; got a {param.dtype.name} parameter with a "
                           f"{grad.dtype.name} gradient")
    return grad


def _run(param: Tensor, grad: Tensor, state: list[Tensor | None], ref: Callable, kernel: Callable,
         **options) -> None:
    """Apply ref (cpu) or kernel (cuda) to param, grad and state in place."""
    grad = _checked_grad(param, grad)
    if param.device.type == "cpu":
        ref(param._host(), grad._host(), *(None if s is None else s._host() for s in state), **options)
    else:
        # The kernel takes flat contiguous operands; a strided parameter is updated through a copy.
        target = param if param.is_contiguous() else param.detach().contiguous()
        kernel(target._dev(), grad.contiguous()._dev(), *(None if s is None else s._dev() for s in state),
               **options)
        if target is not param:
            with no_grad():
                param.copy_(target)
    param._bump_version()
    for s in state:
        if s is not None:
            s._bump_version()


def sgd_step_(param: Tensor, grad: Tensor, momentum_buffer: Tensor | None, *, lr: float, momentum: float,
              dampening: float, weight_decay: float, nesterov: bool, maximize: bool, first: bool) -> None:
    """One torch.optim.SGD update of param (and momentum_buffer, initialised from grad when `first`)."""
    _run(param, grad, [momentum_buffer], K.sgd_step_ref, K.sgd_step, lr=lr, momentum=momentum,
         dampening=dampening, weight_decay=weight_decay, nesterov=nesterov, maximize=maximize, first=first)


def adam_step_(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, max_exp_avg_sq: Tensor | None, *,
               step: int, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, decoupled: bool,
               amsgrad: bool, maximize: bool) -> None:
    """One torch.optim.Adam (decoupled=False) / AdamW (decoupled=True) update of param and its state; `step` is
    the count after this step's increment."""
    _run(param, grad, [exp_avg, exp_avg_sq, max_exp_avg_sq], K.adam_step_ref, K.adam_step, step=step, lr=lr,
         beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, decoupled=decoupled, amsgrad=amsgrad,
         maximize=maximize)
