"""Creation functions and the Tensor methods creation.py declares (tt.Tensor(...), new_*), as PyTorch has them."""

import numpy as np
import pytest

import tritensor as tt


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_new_methods_inherit_dtype_and_device(device):
    x = tt.ones(2, 3, dtype=tt.float64, device=device)
    z = x.new_zeros(2, 2)
    assert z.dtype is tt.float64 and z.device == x.device and z.cpu().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert x.new_zeros((3,)).shape == (3,)
    o = x.new_ones((1, 2), dtype=tt.int32)
    assert o.dtype is tt.int32 and o.cpu().tolist() == [[1, 1]]
    f = x.new_full((2,), 7)
    assert f.dtype is tt.float64 and f.cpu().tolist() == [7.0, 7.0]
    e = x.new_empty(4, requires_grad=True)
    assert e.shape == (4,) and e.requires_grad and e.device == x.device
    assert x.new_empty((0, 2)).shape == (0, 2)


def test_new_tensor_copies_and_detaches():
    x = tt.zeros(1, dtype=tt.float16)
    src = np.array([1.5, 2.5])
    t = x.new_tensor(src)
    src[0] = 9.0
    assert t.dtype is tt.float16 and t.tolist() == [1.5, 2.5]
    g = tt.ones(2, requires_grad=True)
    c = x.new_tensor(g, requires_grad=True)
    assert c.is_leaf and c.requires_grad and c.dtype is tt.float16
    assert x.new_tensor([1, 2], dtype=tt.int64).tolist() == [1, 2]


def test_tensor_constructor_forms():
    assert tt.Tensor([1, 2]).dtype is tt.float32 and tt.Tensor([1, 2]).tolist() == [1.0, 2.0]
    assert tt.Tensor(2, 3).shape == (2, 3)
    assert tt.Tensor().shape == (0,)
    assert isinstance(tt.Tensor([1.0]), tt.Tensor)


def test_randint_two_argument_form_draws_below_high():
    tt.manual_seed(0)
    a = tt.randint(5, (200,))
    tt.manual_seed(0)
    b = tt.randint(0, 5, (200,))
    assert a.dtype is tt.int64 and a.shape == (200,)
    assert a.tolist() == b.tolist()
    assert 0 <= a.min().item() and a.max().item() <= 4 and len(set(a.tolist())) == 5
    assert tt.randint(3, 10, size=(4, 2), dtype=tt.int32).dtype is tt.int32


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_empty_views_inside_their_storage(device):
    x = tt.zeros(0, 3, device=device)
    col = x[:, 2]
    assert col.shape == (0,) and col.cpu().numpy().shape == (0,)
    y = tt.arange(6.0, device=device).reshape(2, 3)
    empty = y[:, 3:]
    assert empty.shape == (2, 0) and empty.cpu().tolist() == [[], []]
    assert y[1:1].cpu().numpy().shape == (0, 3)


def test_cuda_seeding_reproduces_cuda_draws():
    tt.cuda.manual_seed_all(5)
    a = tt.randn(4, device="cuda")
    tt.cuda.manual_seed(5)
    b = tt.randn(4, device="cuda")
    assert a.cpu().tolist() == b.cpu().tolist()
    assert tt.cuda.initial_seed() == 5
    tt.manual_seed(5)
    assert tt.randn(4).tolist() == a.cpu().tolist()  # one generator: the same values on cpu and cuda


@pytest.mark.parametrize("make", [lambda: tt.zeros(2, dtype="float32"), lambda: tt.tensor([1], dtype=float),
                                  lambda: tt.arange(3, dtype=np.int64), lambda: tt.ones(1).new_full((1,), 2, dtype=1),
                                  lambda: tt.as_tensor([1], "int64"), lambda: tt.randn_like(tt.ones(1), dtype="x")])
def test_dtype_that_is_not_a_tritensor_dtype_is_a_type_error(make):
    with pytest.raises(TypeError, match=r"^\w+\(\): argument 'dtype' must be tritensor.dtype, not \w+$"):
        make()
