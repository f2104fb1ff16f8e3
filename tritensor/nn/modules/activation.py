"""Activation modules: thin wrappers over nn.functional, with PyTorch's constructor arguments and reprs."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .attention import MultiheadAttention  # noqa: F401 - also at torch.nn.modules.activation's path
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Mish", "Softplus", "Tanh", "Sigmoid", "Softmax",
           "LogSoftmax"]


class ReLU(Module):
    """Applies the rectified linear unit function element-wise: ReLU(x) = max(0, x).

    Args: inplace: if True, modifies the input in place.

    >>> nn.ReLU()(tt.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        """'inplace=True' when set, else empty."""
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """Applies LeakyReLU element-wise: x if x >= 0, else negative_slope * x.

    Args: negative_slope (default 0.01); inplace: if True, modifies the input in place.

    >>> nn.LeakyReLU(0.1)(tt.tensor([-1.0, 0.0, 2.0]))
    tensor([-0.1000,  0.0000,  2.0000])
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        """The negative slope, and inplace when set."""
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """Applies the exponential linear unit element-wise: x if x > 0, else alpha * (exp(x) - 1).

    Args: alpha (default 1.0); inplace: if True, modifies the input in place.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        """alpha, and inplace when set."""
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Applies the Gaussian error linear unit element-wise: GELU(x) = x * Phi(x), Phi the standard normal CDF.

    Args: approximate: 'none' (exact, with erf) or 'tanh' (the tanh approximation).
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        """The approximation used ('none' or 'tanh')."""
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Applies the sigmoid linear unit (swish) element-wise: SiLU(x) = x * sigmoid(x).

    Args: inplace: if True, modifies the input in place.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        """'inplace=True' when set, else empty."""
        return "inplace=True" if self.inplace else ""


class Mish(SiLU):
    """Applies Mish element-wise: Mish(x) = x * tanh(softplus(x)).

    Args: inplace: if True, modifies the input in place.
    """

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.mish(input, inplace=self.inplace)


class Softplus(Module):
    """Applies Softplus element-wise: (1 / beta) * log(1 + exp(beta * x)); linear where beta * x > threshold.

    Args: beta (default 1.0); threshold (default 20.0).
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        """beta and threshold."""
        return f"beta={self.beta}, threshold={self.threshold}"


class Tanh(Module):
    """Applies the hyperbolic tangent element-wise: Tanh(x) = tanh(x)."""

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.tanh(input)


class Sigmoid(Module):
    """Applies the logistic sigmoid element-wise: Sigmoid(x) = 1 / (1 + exp(-x))."""

    def forward(self, input: Tensor) -> Tensor:
        """Applies the activation to `input` (any shape)."""
        return F.sigmoid(input)


class Softmax(Module):
    """Applies softmax along `dim`: exp(x_i) / sum_j exp(x_j), so slices along `dim` are positive and sum to 1.

    Args: dim: the dimension to normalise; None picks one implicitly with PyTorch's deprecation warning.

    >>> nn.Softmax(dim=0)(tt.tensor([0.0, 0.0]))
    tensor([0.5000, 0.5000])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        """Applies softmax to `input` along `self.dim`."""
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        """The softmax dimension."""
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """Applies log(softmax(x)) along `dim`, computed stably in one pass.

    Args: dim: the dimension to normalise; None picks one implicitly with PyTorch's deprecation warning.
    """

    def forward(self, input: Tensor) -> Tensor:
        """Applies log_softmax to `input` along `self.dim`."""
        return F.log_softmax(input, self.dim, _stacklevel=5)
