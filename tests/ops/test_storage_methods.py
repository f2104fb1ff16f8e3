"""The storage side of the Tensor API: untyped_storage, storage, is_set_to, set_, share_memory_, is_shared."""

import multiprocessing
import re
import warnings

import numpy as np
import pytest

import tritensor as tt
from tests.emulated.conftest import gpu  # noqa: F401 - the fake GPU: tritensor's real-GPU memory path
from tritensor.untyped_storage import TypedStorage, UntypedStorage

DEVICES = ["cpu", "cuda"]


def typed(t: tt.Tensor) -> TypedStorage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return t.storage()


def state(t: tt.Tensor) -> tuple:
    """What a failed call must leave unchanged."""
    return t.data_ptr(), t.shape, t.stride(), t.storage_offset(), t._version, t.tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_untyped_storage_and_storage(device):
    x = tt.arange(6, device=device).reshape(2, 3)
    s = x.untyped_storage()
    assert isinstance(s, UntypedStorage) and s is x[1].untyped_storage() and s is x.t().untyped_storage()
    assert s.nbytes() == 48 and s.data_ptr() == x.data_ptr() == x[0].data_ptr()
    assert x[1].data_ptr() == s.data_ptr() + 3 * 8
    t = typed(x[1])
    assert isinstance(t, TypedStorage) and t.dtype is tt.int64 and t.tolist() == [0, 1, 2, 3, 4, 5]
    assert t.untyped() is s


# ---------------------------------------------------------------------- is_set_to
@pytest.mark.parametrize("device", DEVICES)
def test_is_set_to(device):
    x = tt.arange(6.0, device=device).reshape(2, 3)
    assert x.is_set_to(x) and x.is_set_to(x.detach()) and x.is_set_to(x.view(2, 3))
    assert not x.is_set_to(x.t())  # same storage and offset, other sizes and strides
    assert not x.is_set_to(x.reshape(6))
    assert not x[1].is_set_to(x[0])  # other offset
    assert not x.is_set_to(x.clone())  # other storage
    y = tt.empty(0, device=device).set_(x)
    assert y.is_set_to(x) and x.is_set_to(y)
    with pytest.raises(TypeError, match="is_set_to\\(\\): argument 'tensor' \\(position 1\\) must be Tensor, not list"):
        x.is_set_to([1])


# ---------------------------------------------------------------------- set_
@pytest.mark.parametrize("device", DEVICES)
def test_set_to_a_tensor_shares_its_memory(device):
    x = tt.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    y = tt.zeros(5, device=device)
    assert y.set_(x) is y
    assert y.shape == (2, 2) and y.stride() == (2, 1) and y.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert y.untyped_storage() is x.untyped_storage() and y.data_ptr() == x.data_ptr()
    y[0, 1] = 20.0
    assert x[0, 1].item() == 20.0
    x.add_(1.0)  # an op on the source shows in the tensor set to it (a kernel on cuda)
    assert y.tolist() == [[2.0, 21.0], [4.0, 5.0]]
    v = tt.zeros(1, device=device).set_(x.t()[1])  # a strided view with an offset
    assert v.tolist() == [21.0, 5.0] and v.storage_offset() == 1 and v.stride() == (2,)


@pytest.mark.parametrize("device", DEVICES)
def test_set_to_a_storage_with_geometry(device):
    x = tt.arange(8.0, device=device)
    y = tt.empty(0, device=device)
    y.set_(x.untyped_storage(), 2, (2, 2), (1, 3))
    assert y.tolist() == [[2.0, 5.0], [3.0, 6.0]] and y.storage_offset() == 2 and y.stride() == (1, 3)
    y.mul_(10.0)
    assert x.tolist() == [0.0, 1.0, 20.0, 30.0, 4.0, 50.0, 60.0, 7.0]
    z = tt.empty(0, device=device).set_(typed(x), 6, (2,))  # a TypedStorage of this dtype, contiguous
    assert z.tolist() == [60.0, 7.0] and z.stride() == (1,)
    w = tt.empty(0, device=device).set_(x, 1, [3])  # a tensor stands in for its storage
    assert w.tolist() == [1.0, 20.0, 30.0] and w.untyped_storage() is x.untyped_storage()


