"""Creation composites: tril_indices/triu_indices, scalar_tensor, asarray, vander, the window functions
(hann, hamming, blackman, bartlett, kaiser) and the predicates is_floating_point/is_nonzero.

Index lists and windows depend only on a few integers: they are computed on the host (NumPy, float64 for
the windows) and placed on the requested device, as a factory function does. vander is built from the input
with cat and cumprod, so it is differentiable on both devices.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..creation import as_tensor, default_for_factory, ones, tensor
from ..storage import canonical_device
from ..tensor import Tensor
from .scan import cumprod
from .shape import cat, flip


# ================================================================ triangular index lists
def _tri_indices(name: str, row: int, col: int, offset: int, dtype, device, upper: bool) -> Tensor:
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    dtype = D.int64 if dtype is None else dtype
    if dtype not in (D.int32, D.int64):
        raise RuntimeError(f"\"{name}\" not implemented for '{D.scalar_type_name(dtype)}'")
    pick = np.triu_indices if upper else np.tril_indices
    rows, cols = pick(row, int(offset), col) if row and col else (np.empty(0, np.int64),) * 2
    return tensor(np.stack([rows, cols]).astype(dtype.np), device=device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: D.dtype | None = None, device=None,
                 layout=None) -> Tensor:
    """The (2, N) row and column indices of the lower triangle (on and below the `offset`-th diagonal) of a
    row x col matrix, in row-major order."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device, False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: D.dtype | None = None, device=None,
                 layout=None) -> Tensor:
    """The (2, N) row and column indices of the upper triangle (on and above the `offset`-th diagonal) of a
    row x col matrix, in row-major order."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device, True)


# ================================================================ scalar_tensor, asarray
def scalar_tensor(s, *, dtype: D.dtype | None = None, layout=None, device=None, pin_memory: bool = False,
                  requires_grad: bool = False) -> Tensor:
    """A 0-D tensor holding `s`, of the default float dtype unless `dtype` is given (even for an int `s`)."""
    if isinstance(s, Tensor):
        s = s.item()
    return tensor(s, dtype=dtype or D.get_default_dtype(), device=device, requires_grad=requires_grad)


def _converted(obj: Tensor, dtype, device, copy) -> Tensor:
    target = obj.device if device is None else canonical_device(device)
    dtype = dtype or obj.dtype
    if copy is False and target != obj.device:
        raise ValueError(f"can't alias tensor from device '{obj.device}' to '{target}'.")
    if copy is False and dtype is not obj.dtype:
        raise ValueError(f"can't alias tensor with dtype {obj.dtype} into dtype {dtype}.")
    result = obj.to(device=target, dtype=dtype)
    return result.clone() if copy and result is obj else result


def asarray(obj, *, dtype: D.dtype | None = None, device=None, copy: bool | None = None,
            requires_grad: bool = False) -> Tensor:
    """`obj` as a tensor: a tensor or NumPy array is shared (no copy) when dtype and device allow and `copy` is
    not True; `copy=False` raises where sharing is impossible; other data (lists, scalars) is copied.

    Without `device=` the default device applies (`tt.set_default_device`), to tensors and arrays too, as in
    PyTorch."""
    device = default_for_factory(device)
    if isinstance(obj, Tensor):
        result = _converted(obj, dtype, device, copy)
    elif isinstance(obj, np.ndarray) and not copy:
        shareable = (dtype is None or dtype.np == obj.dtype) and \
            (device is None or canonical_device(device).type == "cpu")
        if copy is False and not shareable:
            raise ValueError("can't alias NumPy array: a copy is needed for the requested dtype or device.")
        result = as_tensor(obj, dtype=dtype, device=device)
    else:
        result = tensor(obj, dtype=dtype, device=device)
    if requires_grad and not result.requires_grad:
        result.requires_grad_(True)
    return result


# ================================================================ vander
def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803 - PyTorch's name
    """The Vandermonde matrix of a 1-D `x`: columns x**(N-1), ..., x**0 (reversed when `increasing`).

    Integer and bool inputs give int64 (the dtype promoted with long), floats keep theirs.
    """
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dtype = D.promote_types(x.dtype, D.int64)
    if dtype is D.bool:
        dtype = D.int64
    x = x if x.dtype is dtype else x.to(dtype)
    first = ones((x._shape[0], min(n, 1)), dtype=dtype, device=x.device)
    if n <= 1:
        return first
    # The powers are a running product along the row: [1, x, x, ...] -> [1, x, x**2, ...].
    powers = cumprod(cat([first, x.unsqueeze(1).expand(x._shape[0], n - 1)], 1), 1)
    return powers if increasing else flip(powers, 1)


# ================================================================ window functions
def _window(name: str, window_length: int, periodic: bool, dtype, device, requires_grad: bool, values) -> Tensor:
    dtype = dtype or D.get_default_dtype()
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{name} expects floating point dtypes, got: {D.scalar_type_name(dtype)}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    if window_length <= 1:
        arr = np.ones(window_length)
    else:
        # A periodic window of length N is the symmetric one of length N + 1 without its last point.
        m = window_length + 1 if periodic else window_length
        arr = values(np.arange(m, dtype=np.float64), m)[:window_length]
    return tensor(arr.astype(dtype.np), device=device, requires_grad=requires_grad)


def hann_window(window_length: int, periodic: bool = True, *, dtype: D.dtype | None = None, layout=None,
                device=None, requires_grad: bool = False) -> Tensor:
    """The Hann window 0.5 - 0.5 cos(2 pi n / (N - 1)); `periodic` drops the last point of length N + 1."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: 0.5 - 0.5 * np.cos(2 * np.pi * n / (m - 1)))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype: D.dtype | None = None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Hamming window alpha - beta cos(2 pi n / (N - 1)); `periodic` as in `hann_window`."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: alpha - beta * np.cos(2 * np.pi * n / (m - 1)))


def blackman_window(window_length: int, periodic: bool = True, *, dtype: D.dtype | None = None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The Blackman window 0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: 0.42 - 0.5 * np.cos(2 * np.pi * n / (m - 1)) + 0.08 * np.cos(4 * np.pi * n / (m - 1)))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype: D.dtype | None = None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The Bartlett (triangular) window 1 - |2 n / (N - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: 1 - np.abs(2 * n / (m - 1) - 1))


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype: D.dtype | None = None,
                  layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Kaiser window I0(beta sqrt(1 - (2 n / (N - 1) - 1)**2)) / I0(beta)."""
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: np.i0(beta * np.sqrt(np.clip(1 - (2 * n / (m - 1) - 1) ** 2, 0, None)))
                   / np.i0(beta))


# ================================================================ predicates
def is_floating_point(input: Tensor) -> bool:  # noqa: A002
    """True if the tensor's dtype is a floating-point type (float16, bfloat16, float32, float64)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_floating_point(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.dtype.is_floating_point


def is_nonzero(input: Tensor) -> bool:  # noqa: A002
    """True if the single value of a one-element tensor is not zero (False, 0 or 0.0)."""
    n = input.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item())


__all__ = ["asarray", "bartlett_window", "blackman_window", "hamming_window", "hann_window", "is_floating_point",
           "is_nonzero", "kaiser_window", "scalar_tensor", "tril_indices", "triu_indices", "vander"]

METHODS: dict = {"is_nonzero": is_nonzero}
