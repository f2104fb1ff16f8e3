"""lerp (linear interpolation) registered over kernels/lerp.py.

input + weight * (end - input) with weight a tensor or a Python number; no type promotion, as PyTorch.
`backward` is written with tensor ops (second derivatives); `backward_fused` runs the fused backward
kernel when no graph is requested.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import lerp as K
from ..tensor import Tensor
from .dispatch import broadcast_shapes, check_same_device, expanded
from .elementwise import mul
from .map_ops import check_operand, check_shapes, finish, fused_grads, in_place_method, reduce_to


class Lerp(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, start: Tensor, end: Tensor, weight) -> Tensor:
        ctx.shapes = (start._shape, end._shape, weight._shape if type(weight) is Tensor else None)
        ctx.weight = None if type(weight) is Tensor else weight
        if ctx.needs_input_grad:
            ctx.save_for_backward(start, end, weight if type(weight) is Tensor else None)
        if start.device.type == "cpu":
            w = weight._host() if type(weight) is Tensor else weight
            return Tensor._wrap(np.asarray(K.lerp_ref(start._host(), end._host(), w)))
        shape = broadcast_shapes(*(t._shape for t in (start, end, weight) if type(t) is Tensor))
        out = Tensor._empty(shape, start.dtype, start.device)
        w = expanded(weight, shape) if type(weight) is Tensor else weight
        K.lerp(out._dev(), expanded(start, shape), expanded(end, shape), w)
        return out

    def _inputs(self) -> tuple:
        start, end, weight = self.saved_tensors
        return start, end, weight if weight is not None else self.weight

    @staticmethod
    def backward(ctx, grad):
        start, end, weight = ctx._inputs()
        need_s, need_e, need_w = ctx.needs_input_grad[:3]
        gs = reduce_to(mul(grad, 1 - weight), ctx.shapes[0]) if need_s else None
        ge_ = reduce_to(mul(grad, weight), ctx.shapes[1]) if need_e else None
        gw = reduce_to(mul(grad, end - start), ctx.shapes[2]) if need_w else None
        return gs, ge_, gw

    def backward_fused(self, grad):
        grads = fused_grads(K.OPS["lerp"], tuple(self.needs_input_grad[:3]), grad, list(self._inputs()))
        return tuple(reduce_to(g, s) for g, s in zip(grads, self.shapes))


def lerp(input: Tensor, end: Tensor, weight, *, out: Tensor | None = None) -> Tensor:
    """input + weight * (end - input); weight a tensor or a number. No type promotion, as PyTorch."""
    check_operand("lerp", "input", input, numbers=False)
    check_operand("lerp", "end", end, numbers=False)
    check_operand("lerp", "weight", weight)
    for name, t in (("end", end), ("weight", weight)):
        if type(t) is Tensor and t.dtype is not input.dtype:
            raise RuntimeError(f"expected dtype {input.dtype} for `{name}` but got dtype {t.dtype}")
    if not input.dtype.is_floating_point:
        kernel = "lerp_kernel_tensor" if type(weight) is Tensor else "lerp_kernel_scalar"
        raise RuntimeError(f"\"{kernel}\" not implemented for '{D.scalar_type_name(input.dtype)}'")
    check_same_device(input, end, *([weight] if type(weight) is Tensor else []))
    check_shapes(input, end, weight)
    return finish(Lerp.apply(input, end, weight), out)


__all__ = ["lerp"]
METHODS: dict = {"lerp": lerp, "lerp_": in_place_method(lerp)}
