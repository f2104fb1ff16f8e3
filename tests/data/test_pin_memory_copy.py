"""Tensor.pin_memory / is_pinned and non_blocking host-to-device copies (to, cuda, copy_, DataLoader).

Three ways they run:
- Triton's interpreter (this suite's default): `cuda` is host memory, pinning is a plain copy, is_pinned() is
  False and every copy is synchronous; values must still match.
- The emulated GPU (tests/emulated's `gpu` fixture, plus fake page-locked host memory here): the driver's real
  code path. A copy from pinned memory is queued without a stream sync, and its host buffer is held until the
  copy's event is done or the device is synchronised, so dropping the source tensor at once is safe.
- A real GPU (TRITON_INTERPRET=0 on a machine with one): the same checks on cuMemHostAlloc memory.
"""

import ctypes
import gc
import weakref

import numpy as np
import pytest
from cuda.bindings import driver as real_cu

import tritensor as tt
from tests.conftest import INTERPRETED
from tests.emulated.conftest import gpu  # noqa: F401 - the fake GPU fixture `pinned_gpu` builds on
from tests.emulated.fake_gpu import FakeEvent, mirrors_function
from tritensor import storage
from tritensor.cuda import driver
from tritensor.data import DataLoader, TensorDataset
from tritensor.ops import copy as copy_ops

SUCCESS = real_cu.CUresult.CUDA_SUCCESS


def _real_gpu() -> bool:
    return not INTERPRETED and driver.device_count() > 0


needs_gpu = pytest.mark.skipif(not _real_gpu(), reason="needs a CUDA GPU (TRITON_INTERPRET=0 on a machine with one)")


def _pinned_owner(t: tt.Tensor):
    """The object at the end of a cpu tensor's NumPy base chain (a PinnedHostBuffer for pinned memory)."""
    base = t._get_storage().host
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base


# ------------------------------------------------------------------ interpreter (or any device): values
@pytest.mark.interpreter
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.int64, tt.bool])
def test_to_cuda_non_blocking_gives_the_values_from_pinned_and_pageable_memory(dtype):
    host = tt.arange(24).reshape(2, 3, 4).to(dtype)
    for src in (host, host.pin_memory(), host.pin_memory()[:, 1:, ::2]):
        expected = src.numpy().copy()
        for out in (src.to("cuda", non_blocking=True), src.cuda(non_blocking=True), src.to("cuda", True),
                    src.to(device="cuda", dtype=dtype, non_blocking=True)):
            assert out.device == tt.device("cuda", 0) and out.dtype is dtype and out.shape == src.shape
            tt.cuda.synchronize()
            np.testing.assert_array_equal(out.cpu().numpy(), expected)
    cast = host.pin_memory().to("cuda", tt.float64, non_blocking=True)  # a cast copy: synchronous
    np.testing.assert_array_equal(cast.cpu().numpy(), host.numpy().astype(np.float64))


@pytest.mark.interpreter
def test_copy_non_blocking_into_a_cuda_tensor():
    src = tt.arange(12.0).reshape(3, 4).pin_memory()
    dst = tt.zeros(3, 4, device="cuda")
    assert dst.copy_(src, non_blocking=True) is dst
    dst[1].copy_(tt.full((4,), 7.0).pin_memory(), non_blocking=True)  # into a view
    dst[2].copy_(tt.tensor(5.0).pin_memory(), True)  # broadcast from a 0-d tensor; positional non_blocking
    tt.cuda.synchronize()
    np.testing.assert_array_equal(dst.cpu().numpy(), [[0, 1, 2, 3], [7, 7, 7, 7], [5, 5, 5, 5]])
    back = dst.to("cpu", non_blocking=True)  # device -> host stays synchronous: readable at once
    np.testing.assert_array_equal(back.numpy(), dst.cpu().numpy())


@pytest.mark.interpreter
def test_to_reads_positional_bools_as_non_blocking_then_copy():
    x = tt.ones(3)
    assert x.to(tt.float32, False) is x
    copied = x.to(tt.float32, False, True)  # copy=True: a new tensor even with nothing to change
    assert copied is not x and copied.tolist() == [1.0, 1.0, 1.0]
    assert x.to(x, True, True) is not x
    with pytest.raises(TypeError, match="invalid combination"):
        x.to("cuda", True, True, True)


