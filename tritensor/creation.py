"""Tensor creation: tensor, as_tensor, from_numpy, zeros/ones/empty/full, ranges, eye, random, *_like.

A factory called without `device=` puts its result on the default device (`set_default_device`, `with tt.device(...)`),
as PyTorch's factories do; `*_like`, `new_*`, `from_numpy`, `from_dlpack`, `normal` and `tt.Tensor(...)` do not.
"""

from __future__ import annotations

import builtins
import functools
import math

import numpy as np

from . import dtypes as D
from .device import CPU, set_thread_default, thread_default, watch_default
from .kernels.device_array import contiguous_strides
from .random import Generator, rng
from .storage import Storage, canonical_device
from .tensor import Tensor

# True while some thread has a default device set (device.watch_default keeps it current). Without one, a factory
# called without `device=` pays this one module-variable lookup and never reads the thread-local state.
_ANY_DEFAULT = False


def _watch_default(active: bool) -> None:
    global _ANY_DEFAULT
    _ANY_DEFAULT = active


watch_default(_watch_default)


def _factory_device(device):
    """Where a factory puts its result: `device` when given, else the default device (cpu while none is set)."""
    if device is not None:
        return canonical_device(device)
    return get_default_device() if _ANY_DEFAULT else CPU


def default_for_factory(device):
    """`device` when given, else this thread's default device of factory functions (None when unset).

    For factories that pass `device` on rather than allocate (asarray): they need the unresolved choice.
    """
    return thread_default() if device is None and _ANY_DEFAULT else device


def set_default_device(device) -> None:
    """Sets the device that factory functions called without `device=` (tensor, zeros, ones, empty, full, arange,
    linspace, logspace, eye, rand, randn, randint, randperm, as_tensor, asarray, the windows, tril/triu_indices
    and the parameters nn modules create) put their result on, as torch.set_default_device.

    `None` restores cpu. The setting belongs to the calling thread (a new thread starts on cpu), an explicit
    `device=` still wins, and a `with tt.device(...)` block overrides it while open. "cuda" without an index means
    the current cuda device at each call. `*_like` and `new_*` follow their input; `from_numpy`, `from_dlpack`
    share memory and stay on cpu; `normal` with float mean and std stays on cpu as in PyTorch.

    >>> tt.set_default_device("cuda")
    >>> tt.zeros(2).device
    device(type='cuda', index=0)
    >>> tt.set_default_device(None)
    """
    set_thread_default(device)


def get_default_device():
    """The device factory functions called without `device=` use in this thread, with its index resolved
    (cuda: the current cuda device), as torch.get_default_device.

    >>> tt.get_default_device()
    device(type='cpu')
    """
    found = thread_default()
    return CPU if found is None else canonical_device(found)


def _dtype_checked(fn):
    """PyTorch's TypeError for a dtype that is not a tt.dtype (a string, a NumPy type), before any work."""
    name = fn.__name__

    @functools.wraps(fn)
    def checked(*args, dtype=None, **kwargs):
        if dtype is not None and not isinstance(dtype, D.dtype):
            raise TypeError(f"{name}(): argument 'dtype' must be tritensor.dtype, not {type(dtype).__name__}")
        return fn(*args, dtype=dtype, **kwargs)

    return checked


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"size must be a tuple of ints, but got an element of type {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        t.requires_grad_(True)
    return t


def _place(arr: np.ndarray, device, requires_grad: bool = False) -> Tensor:
    """A tensor holding a host array's values on `device`."""
    device = CPU if device is None and not _ANY_DEFAULT else _factory_device(device)  # no call in the usual case
    return _finish(Tensor._from_host(arr, device), requires_grad)


def _infer_dtype(data) -> D.dtype:
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, np.ndarray):
        return D.from_numpy_dtype(data.dtype)
    if isinstance(data, np.generic):
        return D.from_numpy_dtype(data.dtype)
    if isinstance(data, bool):
        return D.bool
    if isinstance(data, int):
        return D.int64
    if isinstance(data, float):
        return D.get_default_dtype()
    if isinstance(data, complex):
        return D.default_complex_dtype()
    if isinstance(data, (list, tuple)):
        if len(data) == 0:
            return D.get_default_dtype()
        result = None
        for item in data:
            d = _infer_dtype(item)
            result = d if result is None else _promote_literal(result, d)
        return result
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _promote_literal(a: D.dtype, b: D.dtype) -> D.dtype:
    return D.promote_types(a, b)


