"""tt.UntypedStorage and tt.TypedStorage: bytes and elements over a tensor's memory (cpu and interpreted cuda)."""

import copy
import pickle
import re
import warnings

import numpy as np
import pytest

import tritensor as tt
from tritensor.untyped_storage import TypedStorage, UntypedStorage, _reset_warn_typed_storage_removal

DEVICES = ["cpu", "cuda"]


def typed(t: tt.Tensor) -> TypedStorage:
    """t.storage() without its one-time deprecation warning (tested on its own below)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return t.storage()


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def test_public_names():
    assert tt.UntypedStorage is UntypedStorage and tt.TypedStorage is TypedStorage


# ---------------------------------------------------------------------- UntypedStorage
@pytest.mark.parametrize("device", DEVICES)
def test_bytes_of_a_tensor(device):
    x = tt.tensor([1, 258], dtype=tt.int32, device=device)
    s = x.untyped_storage()
    assert s.nbytes() == s.size() == len(s) == 8 and s.element_size() == 1
    assert s.tolist() == [1, 0, 0, 0, 2, 1, 0, 0] and list(s) == s.tolist()  # little-endian bytes
    assert s[4] == 2 and s[-3] == 1 and s.data_ptr() == x.data_ptr()
    assert s.device == x.device and s.is_cuda == (device == "cuda")
    assert s.get_device() == (-1 if device == "cpu" else 0)
    assert s.untyped() is s


@pytest.mark.parametrize("device", DEVICES)
def test_views_share_one_storage(device):
    x = tt.arange(12.0, device=device).reshape(3, 4)
    views = [x[1], x.t(), x[:, 2:], x.reshape(12)]
    for v in views:
        assert v.untyped_storage() is x.untyped_storage()
        assert v.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
        assert v.untyped_storage().nbytes() == 48  # the whole storage, not the view's elements
    assert x.clone().untyped_storage().data_ptr() != x.untyped_storage().data_ptr()


@pytest.mark.parametrize("device", DEVICES)
def test_constructors(device):
    s = UntypedStorage([1, 2, 255, 256, -1], device=device)
    assert s.tolist() == [1, 2, 255, 0, 255] and s.device == tt.device(device if device == "cpu" else "cuda:0")
    assert UntypedStorage(device=device).nbytes() == 0 and UntypedStorage(7, device=device).nbytes() == 7
    assert UntypedStorage(np.array([3, 4])).tolist() == [3, 4]


def test_constructor_errors():
    with pytest.raises(RuntimeError, match=re.escape("tried to construct a storage from a sequence (list), but one "
                                                     "of the items was of type float instead of int")):
        UntypedStorage([1, 2.5])
    with pytest.raises(TypeError, match="Expected a sequence type, but got float"):
        UntypedStorage(2.5)
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        UntypedStorage(1, 2)
    with pytest.raises(RuntimeError, match="alloc_cpu\\(\\) seems to have been called with negative number"):
        UntypedStorage(-1)


@pytest.mark.parametrize("device", DEVICES)
def test_setitem_fill_and_writes_show_in_the_tensor(device):
    x = tt.zeros(2, dtype=tt.int16, device=device)
    s = x.untyped_storage()
    s[0] = 7
    s[3] = 257  # stored modulo 256, as C's uint8_t
    assert x.tolist() == [7, 256] and s.tolist() == [7, 0, 0, 1]
    s[1:3] = 2
    assert s.tolist() == [7, 2, 2, 1] and x.tolist() == [7 + 512, 2 + 256]
    assert s.fill_(1) is s and x.tolist() == [257, 257]


@pytest.mark.parametrize("device", DEVICES)
def test_index_errors(device):
    s = UntypedStorage([1, 2, 3], device=device)
    with pytest.raises(IndexError, match="index 3 out of range for storage of size 3"):
        s[3]
    with pytest.raises(IndexError, match="index -1 out of range for storage of size 3"):
        s[-4]
    with pytest.raises(TypeError, match="can't index a torch.UntypedStorage with float"):
        s[1.0]
    with pytest.raises(RuntimeError, match="only a step of 1 is supported"):
        s[::2]
    with pytest.raises(RuntimeError, match="out of bounds"):
        s[-1] = 0  # PyTorch's __setitem__ does not wrap negative indices
    with pytest.raises(RuntimeError, match="can only set storage content with a int types, but got float instead"):
        s[0] = 1.5
    with pytest.raises(RuntimeError, match="fill_ expects int, but got float"):
        s.fill_(0.5)
    assert s.tolist() == [1, 2, 3]  # nothing changed


def test_slice_aliases_and_is_not_resizable():
    s = UntypedStorage([0, 1, 2, 3, 4])
    part = s[1:4]
    assert part.tolist() == [1, 2, 3] and part.data_ptr() == s.data_ptr() + 1
    part[0] = 9
    assert s[1] == 9 and not part.resizable() and s.resizable()
    with pytest.raises(RuntimeError, match="Trying to resize storage that is not resizable"):
        part.resize_(10)


@pytest.mark.parametrize("device", DEVICES)
def test_copy_clone_and_devices(device):
    s = UntypedStorage([1, 2, 3, 4], device=device)
    c = s.clone()
    assert c.tolist() == [1, 2, 3, 4] and c.data_ptr() != s.data_ptr() and c.device == s.device
    c[0] = 5
    assert s[0] == 1
    t = UntypedStorage(4)
    assert t.copy_(s) is t and t.tolist() == [1, 2, 3, 4]  # across devices
    assert s.cpu().tolist() == [1, 2, 3, 4] and s.cpu().device == tt.device("cpu")
    assert (s.cpu() is s) == (device == "cpu")
    g = s.cuda()
    assert g.device == tt.device("cuda:0") and g.tolist() == [1, 2, 3, 4] and (g is s) == (device == "cuda")
    assert s.to(device="cpu").tolist() == [1, 2, 3, 4]
    assert copy.copy(s).tolist() == [1, 2, 3, 4] and copy.deepcopy(s).data_ptr() != s.data_ptr()
    back = pickle.loads(pickle.dumps(s))
    assert back.tolist() == [1, 2, 3, 4] and back.device == s.device
    assert s.new().nbytes() == 0 and s.new().device == s.device


def test_copy_errors():
    s = UntypedStorage(4)
    with pytest.raises(RuntimeError, match="size does not match, self was 4 bytes but src was 3 bytes"):
        s.copy_(UntypedStorage(3))
    with pytest.raises(TypeError, match="must be Storage, not list"):
        s.copy_([1, 2, 3, 4])


@pytest.mark.parametrize("device", DEVICES)
def test_resize_keeps_the_prefix_and_bumps_the_version(device):
    x = tt.tensor([1.0, 2.0, 3.0], device=device)
    s = x.untyped_storage()
    v = x._version
    s.resize_(20)
    assert s.nbytes() == 20 and x._version == v + 1
    assert x.tolist() == [1.0, 2.0, 3.0]  # the values kept
    quiet(typed(x).__setitem__, 1, 5.0)
    assert x.tolist() == [1.0, 5.0, 3.0]  # the tensor reads the new memory
    x[0] = 7.0
    x.mul_(1.0)  # an op on the whole tensor writes the new memory too
    assert typed(x)[0] == 7.0 and quiet(typed(x).size) == 5
    s.resize_(4)
    assert s.nbytes() == 4 and quiet(typed(x).tolist) == [7.0]


def test_resize_errors():
    s = UntypedStorage([1, 2])
    with pytest.raises(RuntimeError, match="resize_ expects an int, but got float"):
        s.resize_(2.0)
    with pytest.raises(RuntimeError, match="alloc_cpu"):
        s.resize_(-1)
    assert s.tolist() == [1, 2]


def test_share_memory_refuses_resize():
    s = UntypedStorage([1, 2, 3])
    assert not s.is_shared() and s.resizable()
    assert s.share_memory_() is s and s.is_shared() and s.tolist() == [1, 2, 3]
    assert not s.resizable()
    with pytest.raises(RuntimeError, match="Trying to resize storage that is not resizable"):
        s.resize_(8)
    assert s.nbytes() == 3 and s.share_memory_() is s
    empty = UntypedStorage().share_memory_()
    assert empty.is_shared() and empty.nbytes() == 0


def test_cuda_storages_count_as_shared():
    s = UntypedStorage(4, device="cuda")
    assert s.is_shared() and s.share_memory_() is s and not s.is_pinned()


def test_not_pinned_under_the_interpreter():
    x = tt.ones(2)
    assert not x.untyped_storage().is_pinned() and not quiet(typed(x).is_pinned)
    assert x.pin_memory().untyped_storage().is_pinned() == x.pin_memory().is_pinned()


def test_repr():
    assert repr(UntypedStorage([1, 2])) == " 1\n 2\n[tritensor.UntypedStorage(device=cpu) of size 2]"


# ---------------------------------------------------------------------- TypedStorage
def test_storage_warns_once():
    _reset_warn_typed_storage_removal()
    x = tt.zeros(2)
    with pytest.warns(UserWarning, match="TypedStorage is deprecated. It will be removed in the future"):
        x.storage()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.storage().size()  # once only


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.int64, tt.bool, tt.bfloat16, tt.float16])
def test_elements_of_a_tensor(device, dtype):
    x = tt.tensor([1, 0, 1], device=device).to(dtype)
    s = typed(x)
    assert quiet(s.size) == quiet(len, s) == 3 and s.dtype is dtype
    assert quiet(s.nbytes) == 3 * dtype.itemsize and quiet(s.element_size) == dtype.itemsize
    assert quiet(s.tolist) == x.tolist() and quiet(s.__getitem__, -1) == x.tolist()[-1]
    assert quiet(s.data_ptr) == x.data_ptr() and quiet(s.untyped) is x.untyped_storage()
    assert quiet(lambda: s.device) == x.device


@pytest.mark.parametrize("device", DEVICES)
def test_typed_writes_show_in_the_tensor(device):
    x = tt.zeros(2, 2, dtype=tt.float64, device=device)
    s = typed(x)
    quiet(s.__setitem__, 1, 2.5)
    quiet(s.__setitem__, slice(2, 4), 7)
    assert x.tolist() == [[0.0, 2.5], [7.0, 7.0]]
    assert quiet(s.fill_, 3) is s and x.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    c = quiet(s.clone)
    quiet(c.__setitem__, 0, -1.0)
    assert x[0, 0].item() == 3.0 and quiet(c.tolist)[0] == -1.0


def test_typed_constructors_and_errors():
    s = TypedStorage([1.5, 2.5], dtype=tt.float32, _internal=True)
    assert s.tolist() == [1.5, 2.5] and s.nbytes() == 8 and s.device == tt.device("cpu")
    assert TypedStorage(3, dtype=tt.int16, _internal=True).nbytes() == 6
    assert TypedStorage(_internal=True).dtype is tt.float32
    w = TypedStorage(wrap_storage=UntypedStorage(8), dtype=tt.int32, _internal=True)
    assert w.size() == 2 and w.untyped().nbytes() == 8
    assert TypedStorage([1, 2], dtype=tt.int64, device="cuda", _internal=True).device == tt.device("cuda:0")
    with pytest.raises(RuntimeError, match="Argument 'dtype' must be specified"):
        TypedStorage(wrap_storage=UntypedStorage(8), _internal=True)
    with pytest.raises(TypeError, match="Argument 'wrap_storage' must be UntypedStorage"):
        TypedStorage(wrap_storage=b"1234", dtype=tt.int32, _internal=True)
    with pytest.raises(RuntimeError, match="Argument 'device' should not be specified"):
        TypedStorage(wrap_storage=UntypedStorage(8), dtype=tt.int32, device="cpu", _internal=True)
    with pytest.raises(RuntimeError, match="Too many positional arguments"):
        TypedStorage(1, 2, _internal=True)


def test_typed_index_errors():
    s = TypedStorage([1, 2, 3], dtype=tt.int32, _internal=True)
    with pytest.raises(IndexError, match="index 3 out of range for storage of size 3"):
        s[3]
    with pytest.raises(RuntimeError, match="slices are only supported in UntypedStorage.__getitem__"):
        s[0:2]
    with pytest.raises(RuntimeError, match="can't index a"):
        s[1.0]
    with pytest.raises(RuntimeError, match="cannot set item with value type"):
        s[0] = UntypedStorage(4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        s[5] = 1
    assert s.tolist() == [1, 2, 3]


def test_typed_resize_and_share():
    x = tt.tensor([1, 2], dtype=tt.int32)
    s = typed(x)
    assert quiet(s.resize_, 4) is None and quiet(s.size) == 4 and quiet(s.tolist)[:2] == [1, 2]
    assert quiet(s.share_memory_) is s and quiet(s.is_shared) and x.is_shared()
    assert quiet(s.cpu).dtype is tt.int32 and quiet(quiet(s.cuda).tolist)[:2] == [1, 2]
    assert quiet(repr, TypedStorage([1, 2], dtype=tt.int32, _internal=True)).endswith(
        "[tritensor.TypedStorage(dtype=tritensor.int32, device=cpu) of size 2]")
