"""nn.functional's linear maps, padding and one_hot (ops of ops/linear_act.py + ops/matmul.py, ops/shape.py,
ops/gather_scatter.py)."""

from __future__ import annotations

from ...ops.gather_scatter import one_hot
from ...ops.linear_act import linear
from ...ops.shape import pad
from ...tensor import Tensor

__all__ = ["linear", "bilinear", "pad", "one_hot"]


def _check_bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's bilinear() shape checks and messages."""
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                               f"{input1.shape[i]} and {input2.shape[i]}")
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but expected "
                           f"{weight.shape[1]}")
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but expected "
                           f"{weight.shape[2]}")
    if bias is not None and bias.shape[0] != weight.shape[0]:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias.shape[0]} but expected "
                           f"{weight.shape[0]}")


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o].

    input1 (*, in1), input2 (*, in2), weight (out, in1, in2), bias (out,). One matmul of input1 against the
    weight laid out (in1, out * in2), then a product with input2 summed over j (as PyTorch's decomposition).
    """
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"bilinear(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D (out, in1, in2), got {weight.ndim}-D")
    _check_bilinear(input1, input2, weight, bias)
    out_f, in1, in2 = weight.shape
    batch = tuple(input1.shape[:-1])
    w = weight.permute(1, 0, 2).reshape((in1, out_f * in2))
    t = (input1.reshape((-1, in1)) @ w).reshape((-1, out_f, in2))
    y = (t * input2.reshape((-1, 1, in2))).sum(-1).reshape(batch + (out_f,))
    return y if bias is None else y + bias