def _to_numpy(data, dtype: D.dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        return data.detach().cpu()._host().astype(dtype.np)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        return np.stack([_to_numpy(x, dtype) for x in data])
    try:
        return np.array(data, dtype=dtype.np)
    except ValueError as e:
        raise ValueError(f"expected sequence of equal-length lists to build a tensor: {e}") from None


@_dtype_checked
def tensor(data, *, dtype: D.dtype | None = None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, NumPy arrays or tensors)."""
    dtype = dtype or _infer_dtype(data)
    arr = _to_numpy(data, dtype)
    if isinstance(data, np.ndarray) and np.shares_memory(arr, data):
        arr = arr.copy()
    return _place(arr, device, requires_grad)


def as_tensor(data, dtype: D.dtype | None = None, device=None) -> Tensor:
    """Like tensor(), but shares memory with a NumPy array or tensor when dtype and device allow."""
    if dtype is not None and not isinstance(dtype, D.dtype):
        raise TypeError(f"as_tensor(): argument 'dtype' must be tritensor.dtype, not {type(dtype).__name__}")
    if device is None and _ANY_DEFAULT:
        device = thread_default()  # PyTorch passes the default device to as_tensor, for tensors and arrays alike
    if isinstance(data, Tensor):
        return data.to(device=device or data.device, dtype=dtype or data.dtype)
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype) and \
            (device is None or canonical_device(device).type == "cpu"):
        try:
            return from_numpy(data)
        except (TypeError, ValueError):
            pass
    return tensor(data, dtype=dtype, device=device)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A cpu tensor sharing `arr`'s memory: writes through either show in both."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    dtype = D.from_numpy_dtype(arr.dtype)
    if any(s < 0 for s in arr.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors with negative "
                         "strides are not currently supported. (You can probably work around this by making a "
                         "copy of your array  with array.copy().) ")
    if any(s % arr.itemsize for s in arr.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. Copy the numpy "
                         "array to reallocate the memory.")
    if arr.flags.c_contiguous:
        t = Tensor._wrap(arr)
        t._storage = Storage(host=arr.reshape(-1))
        return t
    strides = tuple(s // arr.itemsize for s in arr.strides)
    span = 1 + builtins.sum((n - 1) * s for n, s in zip(arr.shape, strides)) if arr.size else 0
    flat = np.lib.stride_tricks.as_strided(arr, shape=(span,), strides=(arr.itemsize,))
    t = Tensor._make(Storage(host=flat), arr.shape, strides, 0, dtype, CPU)
    t._np = arr
    return t


def from_dlpack(ext) -> Tensor:
    """A cpu tensor sharing memory with a DLPack-exporting object (NumPy arrays, other libraries)."""
    if isinstance(ext, Tensor):
        return ext
    return from_numpy(np.from_dlpack(ext))


def _filled(size, value, dtype, device, requires_grad) -> Tensor:
    shape = _shape(size)
    device = CPU if device is None and not _ANY_DEFAULT else _factory_device(device)  # no call in the usual case
    return _finish(Tensor._full(shape, value, dtype, device), requires_grad)


def _sizes(sizes: tuple, size) -> tuple:
    """The shape given positionally (`zeros(2, 3)`, `zeros((2, 3))`) or as PyTorch's `size=` keyword."""
    if size is None:
        return sizes
    if sizes:
        raise TypeError("got multiple values for argument 'size'")
    return (size,)


@_dtype_checked
def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """A tensor of `size` (ints or one sequence) filled with 0, of the default float dtype unless `dtype`.

    `out` is accepted for signature compatibility and ignored: the result is always a new tensor.

    >>> tt.zeros(2, 3)
    tensor([[0., 0., 0.],
            [0., 0., 0.]])
    """
    return _filled(_sizes(sizes, size), 0, dtype or D.get_default_dtype(), device, requires_grad)


@_dtype_checked
def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """A tensor of `size` (ints or one sequence) filled with 1, of the default float dtype unless `dtype`.

    `out` is accepted for signature compatibility and ignored: the result is always a new tensor.

    >>> tt.ones(2, dtype=tt.int32)
    tensor([1, 1], dtype=tritensor.int32)
    """
    return _filled(_sizes(sizes, size), 1, dtype or D.get_default_dtype(), device, requires_grad)


@_dtype_checked
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of `size` filled with `fill_value`; the dtype follows the value (bool, int64 or the default float).

    >>> tt.full((2,), 7)
    tensor([7, 7])
    """
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled((size,) if isinstance(size, int) else tuple(size), fill_value,
                   dtype or D.scalar_dtype(fill_value), device, requires_grad)


@_dtype_checked
def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """An uninitialised tensor of `size` (default float dtype); `memory_format` is accepted and ignored."""
    shape = _shape(_sizes(sizes, size))
    device = CPU if device is None and not _ANY_DEFAULT else _factory_device(device)  # no call in the usual case
    return _finish(Tensor._empty(shape, dtype or D.get_default_dtype(), device), requires_grad)


@_dtype_checked
def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor of `size` whose memory is laid out with the given element `stride`.

    >>> tt.empty_strided((2, 3), (1, 2)).stride()
    (1, 2)
    """
    shape, stride = _shape(tuple(size)), tuple(stride)
    dtype = dtype or D.get_default_dtype()
    device = CPU if device is None and not _ANY_DEFAULT else _factory_device(device)  # no call in the usual case
    span = 1 + builtins.sum((n - 1) * s for n, s in zip(shape, stride)) if all(shape) else 0
    base = Tensor._empty((span,), dtype, device)
    t = Tensor._make(base._get_storage(), shape, stride, 0, dtype, device)
    return _finish(t, requires_grad)


@_dtype_checked
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`arange(end)` or `arange(start, end, step=1)`: the values start, start + step, ... up to, not including, end.

    The result is int64 when start, end and step are all ints, the default float dtype otherwise.

    >>> tt.arange(5)
    tensor([0, 1, 2, 3, 4])
    >>> tt.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = D.int64 if is_int else D.get_default_dtype()
    n = math.ceil((end - start) / step)
    arr = (start + step * np.arange(n, dtype=np.float64)).astype(dtype.np) if dtype.is_floating_point \
        else np.arange(start, start + n * step, step, dtype=dtype.np)[:n]
    return _place(arr, device, requires_grad)


@_dtype_checked
def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`steps` values evenly spaced from `start` to `end`, both included (computed in float64, then cast).

    >>> tt.linspace(0, 1, 5)
    tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dtype = dtype or D.get_default_dtype()
    return _place(np.linspace(start, end, steps, dtype=np.float64).astype(dtype.np), device, requires_grad)


@_dtype_checked
def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None, requires_grad=False):
    """`steps` values `base ** x` for x evenly spaced from `start` to `end`, both included.

    >>> tt.logspace(0, 2, 3)
    tensor([  1.,  10., 100.])
    """
    dtype = dtype or D.get_default_dtype()
    return _place(np.logspace(start, end, steps, base=base).astype(dtype.np), device, requires_grad)