@pytest.mark.interpreter
def test_pin_memory_copies_the_values_and_keeps_autograd():
    x = tt.arange(6.0).reshape(2, 3).t().requires_grad_()  # non-contiguous
    p = x.pin_memory()
    assert p.device == tt.device("cpu") and p.dtype is x.dtype and p.shape == x.shape
    np.testing.assert_array_equal(p.detach().numpy(), x.detach().numpy())
    assert p.is_pinned() == _real_gpu() and not x.is_pinned()
    (p * tt.tensor([[1.0, 2.0]])).sum().backward()  # the gradient passes through pin_memory
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 2], [1, 2], [1, 2]])
    q = tt.zeros(2).pin_memory()
    if not q.is_pinned():  # no GPU to pin for: a copy, never the tensor itself
        assert q.pin_memory() is not q
    else:
        assert q.pin_memory() is q


@pytest.mark.interpreter
def test_is_pinned_is_false_for_cuda_and_pageable_tensors():
    assert not tt.ones(2).is_pinned()
    assert not tt.ones(2, device="cuda").is_pinned()
    assert not tt.ones(2, device="cuda").is_pinned(device="cuda")


def test_pin_memory_errors(monkeypatch):
    with pytest.raises(RuntimeError, match=r"^cannot pin 'torch.cuda.FloatTensor' only dense CPU tensors can be "
                                           r"pinned$"):
        tt.ones(2, device="cuda").pin_memory()
    with pytest.raises(RuntimeError, match="cannot pin 'torch.cuda.LongTensor'"):
        tt.arange(2, device="cuda").pin_memory()
    with pytest.warns(DeprecationWarning, match="'device' of Tensor.pin_memory\\(\\) is deprecated"):
        tt.ones(2).pin_memory("cuda")
    # Neither a GPU nor the interpreter: PyTorch's error for a machine without an accelerator.
    monkeypatch.setattr(storage, "interpreting", lambda: False)
    monkeypatch.setattr(copy_ops, "interpreting", lambda: False)
    monkeypatch.setattr(driver, "device_count", lambda: 0)
    with pytest.raises(RuntimeError, match=r"^Cannot access accelerator device when none is available\.$"):
        tt.ones(2).pin_memory()
    assert not tt.ones(2).is_pinned()


@pytest.mark.interpreter
def test_dataloader_pin_memory_batches_equal_the_unpinned_ones():
    ds = TensorDataset(tt.arange(10.0).reshape(5, 2), tt.arange(5))
    plain = list(DataLoader(ds, batch_size=2))
    pinned = list(DataLoader(ds, batch_size=2, pin_memory=True))
    assert len(plain) == len(pinned) == 3
    for (xa, ya), (xb, yb) in zip(plain, pinned):
        assert xb.is_pinned() == _real_gpu()
        np.testing.assert_array_equal(xb.numpy(), xa.numpy())
        np.testing.assert_array_equal(yb.numpy(), ya.numpy())
        on_device = xb.to("cuda", non_blocking=True), yb.cuda(non_blocking=True)
        tt.cuda.synchronize()
        np.testing.assert_array_equal(on_device[0].cpu().numpy(), xa.numpy())
        np.testing.assert_array_equal(on_device[1].cpu().numpy(), ya.numpy())


# ------------------------------------------------------------------ the emulated GPU: the driver's real path
class FakePinnedHost:
    """cuMemHostAlloc & co. over ctypes buffers: page-locked host memory for the fake GPU."""

    def __init__(self):
        self.live: dict[int, ctypes.Array] = {}

    @mirrors_function(real_cu.cuMemHostAlloc)
    def cuMemHostAlloc(self, bytesize, Flags):  # noqa: N802, N803 - the driver API's names
        buf = ctypes.create_string_buffer(bytesize)
        self.live[ctypes.addressof(buf)] = buf
        return SUCCESS, ctypes.addressof(buf)

    @mirrors_function(real_cu.cuMemFreeHost)
    def cuMemFreeHost(self, p):  # noqa: N802
        del self.live[int(p)]
        return (SUCCESS,)

    @mirrors_function(real_cu.cuPointerGetAttribute)
    def cuPointerGetAttribute(self, attribute, ptr):  # noqa: N802
        assert attribute == real_cu.CUpointer_attribute.CU_POINTER_ATTRIBUTE_MEMORY_TYPE
        if any(a <= int(ptr) < a + len(b) for a, b in self.live.items()):
            return SUCCESS, real_cu.CUmemorytype.CU_MEMORYTYPE_HOST
        return real_cu.CUresult.CUDA_ERROR_INVALID_VALUE, 0  # pageable memory: the driver does not know it


