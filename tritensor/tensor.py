"""Tensor: PyTorch's metadata and view semantics over a shared Storage.

Host-backed tensors (cpu, and cuda under Triton's interpreter) keep a NumPy view of their memory
(`_np`), made on first use; results of cpu ops arrive as fresh contiguous NumPy arrays and get their
storage and strides lazily, which keeps per-op dispatch cheap. GPU tensors have no `_np`.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import device_errors
from . import dtypes as _dt
from .device import CPU
from .device import device as _device_cls
from .formatting import tensor_repr
from .grad_state import state as _grad_state
from .hook_handle import RemovableHandle  # noqa: F401  (re-exported: autograd, nn and optim import it from here)
from .kernels import elementwise as _elementwise
from .kernels.device_array import DeviceArray, InterleavedArray, contiguous_layout, device_array
from .storage import Storage
from .storage import new_cuda as _new_cuda_storage
from .view_meta import mark_view as _mark_view


class Tensor:
    """A multi-dimensional array of one dtype on one device, as torch.Tensor.

    Build tensors with `tt.tensor`, `tt.zeros`, `tt.rand`, ... (or `tt.Tensor(data)` / `tt.Tensor(*size)`,
    which make float32 tensors). Most methods (arithmetic, views, reductions, `.backward()`) are bound from
    the op modules; this class holds the metadata (shape, strides, offset, dtype, device) over a Storage.

    >>> x = tt.tensor([[1., 2., 3.], [4., 5., 6.]])
    >>> x.shape, x.dtype
    (tritensor.Size([2, 3]), tritensor.float32)
    """

    # Hot fields are slots; autograd and view bookkeeping that most tensors never set are class-level
    # defaults, overridden per instance only when used (keeps op results cheap to create).
    __slots__ = ("_storage", "_np", "_shape", "_stride", "_offset", "dtype", "device", "_requires_grad",
                 "__weakref__", "__dict__")
    _grad = None
    grad_fn = None
    _output_nr = 0
    _grad_acc = None
    _retains_grad = False
    _base = None
    _hooks = None
    _post_acc_hooks = None
    _inference = False
    _creation_meta = 0  # how a view was made (view_meta.py): 0 for an ordinary view, or no view

    # `tt.Tensor(data)` / `tt.Tensor(*size)` is bound by creation.py's METHODS (`__new__`); the library itself
    # builds tensors with _wrap/_make/_empty.

    # ------------------------------------------------------------------ construction (internal)
    @staticmethod
    def _wrap(arr, device: _device_cls = CPU) -> Tensor:
        """A tensor over a fresh host array (an op's result). Non-contiguous results are copied."""
        if type(arr) is not np.ndarray:
            arr = np.asarray(arr)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        return Tensor._fresh(arr, _dt._FROM_NP[arr.dtype], device)

    @staticmethod
    def _fresh(arr: np.ndarray, dtype: _dt.dtype, device: _device_cls = CPU) -> Tensor:
        """A tensor over `arr`, a fresh C-contiguous host array of `dtype` (an op's result whose layout the op
        knows): `_wrap` without its checks, for the hot paths."""
        t = object.__new__(Tensor)
        t._np = arr
        t._storage = None
        t._shape = arr.shape
        t._stride = None
        t._offset = 0
        t.dtype = dtype
        t.device = device
        t._requires_grad = False
        return t

    @staticmethod
    def _make(storage: Storage, shape: tuple, stride: tuple, offset: int, dtype: _dt.dtype,
              device: _device_cls) -> Tensor:
        t = object.__new__(Tensor)
        t._np = None
        t._storage = storage
        t._shape = shape
        t._stride = stride
        t._offset = offset
        t.dtype = dtype
        t.device = device
        t._requires_grad = False
        return t

    @staticmethod
    def _empty(shape: tuple, dtype: _dt.dtype, device: _device_cls) -> Tensor:
        """Uninitialised contiguous memory on `device` (host memory for cpu and the interpreter)."""
        if device.type == "cpu":
            return Tensor._wrap(np.empty(shape, dtype.np), device)
        if shape.__class__ is not tuple:
            shape = tuple(shape)
        strides, numel = contiguous_layout(shape)
        return Tensor._make(_new_cuda_storage(numel, dtype.np, device.index), shape, strides, 0, dtype, device)

    @staticmethod
    def _from_host(arr: np.ndarray, device: _device_cls) -> Tensor:
        """A tensor on `device` holding a copy of a host array's values (the array itself on cpu)."""
        if device.type == "cpu":
            return Tensor._wrap(arr)
        out = Tensor._empty(arr.shape, _dt.from_numpy_dtype(arr.dtype), device)
        out._get_storage().copy_from_host(0, arr)
        return out

    @staticmethod
    def _full(shape: tuple, value, dtype: _dt.dtype, device: _device_cls) -> Tensor:
        """A new contiguous tensor with every element `value` (the fill kernel on cuda)."""
        if device.type == "cpu":
            return Tensor._wrap(np.full(shape, value, dtype=dtype.np), device)
        out = Tensor._empty(shape, dtype, device)
        if out.numel() and dtype.is_complex:  # the real and imaginary parts of the interleaved float view
            d, value = out._dev(), complex(value)
            _elementwise.fill(d.view_as(d.shape[:-1], d.strides[:-1]), value.real)
            _elementwise.fill(d.view_as(d.shape[:-1], d.strides[:-1], d.offset + 1), value.imag)
        elif out.numel():
            _elementwise.fill(out._dev(), value)
        return out

    def _view(self, shape: tuple, stride: tuple, offset: int) -> Tensor:
        """Another view of this tensor's memory (no autograd; its `_base` is the root of the views)."""
        v = Tensor._make(self._get_storage(), tuple(shape), tuple(stride), offset, self.dtype, self.device)
        base = self._base
        if base is None:  # (a root is never marked: only views are)
            v._base = self
            if not _grad_state.enabled:
                _mark_view(self, v)
        else:
            v._base = base
            if self._creation_meta or not _grad_state.enabled:  # made unrecorded, or a view of such a view
                _mark_view(self, v)
        return v

    # ------------------------------------------------------------------ memory access (internal)
    def _get_storage(self) -> Storage:
        st = self._storage
        if st is None:
            st = self._storage = Storage(host=self._np.reshape(-1))
        return st

    def _host(self) -> np.ndarray:
        """The NumPy view of a host-backed tensor's memory (cpu, or cuda under the interpreter)."""
        a = self._np
        if a is None:
            st = self._storage
            if st.host is None:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() "
                                "to copy the tensor to host memory first.")
            isz = self.dtype.itemsize
            if 0 in self._shape:
                # An empty view may start anywhere in its storage, even at its end: no memory to share.
                a = self._np = np.empty(self._shape, self.dtype.np)
            else:
                a = self._np = np.ndarray(self._shape, self.dtype.np, st.host, self._offset * isz,
                                          tuple(s * isz for s in self._stride))
        return a

    def _dev(self) -> DeviceArray:
        """This tensor as the DeviceArray a Triton launch wrapper takes.

        Triton has no complex type: a complex tensor is its interleaved (real, imag) float view, shape + (2,)
        (as view_as_real), so copies and fills run on the float kernels; arithmetic routes to ops/complex.py.
        """
        if self.dtype.is_complex:
            return InterleavedArray(self._get_storage().kernel_storage(), 2 * self._offset, self._shape + (2,),
                                    tuple(2 * s for s in self.stride()) + (1,), self.dtype.to_real())
        st = self._stride  # read directly: this runs for every operand of every launch
        return device_array((self._storage or self._get_storage()).kernel_storage(), self._offset, self._shape,
                            st if st is not None else self.stride(), self.dtype)

    def _bump_version(self) -> None:
        self._get_storage().version += 1

    @property
    def _version(self) -> int:
        # A tensor without a Storage yet has had no in-place write: its first bump makes one, starting at 0.
        st = self._storage
        return 0 if st is None else st.version

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        """The size of each dimension, as a `tt.Size` (same as `size()`)."""
        return Size(self._shape)

    def size(self, dim: int | None = None):
        """The shape as a `tt.Size`, or the size of dimension `dim` (negative dims count from the end).

        >>> tt.zeros(2, 3).size(), tt.zeros(2, 3).size(-1)
        (tritensor.Size([2, 3]), 3)
        """
        if dim is None:
            return Size(self._shape)
        return self._shape[_wrap_dim(dim, len(self._shape))]

    def stride(self, dim: int | None = None):
        """The step in elements between neighbours along each dimension, or along dimension `dim`.

        >>> tt.zeros(2, 3).stride(), tt.zeros(2, 3).t().stride()
        ((3, 1), (1, 3))
        """
        st = self._stride
        if st is None:
            st = self._stride = contiguous_layout(self._shape)[0]  # (cached per shape)
        if dim is None:
            return st
        return st[_wrap_dim(dim, len(self._shape))]

    @property
    def ndim(self) -> int:
        """The number of dimensions (alias of `dim()`)."""
        return len(self._shape)

    def dim(self) -> int:
        """The number of dimensions (0 for a scalar tensor)."""
        return len(self._shape)

    ndimension = dim

    def numel(self) -> int:
        """The number of elements (the product of the sizes; 1 for a 0-d tensor)."""
        n = 1
        for s in self._shape:
            n *= s
        return n

    nelement = numel

    def storage_offset(self) -> int:
        """The index, in elements, of this tensor's first element in its storage."""
        return self._offset

    def element_size(self) -> int:
        """The size of one element in bytes."""
        return self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        """The size of one element in bytes (alias of `element_size()`)."""
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """The number of bytes of this tensor's elements (`numel() * element_size()`)."""
        return self.numel() * self.dtype.itemsize

    def is_contiguous(self, memory_format=None) -> bool:
        """True if the elements lie in row-major order without gaps (dims of size 1 are ignored).

        `memory_format` is accepted and ignored: tritensor has only the row-major (contiguous) format.
        """
        if self._stride is None:
            return True
        expected = 1
        for size, st in zip(reversed(self._shape), reversed(self._stride)):
            if size != 1 and st != expected:
                return False
            expected *= size
        return True

    @property
    def is_cuda(self) -> bool:
        """True if the tensor lives on a cuda device."""
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        """True if the tensor lives on the cpu."""
        return self.device.type == "cpu"

    @property
    def is_sparse(self) -> bool:
        """False for a dense tensor (True for tt.sparse_coo_tensor's, a subclass)."""
        return False

    @property
    def layout(self) -> layout:
        """The memory layout: tt.strided for a dense tensor (tt.sparse_coo for a sparse COO one)."""
        return strided

    def is_floating_point(self) -> bool:
        """True if the dtype is a floating-point type (float16, bfloat16, float32, float64)."""
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        """True if the dtype is complex64 or complex128."""
        return self.dtype.is_complex

    def get_device(self) -> int:
        """The cuda device index, or -1 for a cpu tensor."""
        return -1 if self.device.type == "cpu" else self.device.index

    def type_name(self) -> str:
        """The PyTorch-style type name, e.g. 'torch.FloatTensor' or 'torch.cuda.HalfTensor'.

        Not a PyTorch method; `Tensor.type()` with no argument returns the same string.
        """
        prefix = "torch.cuda." if self.device.type == "cuda" else "torch."
        return prefix + _dt.scalar_type_name(self.dtype) + "Tensor"

    def data_ptr(self) -> int:
        """The address of the first element (a host address for cpu and interpreter tensors)."""
        return self._get_storage().data_ptr() + self._offset * self.dtype.itemsize

    def record_stream(self, stream) -> None:
        """Mark this tensor's memory as in use by `stream` (a `tt.cuda.Stream`): when the tensor is freed,
        its allocation stream first waits for the work queued on `stream` so far. A no-op on the cpu."""
        self._get_storage().record_stream(stream)

    # ------------------------------------------------------------------ autograd metadata
    @property
    def requires_grad(self) -> bool:
        """True if autograd records operations on this tensor; settable on leaves (floating dtypes only)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if not value and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if value and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        if value and self._inference and not _grad_state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Sets `requires_grad` in place and returns self.

        >>> w = tt.zeros(3).requires_grad_()
        >>> w.requires_grad, w.is_leaf
        (True, True)
        """
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True if the tensor was not made by a recorded operation (it has no grad_fn)."""
        return self.grad_fn is None

    def is_inference(self) -> bool:
        """True for tensors made inside inference_mode (autograd will not save them for backward)."""
        return self._inference

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward(): None until then.

        Populated for leaves that require grad, and for non-leaves after `retain_grad()`; reading it on
        other non-leaves warns, as in PyTorch. Assigning checks dtype, device and shape; `del t.grad` clears it.
        """
        g = self._grad
        if g is None and self.grad_fn is not None and not self._retains_grad:
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                          "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                          "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
                          "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
                          "instead.", UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value.dtype is not self.dtype:
                raise RuntimeError("assigned grad has data of a different type")
            if value.device != self.device:
                raise RuntimeError("assigned grad has data located on a different device")
            if value._shape != self._shape:
                raise RuntimeError("assigned grad has data of a different size")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        """True if `retain_grad()` was called on this non-leaf tensor."""
        return self._retains_grad

    def detach(self) -> Tensor:
        """A tensor sharing this one's memory and version counter, outside any graph."""
        out = Tensor._make(self._get_storage(), self._shape, self.stride(), self._offset, self.dtype, self.device)
        out._np = self._np
        if self._inference:
            out._inference = True
        return out

    @property
    def data(self) -> Tensor:
        """A detached view of this tensor (same memory, no autograd); assigning replaces this tensor's data."""
        return self.detach()

    @data.setter
    def data(self, other: Tensor) -> None:
        self._storage, self._np = other._get_storage(), other._np
        self._shape, self._stride, self._offset = other._shape, other.stride(), other._offset
        self.dtype, self.device = other.dtype, other.device

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a NumPy array sharing this cpu tensor's memory.

        Raises TypeError for a cuda tensor and RuntimeError for one that requires grad, unless `force=True`
        (then a cuda tensor is copied to the host).

        >>> tt.tensor([1, 2]).numpy()
        array([1, 2])
        """
        if self.device.type != "cpu":
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                                "copy the tensor to host memory first.")
            return self.cpu().numpy()
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return self._host()

    def __array__(self, dtype=None, copy=None):
        a = self.detach().cpu()._host()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number (a synchronisation point on cuda).

        >>> tt.tensor([2.5]).item()
        2.5
        """
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self._to_host_array().reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists of numbers; a 0-d tensor gives a number.

        >>> tt.tensor([[1, 2], [3, 4]]).tolist()
        [[1, 2], [3, 4]]
        """
        return self._to_host_array().tolist()

    def _to_host_array(self) -> np.ndarray:
        """The values as a NumPy array on the host (a copy for GPU tensors: a synchronisation point)."""
        if self._np is not None or self._get_storage().host is not None:
            return self._host()
        device_errors.raise_if_flagged(self.device)
        src = self if self.is_contiguous() else self.contiguous()
        flat = src._get_storage().to_host(src.dtype.np, src.numel(), src._offset * src.dtype.itemsize)
        return flat.reshape(src._shape)

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous"
                               if self.numel() else "Boolean value of Tensor with no values is ambiguous")
        return bool(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        # A tensor standing for a subclass (nn.Parameter marks its tensors) prints as that class says.
        cls = self.__dict__.get("_tensor_class")
        return tensor_repr(self) if cls is None else cls.__repr__(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        if self.device.type != "cpu":
            raise BufferError("DLPack export is implemented for cpu tensors; call .cpu() first")
        if self._requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        kwargs = {} if max_version is None else {"max_version": max_version}
        return self._host().__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0) if self.device.type == "cpu" else (2, self.device.index or 0)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self.detach().cpu()._host().copy(), str(self.device), self._requires_grad))

    def __deepcopy__(self, memo):
        out = self.detach().clone()
        out._requires_grad = self._requires_grad
        if self.grad is not None:
            out.grad = self.grad.clone()
        memo[id(self)] = out
        return out


class layout:
    """A tensor memory layout (tt.strided, tt.sparse_coo, tt.sparse_csr), as torch.layout."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"tritensor.{self.name}"


strided, sparse_coo, sparse_csr = layout("strided"), layout("sparse_coo"), layout("sparse_csr")


def _rebuild(array: np.ndarray, device: str, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array).to(device)
    t._requires_grad = requires_grad
    return t


class Size(tuple):
    """torch.Size: a tuple of ints with numel()."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape.

        >>> tt.Size([2, 3]).numel()
        6
        """
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"tritensor.Size([{', '.join(str(s) for s in self)}])"

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))


def _wrap_dim(dim: int, ndim: int) -> int:
    """`dim` as a non-negative index into `ndim` dims (a 0-d tensor accepts 0 and -1); PyTorch's IndexError else."""
    lo = -max(ndim, 1)
    hi = max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim + ndim if dim < 0 else dim


wrap_dim = _wrap_dim
