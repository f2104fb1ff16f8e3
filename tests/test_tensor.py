"""Tensor metadata, creation, conversion, devices and errors (cpu and interpreted cuda)."""

import ml_dtypes
import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]


@pytest.mark.parametrize("device", DEVICES)
def test_metadata(device):
    x = tt.zeros(2, 3, 4, device=device)
    assert x.shape == (2, 3, 4) and x.size() == tt.Size([2, 3, 4]) and x.size(-1) == 4
    assert x.stride() == (12, 4, 1) and x.stride(0) == 12
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.dtype is tt.float32 and x.element_size() == 4 and x.storage_offset() == 0
    assert x.is_contiguous() and x.is_leaf and x.grad is None and x.grad_fn is None
    assert not x.requires_grad
    assert x.device == tt.device(device if device == "cpu" else "cuda:0")


def test_device_objects():
    assert str(tt.device("cuda:1")) == "cuda:1" and tt.device("cuda", 1).index == 1
    assert repr(tt.device("cpu")) == "device(type='cpu')"
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        tt.device("tpu")
    assert tt.cuda.is_available() and tt.cuda.device_count() == 1  # the interpreter stands in for a GPU
    tt.cuda.synchronize()
    assert tt.cuda.current_stream() is tt.cuda.current_stream()


def test_cuda_without_gpu_or_interpreter_explains(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        tt.zeros(2, device="cuda")


@pytest.mark.parametrize("data,dtype", [([1, 2], tt.int64), ([1.0, 2], tt.float32), ([True, False], tt.bool),
                                        (3.5, tt.float32), ([[1, 2], [3, 4]], tt.int64)])
def test_tensor_infers_dtype(data, dtype):
    t = tt.tensor(data)
    assert t.dtype is dtype
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=dtype.np))


def test_default_dtype_roundtrip():
    tt.set_default_dtype(tt.float64)
    try:
        assert tt.tensor([1.0]).dtype is tt.float64 and tt.zeros(1).dtype is tt.float64
        assert (tt.tensor([1, 2]) + 1.5).dtype is tt.float64
    finally:
        tt.set_default_dtype(tt.float32)
    with pytest.raises(TypeError):
        tt.set_default_dtype(tt.int32)


def test_from_numpy_shares_memory_and_as_tensor():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tt.from_numpy(a)
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    t[1, 2] = -1
    assert a[1, 2] == -1
    s = tt.from_numpy(a[:, ::2])  # non-contiguous arrays share memory too
    assert s.stride() == (3, 2) and s.tolist() == [[42.0, 2.0], [3.0, -1.0]]
    assert np.shares_memory(tt.as_tensor(a).numpy(), a)
    with pytest.raises(ValueError, match="negative"):
        tt.from_numpy(a[:, ::-1])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type complex256"):
        tt.from_numpy(np.zeros(2, np.clongdouble))