@pytest.fixture
def pinned_gpu(gpu, monkeypatch):  # noqa: F811 - the imported fixture
    """The fake GPU with page-locked host memory; `gpu.copies_done` says whether recorded events are done."""
    if not INTERPRETED:  # a run on a real GPU (TRITON_INTERPRET=0) tests the real thing below instead
        pytest.skip("the emulated GPU runs the kernels in Triton's interpreter (TRITON_INTERPRET=1)")
    host = FakePinnedHost()
    base_cu = gpu.cu

    def cu():
        ns = base_cu()
        ns.cuMemHostAlloc, ns.cuMemFreeHost = host.cuMemHostAlloc, host.cuMemFreeHost
        ns.cuPointerGetAttribute = host.cuPointerGetAttribute
        ns.CU_MEMHOSTALLOC_PORTABLE = real_cu.CU_MEMHOSTALLOC_PORTABLE
        ns.CUpointer_attribute, ns.CUmemorytype = real_cu.CUpointer_attribute, real_cu.CUmemorytype
        return ns

    monkeypatch.setattr(driver, "_cu", cu)
    monkeypatch.setattr(driver, "_in_flight", {})
    monkeypatch.setattr(FakeEvent, "is_done", property(lambda event: event._gpu.copies_done), raising=False)
    gpu.copies_done = True
    gpu.host = host
    yield gpu
    driver._in_flight.clear()
    gc.collect()
    assert not host.live, f"{len(host.live)} pinned host buffer(s) never freed"


def _synced_after_htod(fake, start: int) -> bool:
    """Whether the first host-to-device copy logged from `start` on was waited for at once (a blocking copy);
    an asynchronous one records an event instead, to know later when its source may go."""
    kinds = [entry[0] for entry in fake.log[start:]]
    after = kinds[kinds.index("htod") + 1]
    assert after in ("stream_sync", "record"), kinds
    return after == "stream_sync"


def test_emulated_pin_memory_allocates_page_locked_memory(pinned_gpu):
    x = tt.arange(12.0).reshape(3, 4)
    assert not x.is_pinned()
    p = x.pin_memory()
    assert p.is_pinned() and p[1:, ::2].is_pinned()  # a view of pinned memory is pinned
    assert isinstance(_pinned_owner(p), driver.PinnedHostBuffer) and len(pinned_gpu.host.live) == 1
    np.testing.assert_array_equal(p.numpy(), x.numpy())
    assert p.pin_memory() is p  # already pinned
    assert tt.zeros(0, 3).pin_memory().is_pinned()  # even an empty tensor gets a (1-byte) pinned buffer
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        tt.ones(2, device="cuda").pin_memory()
    del p
    gc.collect()
    assert pinned_gpu.host.live == {}


def test_emulated_non_blocking_copy_from_pinned_memory_is_queued_and_holds_its_source(pinned_gpu):
    pinned_gpu.copies_done = False  # the DMA engine is still reading
    src = tt.arange(64.0).pin_memory()
    owner = weakref.ref(_pinned_owner(src))
    start = len(pinned_gpu.log)
    out = src.to("cuda", non_blocking=True)
    assert not _synced_after_htod(pinned_gpu, start)  # only queued: no wait for the stream
    assert driver.host_buffers_in_flight(0) == 1
    del src
    gc.collect()
    assert owner() is not None and len(pinned_gpu.host.live) == 1  # held: the copy may still read it
    pinned_gpu.copies_done = True
    assert driver.host_buffers_in_flight(0) == 0  # its event is done: released
    gc.collect()
    assert owner() is None and pinned_gpu.host.live == {}
    np.testing.assert_array_equal(out.cpu().numpy(), np.arange(64.0, dtype=np.float32))