@pytest.mark.parametrize("device", DEVICES)
def test_set_to_a_whole_storage_reinterprets_bytes(device):
    x = tt.tensor([1.0, -2.0], device=device)
    y = tt.empty(0, dtype=tt.int32, device=device)
    y.set_(x.untyped_storage())  # an UntypedStorage takes any dtype: the bytes are read as int32
    assert y.shape == (2,) and y.tolist() == np.array([1.0, -2.0], np.float32).view(np.int32).tolist()
    b = tt.empty(0, dtype=tt.uint8, device=device).set_(UntypedStorage([1, 2, 3], device=device))
    assert b.tolist() == [1, 2, 3]


@pytest.mark.parametrize("device", DEVICES)
def test_set_empty(device):
    x = tt.ones(3, device=device)
    y = tt.empty(0, device=device).set_(x)
    y.set_()
    assert y.shape == (0,) and y.untyped_storage().nbytes() == 0 and y.dtype is tt.float32
    assert y.untyped_storage() is not x.untyped_storage() and x.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("device", DEVICES)
def test_set_bumps_the_version(device):
    x = tt.zeros(3, device=device)
    y = tt.zeros(3, device=device)
    before = y._version
    y.set_(x)
    assert y._version > before and y._version > 0
    y.set_()
    assert y._version >= 1


def test_set_on_a_saved_tensor_fails_backward():
    a = tt.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1.0
    c = (b * b).sum()  # mul saves b
    b.set_(tt.tensor([5.0, 6.0]))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.backward()


def test_set_on_a_leaf_that_requires_grad():
    w = tt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "
                                           "operation."):
        w.set_(tt.zeros(2))
    assert w.tolist() == [1.0, 1.0]
    with tt.no_grad():
        w.set_(tt.tensor([3.0, 4.0, 5.0]))  # how optimizers and parametrizations swap memory
    assert w.tolist() == [3.0, 4.0, 5.0] and w.requires_grad and w.is_leaf


@pytest.mark.parametrize("device", DEVICES)
def test_set_grows_a_storage_when_the_geometry_changes(device):
    x = tt.tensor([1.0, 2.0], device=device)
    s = x.untyped_storage()
    y = tt.empty(0, device=device).set_(s, 0, (4,))  # as PyTorch's set_: the storage grows to 16 bytes
    assert s.nbytes() == 16 and y.shape == (4,) and y[:2].tolist() == [1.0, 2.0]
    x[0] = 9.0  # x saw the storage's new memory
    assert y[0].item() == 9.0 and x.tolist() == [9.0, 2.0]


@pytest.mark.parametrize("device", DEVICES)
def test_set_out_of_bounds_with_unchanged_geometry(device):
    x = tt.tensor([1.0, 2.0], device=device)
    y = tt.zeros(2, 2, device=device)
    before = state(y)
    with pytest.raises(RuntimeError, match=re.escape(
            "setStorage: sizes [2, 2], strides [2, 1], storage offset 1, and itemsize 4 requiring a storage size of "
            "20 are out of bounds for storage of size 8")):
        y.set_(x.untyped_storage(), 1, (2, 2), (2, 1))
    with pytest.raises(RuntimeError, match=re.escape("setStorage: sizes [2, 2], strides [], storage offset 0")):
        y.set_(x.untyped_storage(), 0, (2, 2))
    assert state(y) == before and x.untyped_storage().nbytes() == 8


def test_set_cannot_grow_shared_memory():
    x = tt.tensor([1.0, 2.0]).share_memory_()
    y = tt.empty(0)
    with pytest.raises(RuntimeError, match="Trying to resize storage that is not resizable"):
        y.set_(x.untyped_storage(), 0, (4,))
    assert y.shape == (0,) and x.untyped_storage().nbytes() == 8