@_dtype_checked
def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 2-D tensor of shape (n, m) (m defaults to n) with ones on the diagonal and zeros elsewhere.

    >>> tt.eye(2)
    tensor([[1., 0.],
            [0., 1.]])
    """
    dtype = dtype or D.get_default_dtype()
    return _place(np.eye(n, n if m is None else m, dtype=dtype.np), device, requires_grad)


def _random(values: np.ndarray, dtype, device, requires_grad) -> Tensor:
    return _place(values.astype((dtype or D.get_default_dtype()).np, copy=False), device, requires_grad)


def _check_float(dtype, name: str) -> None:
    if dtype is not None and not dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{dtype.name.capitalize()}'")


@_dtype_checked
def rand(*sizes, size=None, generator: Generator | None = None, dtype=None, device=None,
         requires_grad=False) -> Tensor:
    """A tensor of `size` with values drawn uniformly from [0, 1) (floating dtypes only).

    Values are drawn on the host by the generator (NumPy's PCG64) and copied to `device`, so one seed gives
    the same values on cpu and cuda; they differ from PyTorch's stream for the same seed.
    """
    _check_float(dtype, "check_uniform_bounds")
    return _random(rng(generator).random(_shape(_sizes(sizes, size))), dtype, device, requires_grad)


@_dtype_checked
def randn(*sizes, size=None, generator: Generator | None = None, dtype=None, device=None,
          requires_grad=False) -> Tensor:
    """A tensor of `size` with values drawn from the standard normal distribution (floating dtypes only).

    Drawn on the host like `rand`: one seed gives the same values on cpu and cuda (not PyTorch's values).
    """
    _check_float(dtype, "normal_kernel_cpu")
    return _random(rng(generator).standard_normal(_shape(_sizes(sizes, size))), dtype, device, requires_grad)


@_dtype_checked
def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """randint(high, size) or randint(low, high, size): integers drawn uniformly from [low, high)."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high  # the two-argument form randint(high, size)
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    values = rng(generator).integers(low, high, size=_shape(tuple(size)), dtype=np.int64)
    return _place(values.astype((dtype or D.int64).np), device, requires_grad)


@_dtype_checked
def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0, ..., n - 1 (int64 unless `dtype`), drawn on the host."""
    return _place(rng(generator).permutation(n).astype((dtype or D.int64).np), device, requires_grad)


@_dtype_checked
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Values drawn from normal distributions N(mean, std).

    With float `mean` and `std` a `size` is required; with a tensor `mean` and/or `std` the result has their
    broadcast shape and the tensor's dtype and device. Drawn on the host like `rand`.
    """
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = mean.detach().cpu()._host() if isinstance(mean, Tensor) else mean
        s = std.detach().cpu()._host() if isinstance(std, Tensor) else std
        like = mean if isinstance(mean, Tensor) else std
        if np.any(np.asarray(s) < 0):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        values = rng(generator).normal(m, s)
        return _random(np.asarray(values), dtype or like.dtype, device or like.device, requires_grad)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is None:
        raise TypeError("normal() with float mean and std needs a size")
    # PyTorch leaves normal out of the factories the default device applies to: cpu unless `device=`.
    return _random(rng(generator).normal(mean, std, size=_shape(tuple(size))), dtype,
                   CPU if device is None else device, requires_grad)


def _like(fn, x: Tensor, *args, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    return fn(*args, x._shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad,
              **kwargs)


@_dtype_checked
def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """A tensor of zeros with `input`'s shape, and its dtype and device unless given."""
    return _like(zeros, input, dtype=dtype, device=device, requires_grad=requires_grad)


@_dtype_checked
def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """A tensor of ones with `input`'s shape, and its dtype and device unless given."""
    return _like(ones, input, dtype=dtype, device=device, requires_grad=requires_grad)


@_dtype_checked
def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """An uninitialised tensor with `input`'s shape, and its dtype and device unless given."""
    return _like(empty, input, dtype=dtype, device=device, requires_grad=requires_grad)


@_dtype_checked
def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    """A tensor filled with `fill_value` with `input`'s shape, and its dtype and device unless given.

    >>> tt.full_like(tt.zeros(2), 3)
    tensor([3., 3.])
    """
    return full(input._shape, fill_value, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


@_dtype_checked
def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """Uniform [0, 1) values with `input`'s shape, and its dtype and device unless given."""
    return _like(rand, input, dtype=dtype, device=device, requires_grad=requires_grad)


@_dtype_checked
def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """Standard normal values with `input`'s shape, and its dtype and device unless given."""
    return _like(randn, input, dtype=dtype, device=device, requires_grad=requires_grad)


@_dtype_checked
def randint_like(input: Tensor, low, high=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high) (or [0, low) if `high` is omitted) with `input`'s shape.

    The dtype and device are `input`'s unless given.
    """
    if high is None:
        low, high = 0, low
    return randint(low, high, input._shape, dtype=dtype or input.dtype, device=device or input.device,
                   requires_grad=requires_grad)


def _tensor_new(cls, *args, **kwargs) -> Tensor:
    """`tt.Tensor(data)` copies data as the default float dtype; `tt.Tensor(*size)` is uninitialised memory."""
    # The legacy constructor ignores the default device in PyTorch: cpu unless told otherwise.
    if len(args) == 1 and not isinstance(args[0], int):
        return tensor(args[0], dtype=D.get_default_dtype(), device=CPU)
    return empty(*(args or (0,)), **{"device": CPU, **kwargs})


def _new_size(size: tuple) -> tuple:
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size


@_dtype_checked
def new_empty(self: Tensor, *size, dtype=None, device=None, requires_grad=False, **_layout) -> Tensor:
    """An uninitialised tensor of `size` with this tensor's dtype and device unless given."""
    return empty(*_new_size(size), dtype=dtype or self.dtype, device=device or self.device,
                 requires_grad=requires_grad)


@_dtype_checked
def new_zeros(self: Tensor, *size, dtype=None, device=None, requires_grad=False, **_layout) -> Tensor:
    """Zeros of `size` with this tensor's dtype and device unless given."""
    return zeros(*_new_size(size), dtype=dtype or self.dtype, device=device or self.device,
                 requires_grad=requires_grad)


@_dtype_checked
def new_ones(self: Tensor, *size, dtype=None, device=None, requires_grad=False, **_layout) -> Tensor:
    """Ones of `size` with this tensor's dtype and device unless given."""
    return ones(*_new_size(size), dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


@_dtype_checked
def new_full(self: Tensor, size, fill_value, *, dtype=None, device=None, requires_grad=False, **_layout) -> Tensor:
    """`fill_value` everywhere in a tensor of `size`, with this tensor's dtype and device unless given."""
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


@_dtype_checked
def new_tensor(self: Tensor, data, *, dtype=None, device=None, requires_grad=False, **_layout) -> Tensor:
    """A copy of `data` with this tensor's dtype and device unless given (never shares memory with data)."""
    if isinstance(data, Tensor):
        data = data.detach()
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


METHODS: dict = {"__new__": staticmethod(_tensor_new), "new_empty": new_empty, "new_zeros": new_zeros,
                 "new_ones": new_ones, "new_full": new_full, "new_tensor": new_tensor}

__all__ = ["tensor", "as_tensor", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty", "empty_strided",
           "set_default_device", "get_default_device",
           "arange", "linspace", "logspace", "eye", "rand", "randn", "randint", "randperm", "normal",
           "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "randint_like",
           "contiguous_strides"]