def test_emulated_synchronize_releases_the_held_sources(pinned_gpu):
    pinned_gpu.copies_done = False
    outs = [tt.full((8,), float(i)).pin_memory().cuda(non_blocking=True) for i in range(3)]
    assert driver.host_buffers_in_flight(0) == 3 and len(pinned_gpu.host.live) == 3
    pinned_gpu.copies_done = True  # what the device sync below waits for
    tt.cuda.synchronize()
    assert driver._in_flight[0] == []
    gc.collect()
    assert pinned_gpu.host.live == {}
    assert [o.cpu().tolist() for o in outs] == [[float(i)] * 8 for i in range(3)]


def test_emulated_pageable_or_converted_sources_copy_synchronously(pinned_gpu):
    pageable = tt.arange(6.0)
    pinned = tt.arange(12.0).reshape(3, 4).pin_memory()
    cases = [(pageable, lambda t: t.to("cuda", non_blocking=True)),  # not page-locked
             (pinned[:, ::2], lambda t: t.to("cuda", non_blocking=True)),  # strided: staged through a copy
             (pinned, lambda t: t.to("cuda", tt.float64, non_blocking=True)),  # cast: a new pageable array
             (pinned, lambda t: t.to("cuda"))]  # blocking asked for
    for src, move in cases:
        start = len(pinned_gpu.log)
        out = move(src)
        assert _synced_after_htod(pinned_gpu, start)
        np.testing.assert_array_equal(out.cpu().numpy(), src.numpy().astype(out.dtype.np))
    assert driver.host_buffers_in_flight(0) == 0


def test_emulated_copy_non_blocking_queues_the_transfer(pinned_gpu):
    dst = tt.zeros(2, 3, device="cuda")
    src = tt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).pin_memory()
    start = len(pinned_gpu.log)
    dst.copy_(src, non_blocking=True)
    assert not _synced_after_htod(pinned_gpu, start)
    np.testing.assert_array_equal(dst.cpu().numpy(), src.numpy())


def test_emulated_dataloader_pin_memory_then_non_blocking_copies(pinned_gpu):
    ds = TensorDataset(tt.arange(12.0).reshape(6, 2), tt.arange(6))
    for (x, y), (px, py) in zip(DataLoader(ds, batch_size=4), DataLoader(ds, batch_size=4, pin_memory=True)):
        assert px.is_pinned() and py.is_pinned()
        start = len(pinned_gpu.log)
        gx = px.to("cuda", non_blocking=True)
        assert not _synced_after_htod(pinned_gpu, start)
        np.testing.assert_array_equal(gx.cpu().numpy(), x.numpy())
        np.testing.assert_array_equal(py.cuda(non_blocking=True).cpu().numpy(), y.numpy())


# ------------------------------------------------------------------ a real GPU
@needs_gpu
def test_real_gpu_non_blocking_copy_from_pinned_memory():
    host = np.random.default_rng(0).standard_normal(1 << 22).astype(np.float32)  # 16 MiB: the copy takes a while
    src = tt.from_numpy(host).pin_memory()
    assert src.is_pinned() and not tt.from_numpy(host).is_pinned()
    owner = weakref.ref(_pinned_owner(src))
    tt.cuda.synchronize()
    out = src.to("cuda", non_blocking=True)
    del src
    gc.collect()
    # Held until the copy is known to be done (nothing has asked the event since: no poll, no synchronize).
    assert owner() is not None
    tt.cuda.synchronize()
    assert driver.host_buffers_in_flight(0) == 0
    gc.collect()
    assert owner() is None
    np.testing.assert_array_equal(out.cpu().numpy(), host)
    dst = tt.zeros(1 << 22, device="cuda")
    dst.copy_(tt.from_numpy(host).pin_memory(), non_blocking=True)
    tt.cuda.synchronize()
    np.testing.assert_array_equal(dst.cpu().numpy(), host)