def test_creation_functions():
    assert tt.arange(5).tolist() == [0, 1, 2, 3, 4] and tt.arange(5).dtype is tt.int64
    np.testing.assert_allclose(tt.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(tt.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(tt.eye(2, 3).numpy(), np.eye(2, 3))
    assert tt.full((2, 2), 7).dtype is tt.int64 and tt.full((2,), 1.5).tolist() == [1.5, 1.5]
    assert tt.full((1,), True).dtype is tt.bool
    x = tt.ones(2, 3, dtype=tt.float16)
    for like in (tt.zeros_like, tt.ones_like, tt.empty_like, tt.rand_like, tt.randn_like):
        y = like(x)
        assert y.shape == x.shape and y.dtype is tt.float16
    assert tt.full_like(x, 3).tolist() == [[3, 3, 3]] * 2
    r = tt.randint(3, 9, (1000,))
    assert r.dtype is tt.int64 and 3 <= r.numpy().min() and r.numpy().max() < 9
    assert set(tt.randperm(10).tolist()) == set(range(10))
    with pytest.raises(RuntimeError, match="negative dimension"):
        tt.zeros(2, -1)


def test_generator_and_manual_seed_reproduce():
    tt.manual_seed(123)
    a = tt.randn(5)
    tt.manual_seed(123)
    b = tt.randn(5)
    assert a.tolist() == b.tolist()
    g = tt.Generator().manual_seed(7)
    c = tt.rand(3, generator=g)
    g.manual_seed(7)
    assert tt.rand(3, generator=g).tolist() == c.tolist()
    n = tt.normal(2.0, 0.5, size=(20000,))
    assert abs(n.numpy().mean() - 2.0) < 0.02 and abs(n.numpy().std() - 0.5) < 0.02


@pytest.mark.parametrize("device", DEVICES)
def test_conversions(device):
    x = tt.tensor([[1.5, -2.0], [3.25, 4.0]], device=device)
    assert x.tolist() == [[1.5, -2.0], [3.25, 4.0]]
    assert x[0, 1].item() == -2.0 and float(x[1, 0]) == 3.25
    assert x.long().dtype is tt.int64 and x.long().tolist() == [[1, -2], [3, 4]]
    assert x.half().dtype is tt.float16 and x.bfloat16().dtype is tt.bfloat16
    assert x.double().dtype is tt.float64 and x.bool().tolist() == [[True, True], [True, True]]
    assert x.to(tt.int32).dtype is tt.int32
    assert x.to(x) is x and x.to(device) is x
    np.testing.assert_array_equal(np.asarray(x), [[1.5, -2.0], [3.25, 4.0]])
    assert len(x) == 2 and [r.tolist() for r in x] == [[1.5, -2.0], [3.25, 4.0]]
    assert bool(tt.tensor([1], device=device)) and not bool(tt.tensor(0.0, device=device))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="4 elements cannot be converted"):
        x.item()


def test_numpy_is_cpu_only_and_device_moves_are_explicit():
    c = tt.tensor([1.0, 2.0]).cuda()
    assert c.device == tt.device("cuda:0")
    with pytest.raises(TypeError, match="Use Tensor.cpu"):
        c.numpy()
    back = c.cpu()
    assert back.device == tt.device("cpu") and back.numpy().tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        c + tt.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="requires grad"):
        tt.ones(2, requires_grad=True).numpy()


def test_dlpack_roundtrip():
    x = tt.arange(6, dtype=tt.float32).reshape(2, 3)
    a = np.from_dlpack(x)
    assert np.shares_memory(a, x.numpy()) and a.tolist() == x.tolist()
    assert x.__dlpack_device__() == (1, 0)
    y = tt.from_dlpack(np.arange(4, dtype=np.int32))
    assert y.dtype is tt.int32 and y.tolist() == [0, 1, 2, 3]


def test_bfloat16_storage_uses_ml_dtypes():
    x = tt.tensor([1.0, 2.5], dtype=tt.bfloat16)
    assert x.numpy().dtype == ml_dtypes.bfloat16 and x.element_size() == 2


def test_repr_matches_pytorch_format():
    assert repr(tt.tensor([1.0, 2.0, 3.0])) == "tensor([1., 2., 3.])"
    assert repr(tt.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(tt.tensor([0.5, 1.25])) == "tensor([0.5000, 1.2500])"
    assert repr(tt.tensor([True, False])) == "tensor([ True, False])"
    assert repr(tt.tensor([1.0], dtype=tt.float16)) == "tensor([1.], dtype=tritensor.float16)"
    assert repr(tt.tensor([1.0], device="cuda")) == "tensor([1.], device='cuda:0')"
    assert repr(tt.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"
    assert repr(tt.ones(1, requires_grad=True) * 2) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert repr(tt.tensor(3)) == "tensor(3)"


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        tt.tensor([1, 2], requires_grad=True)
    x = tt.ones(2, requires_grad=True)
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name() == "MulBackward0"
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
