"""conv1d/2d/3d and conv_transpose1d/2d/3d (torch.* and torch.nn.functional names): argument normalising
and PyTorch's checks, then the 5-D primitives of ops/conv_autograd.py (implicit-GEMM Triton kernels on
cuda, NumPy im2col on cpu).

A 1-D or 2-D convolution is run as a 3-D one with leading spatial dims of size 1 (views, no copies);
an unbatched input gets a batch dim of 1. padding='same' with an odd total padding pads the far side of
the input by one first (as PyTorch does), so the kernels only ever see symmetric padding.

conv1d/2d/3d take `activation=` (a tritensor extension, keyword-only): None, "relu", "gelu", "gelu_tanh" or
"silu" gives F.<act>(conv(...))'s values from one fused op (ConvActivation: the activation in the conv
kernel's epilogue on cuda); nn.Sequential(Conv2d, ReLU) uses it.
"""

from __future__ import annotations

from .. import dtypes as D
from ..tensor import Tensor
from .conv_autograd import ConvActivation, ConvForward, ConvInputGrad
from .linear_act import apply_activation
from .shape import pad as _pad
from .unary import torch_type_name

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


def _sizes(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _tuple(value, n: int, name: str) -> tuple[int, ...]:
    """An int or a length-n sequence of ints as an n-tuple (PyTorch's expand_param_if_needed)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    vals = tuple(int(v) for v in value)
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values to match the "
                           f"convolution dimensions, but got {name}={list(vals)}")
    return vals


def _to3(vals: tuple, fill: int) -> tuple[int, int, int]:
    return (fill,) * (3 - len(vals)) + tuple(vals)


def _check_common(fn: str, input, weight, bias, k: int, stride, dilation, groups: int) -> bool:
    """PyTorch's rank/dtype/parameter checks; returns whether the input is batched."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{fn}(): argument 'bias' must be Tensor, not {type(bias).__name__}")
    if input.ndim not in (k + 1, k + 2):
        raise RuntimeError(f"Expected {k + 1}D (unbatched) or {k + 2}D (batched) input to {fn}, but got input of "
                           f"size: {_sizes(input.shape)}")
    if weight.ndim != k + 2:
        raise RuntimeError(f"Expected {k + 2}-dimensional weight for {fn}, but got {weight.ndim}-dimensional weight "
                           f"of size {_sizes(weight.shape)}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"Input type ({torch_type_name(input.dtype)}) and weight type "
                           f"({torch_type_name(weight.dtype)}) should be the same")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({torch_type_name(input.dtype)}) and bias type "
                           f"({torch_type_name(bias.dtype)}) should be the same")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"{fn}\" not implemented for '{torch_type_name(input.dtype)}'")
    for t in (weight, bias):
        if t is not None and t.device != input.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{input.device} and {t.device}!")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    return input.ndim == k + 2


def _same_padding(x: Tensor, ks: tuple, dilation: tuple) -> tuple[Tensor, tuple]:
    """Symmetric padding for 'same' (stride 1); an odd total pads the far side of x by one first."""
    padding, extra = [], []
    for k, d in zip(ks, dilation):
        total = d * (k - 1)
        padding.append(total // 2)
        extra.append(total % 2)
    if any(extra):
        pads = []
        for e in reversed(extra):
            pads += [0, e]
        x = _pad(x, pads)
    return x, tuple(padding)


_ACTIVATIONS = (None, "relu", "gelu", "gelu_tanh", "silu")


def _check_activation(fn: str, activation) -> None:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{fn}(): activation must be one of None, 'relu', 'gelu', 'gelu_tanh' or 'silu', "
                         f"got {activation!r}")


def _forward(x5: Tensor, w5: Tensor, bias, geom: tuple, activation) -> Tensor:
    """act(conv(x5, w5) + bias): fused (ConvActivation) except float64 on cuda, where the kernel's fp64
    accumulator has no activation epilogue: there the activation runs after the convolution."""
    if activation is None:
        return ConvForward.apply(x5, w5, bias, geom)
    if x5.device.type == "cuda" and x5.dtype is D.float64:
        return apply_activation(ConvForward.apply(x5, w5, bias, geom), activation)
    return ConvActivation.apply(x5, w5, bias, geom, activation)