@pytest.mark.parametrize("device", DEVICES)
def test_set_errors_change_nothing(device):
    x = tt.arange(4.0, device=device)
    y = tt.zeros(3, device=device)
    before = state(y)
    with pytest.raises(RuntimeError, match="Could not set tensor of type long int to a tensor of type float"):
        y.set_(tt.arange(3, device=device))
    with pytest.raises(RuntimeError, match="Expected a Storage of type float or an UntypedStorage, but got type "
                                           "Double for argument 1 'storage'"):
        y.set_(typed(tt.zeros(2, dtype=tt.float64, device=device)))
    with pytest.raises(RuntimeError, match="unequal size length \\(2\\) and stride length \\(1\\)"):
        y.set_(x.untyped_storage(), 0, (2, 2), (1,))
    with pytest.raises(RuntimeError, match="Tensor: invalid storage offset -1"):
        y.set_(x.untyped_storage(), -1, (2,))
    with pytest.raises(RuntimeError, match="Trying to create tensor with negative dimension -2"):
        y.set_(x.untyped_storage(), 0, (-2,))
    with pytest.raises(TypeError, match="set_\\(\\) received an invalid combination of arguments - got \\(list\\)"):
        y.set_([1.0, 2.0])
    with pytest.raises(TypeError, match="invalid combination"):
        y.set_(x.untyped_storage(), 1)  # an offset needs a size
    assert state(y) == before and x.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_set_across_devices():
    y = tt.zeros(2)
    with pytest.raises(RuntimeError, match=re.escape(
            'Attempted to set the storage of a tensor on device "cpu" to a storage on different device "cuda:0".  '
            "This is no longer allowed; the devices must match.")):
        y.set_(tt.ones(2, device="cuda"))
    assert y.tolist() == [0.0, 0.0]


# ---------------------------------------------------------------------- share_memory_ / is_shared
def test_share_memory_keeps_values_and_views():
    x = tt.arange(6.0).reshape(2, 3)
    assert not x.is_shared() and not x[1].is_shared()
    ptr = x.data_ptr()
    assert x.share_memory_() is x
    assert x.is_shared() and x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and x.data_ptr() != ptr
    v = x[1]
    assert v.is_shared() and v.untyped_storage() is x.untyped_storage()
    v.fill_(7.0)
    assert x[1].tolist() == [7.0, 7.0, 7.0]
    assert x.share_memory_() is x and x.data_ptr() == x.untyped_storage().data_ptr()  # shared already: no-op
    with pytest.raises(RuntimeError, match="Trying to resize storage that is not resizable"):
        x.untyped_storage().resize_(100)


def test_share_memory_on_cuda_is_a_no_op():
    x = tt.arange(3.0, device="cuda")
    ptr = x.data_ptr()
    assert x.is_shared() and x.share_memory_() is x and x.data_ptr() == ptr and x.tolist() == [0.0, 1.0, 2.0]


def _child_writes(x: tt.Tensor) -> None:
    x[1] = 42.0


@pytest.mark.parametrize("share", [True, False])
def test_share_memory_survives_a_fork(share):
    x = tt.zeros(3)
    if share:
        x.share_memory_()
    child = multiprocessing.get_context("fork").Process(target=_child_writes, args=(x,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert x.tolist() == ([0.0, 42.0, 0.0] if share else [0.0, 0.0, 0.0])  # a private copy stays the parent's


# ---------------------------------------------------------------------- GPU memory (the emulated GPU)
@pytest.mark.usefixtures("gpu")
def test_gpu_memory_path():
    """On a GPU a storage is a cuda.core allocation (no host array): reads, writes, resize_ and set_ go through
    the driver's copies, and kernels see the new memory."""
    x = tt.tensor([1.0, 2.0, 3.0], device="cuda")
    s = x.untyped_storage()
    assert s._storage.host is None and s.nbytes() == 12 and s.data_ptr() == x.data_ptr()
    assert s.tolist()[4:8] == list(np.float32(2.0).tobytes())
    typed(x)[2] = 7.0
    assert x.tolist() == [1.0, 2.0, 7.0] and typed(x).tolist() == [1.0, 2.0, 7.0] and typed(x)[-1] == 7.0
    c, h = s.clone(), s.cpu()
    assert c.tolist() == h.tolist() == s.tolist() and c.data_ptr() != s.data_ptr() and h.device == tt.device("cpu")
    assert h.cuda()._storage.host is None and h.cuda().tolist() == s.tolist()
    s.resize_(16)
    assert s.nbytes() == 16 and x.tolist() == [1.0, 2.0, 7.0]
    x.add_(1.0)  # a kernel launch on the new allocation
    assert typed(x).tolist()[:3] == [2.0, 3.0, 8.0]
    y = tt.empty(0, device="cuda").set_(s, 1, (2,))
    y.mul_(2.0)
    assert x.tolist() == [2.0, 6.0, 16.0] and y.is_shared() and y.share_memory_() is y
    s.fill_(0)
    assert x.tolist() == [0.0, 0.0, 0.0] and UntypedStorage([1, 2], device="cuda").tolist() == [1, 2]
