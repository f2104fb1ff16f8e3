"""atan2 (arctan2) registered over kernels/atan2.py.

Two tensors promoted to one dtype (integers to the default float dtype) and broadcast by the kernel.
`backward` is written with tensor ops (second derivatives); `backward_fused` runs the fused backward
kernel when no graph is requested.
"""

from __future__ import annotations

from ..kernels import atan2 as K
from ..tensor import Tensor
from .binary import div
from .elementwise import mul, neg
from .map_ops import BinaryFunction, finish, in_place_method, tensor_pair


class Atan2(BinaryFunction):
    op = K.OPS["atan2"]

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        recip = div(1.0, mul(a, a) + mul(b, b))
        ga = mul(mul(grad, b), recip) if need_a else None
        gb = mul(mul(grad, neg(a)), recip) if need_b else None
        return ga, gb


def atan2(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """atan2(input, other): the angle of (other, input), integers promoted to the default float dtype."""
    return finish(Atan2.apply(*tensor_pair("atan2", input, other, float_only=True)), out)


arctan2 = atan2

__all__ = ["atan2", "arctan2"]
METHODS: dict = {"atan2": atan2, "arctan2": arctan2, "atan2_": in_place_method(atan2),
                 "arctan2_": in_place_method(arctan2)}