def _conv(fn: str, k: int, input, weight, bias, stride, padding, dilation, groups, activation=None) -> Tensor:
    _check_activation(fn, activation)
    stride = _tuple(stride, k, "stride")
    dilation = _tuple(dilation, k, "dilation")
    batched = _check_common(fn, input, weight, bias, k, stride, dilation, groups)
    x = input if batched else input.unsqueeze(0)
    ks = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        if padding == "valid":
            padding = (0,) * k
        else:
            x, padding = _same_padding(x, ks, dilation)
    padding = _tuple(padding, k, "padding")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    o = weight.shape[0]
    if o % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {_sizes(weight.shape)} instead")
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_sizes(weight.shape)}, expected input"
                           f"{_sizes(x.shape)} to have {weight.shape[1] * groups} channels, but got {x.shape[1]} "
                           f"channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != o):
        raise RuntimeError(f"Given weight of size {_sizes(weight.shape)}, expected bias to be 1-dimensional with {o} "
                           f"elements, but got bias of size {_sizes(bias.shape)} instead")
    padded = tuple(s + 2 * p for s, p in zip(x.shape[2:], padding))
    span = tuple(d * (kk - 1) + 1 for kk, d in zip(ks, dilation))
    if any(p < s for p, s in zip(padded, span)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, span))}). Kernel size can't be greater than actual input size")
    geom = (_to3(stride, 1), _to3(padding, 0), _to3(dilation, 1), groups)
    if activation is None and x.device.type == "cpu":  # rank-generic there: no reshape nodes around it
        y = ConvForward.apply(x, weight, bias, geom)
        return y if batched else y.squeeze(0)
    lead = (1,) * (3 - k)
    x5 = x.reshape(*x.shape[:2], *lead, *x.shape[2:])
    w5 = weight.reshape(*weight.shape[:2], *lead, *ks)
    y = _forward(x5, w5, bias, geom, activation)
    y = y.reshape(*y.shape[:2], *y.shape[5 - k:])
    return y if batched else y.squeeze(0)


def _conv_transpose(fn: str, k: int, input, weight, bias, stride, padding, output_padding, groups, dilation
                    ) -> Tensor:
    stride = _tuple(stride, k, "stride")
    dilation = _tuple(dilation, k, "dilation")
    batched = _check_common(fn, input, weight, bias, k, stride, dilation, groups)
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str")
    padding = _tuple(padding, k, "padding")
    output_padding = _tuple(output_padding, k, "output_padding")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got output_padding="
                           f"{list(output_padding)}, stride={list(stride)}, dilation={list(dilation)}")
    x = input if batched else input.unsqueeze(0)
    c_in = weight.shape[0]
    if c_in % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {_sizes(weight.shape)} instead")
    if x.shape[1] != c_in:
        raise RuntimeError(f"Given transposed=1, weight of size {_sizes(weight.shape)}, expected input"
                           f"{_sizes(x.shape)} to have {c_in} channels, but got {x.shape[1]} channels instead")
    c_out = weight.shape[1] * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != c_out):
        raise RuntimeError(f"Given transposed=1, weight of size {_sizes(weight.shape)}, expected bias to be "
                           f"1-dimensional with {c_out} elements, but got bias of size {_sizes(bias.shape)} instead")
    ks = tuple(weight.shape[2:])
    osz = tuple((s - 1) * st - 2 * p + d * (kk - 1) + op + 1
                for s, st, p, d, kk, op in zip(x.shape[2:], stride, padding, dilation, ks, output_padding))
    if any(o < 1 for o in osz):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). Calculated output "
                           f"size per channel: ({' x '.join(map(str, osz))}). Output size is too small")
    lead = (1,) * (3 - k)
    x5 = x.reshape(*x.shape[:2], *lead, *x.shape[2:])
    w5 = weight.reshape(*weight.shape[:2], *lead, *ks)
    geom = (_to3(stride, 1), _to3(padding, 0), _to3(dilation, 1), groups)
    y = ConvInputGrad.apply(x5, w5, bias, (x.shape[0], c_out, *lead, *osz), geom)
    y = y.reshape(*y.shape[:2], *y.shape[5 - k:])
    return y if batched else y.squeeze(0)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1, *, activation: str | None = None) -> Tensor:
    """1-D convolution of (N, C, L) or (C, L) input with weight (O, C // groups, K); padding int, tuple,
    'same' or 'valid'."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups, activation)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1, *, activation: str | None = None) -> Tensor:
    """2-D convolution of (N, C, H, W) or (C, H, W) input with weight (O, C // groups, KH, KW).

    activation (a tritensor extension, keyword-only; also on conv1d / conv3d): None, "relu", "gelu",
    "gelu_tanh" or "silu": F.relu / F.gelu / F.silu of the convolution, fused into the conv kernel's epilogue
    on cuda and into one dz launch in backward.

    >>> tt.nn.functional.conv2d(tt.tensor([[[[1.0, -2.0]]]]), tt.ones(1, 1, 1, 1), activation="relu")
    tensor([[[[1., 0.]]]])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups, activation)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1, *, activation: str | None = None) -> Tensor:
    """3-D convolution of (N, C, D, H, W) or (C, D, H, W) input with weight (O, C // groups, KD, KH, KW)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups, activation)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution of (N, C, L) or (C, L) input with weight (C, O // groups, K)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution of (N, C, H, W) or (C, H, W) input with weight (C, O // groups, KH, KW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-D transposed convolution of (N, C, D, H, W) or (C, D, H, W) input with weight (C, O // groups, K...)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
