"""More activation modules (PReLU, RReLU, CELU, SELU, GLU, the shrink functions, Threshold, Hardtanh, ...):
thin wrappers over nn.functional with PyTorch's constructor arguments, attributes and reprs."""

from __future__ import annotations

import warnings

from ...creation import empty
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Threshold", "Hardtanh", "ReLU6", "SELU", "CELU", "GLU", "Hardshrink", "Softshrink", "Tanhshrink",
           "Softsign", "LogSigmoid", "Hardsigmoid", "Hardswish", "PReLU", "RReLU", "Softmin", "Softmax2d"]


def _inplace_suffix(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class _Inplace(Module):
    """An activation whose only constructor argument is `inplace` (repr 'inplace=True' when set)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        """'inplace=True' when set, else empty."""
        return "inplace=True" if self.inplace else ""


class Threshold(Module):
    """y = x if x > threshold else value.

    Args: threshold: the value to threshold at; value: the replacement; inplace: modify the input in place.

    >>> nn.Threshold(0.1, 20.0)(tt.tensor([0.0, 1.0]))
    tensor([20.,  1.])
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        """threshold, value, and inplace when set."""
        return f"threshold={self.threshold}, value={self.value}{_inplace_suffix(self.inplace)}"


class Hardtanh(Module):
    """x clamped to [min_val, max_val] element-wise.

    Args: min_val (default -1.0); max_val (default 1.0); inplace; min_value / max_value: deprecated names.
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and rename to `min_val`",
                          FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and rename to `max_val`",
                          FutureWarning, stacklevel=2)
            max_val = max_value
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        assert self.max_val > self.min_val

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        """min_val, max_val, and inplace when set."""
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_suffix(self.inplace)}"



class ReLU6(Hardtanh):
    """Applies ReLU6 element-wise: ReLU6(x) = min(max(0, x), 6); a Hardtanh on [0, 6], as PyTorch defines it.

    Args: inplace: if True, modifies the input in place.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        """'inplace=True' when set, else empty."""
        return "inplace=True" if self.inplace else ""

class SELU(_Inplace):
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with the self-normalising constants.

    Args: inplace: if True, modifies the input in place.
    """

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.selu(input, self.inplace)


class CELU(Module):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    Args: alpha (default 1.0); inplace: if True, modifies the input in place.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        """alpha, and inplace when set."""
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class GLU(Module):
    """The gated linear unit a * sigmoid(b), a and b the halves of the input along `dim`.

    Args: dim (default -1): the dimension split in half (its size must be even).
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        """Applies GLU to `input`; the result has half its size along `dim`."""
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        """The split dimension."""
        return f"dim={self.dim}"


class Hardshrink(Module):
    """x where |x| > lambd, else 0.

    Args: lambd (default 0.5).
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        """lambd, as PyTorch prints it (the bare value)."""
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x - lambd above lambd, x + lambd below -lambd, else 0.

    Args: lambd (default 0.5; must be >= 0).
    """

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.softshrink(input, self.lambd)


class Tanhshrink(Module):
    """x - tanh(x) element-wise."""

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.tanhshrink(input)


class Softsign(Module):
    """x / (1 + |x|) element-wise."""

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.softsign(input)


class LogSigmoid(Module):
    """log(sigmoid(x)) element-wise, computed stably."""

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.logsigmoid(input)


class Hardsigmoid(Module):
    """relu6(x + 3) / 6 element-wise.

    Args: inplace: if True, modifies the input in place.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.hardsigmoid(input, self.inplace)


class Hardswish(Hardsigmoid):
    """x * relu6(x + 3) / 6 element-wise.

    Args: inplace: if True, modifies the input in place.
    """

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.hardswish(input, self.inplace)


class PReLU(Module):
    """x where x >= 0, else a * x, with a learnable `weight` a: one value, or one per channel (input dim 1).

    Args: num_parameters (default 1: one a shared by every channel); init (default 0.25): a's initial value.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Fills the weight with `init`."""
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        """Applies PReLU to `input` (channels at dim 1, or dim 0 of a 1-d input)."""
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        """The number of parameters."""
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized leaky ReLU: in training, x * a for x < 0 with a ~ U(lower, upper) drawn per element;
    in eval, the slope (lower + upper) / 2.

    Args: lower (default 1/8); upper (default 1/3); inplace: if True, modifies the input in place.
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (random slopes in training mode)."""
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        """lower, upper, and inplace when set."""
        return f"lower={self.lower}, upper={self.upper}{_inplace_suffix(self.inplace)}"


class Softmin(Module):
    """softmax(-x) along `dim`.

    Args: dim: the dimension to normalise; None picks one implicitly with PyTorch's deprecation warning.
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        """Applies softmin to `input` along `self.dim`."""
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        """The softmin dimension."""
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of a (C, H, W) or (N, C, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:
        """Applies softmax along dim -3; `input` must be 3-D or 4-D."""
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return F.softmax(input, -3, _stacklevel=5)
