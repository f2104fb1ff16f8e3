"""add/sub/mul's cpu hot paths (two same-shape fresh tensors; a tensor and a Python scalar) give exactly what the
general path gives: the same bits, dtypes, arrays (never a NumPy scalar) and graph."""

import numpy as np
import pytest

import tritensor as tt

UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply}
OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


@pytest.mark.parametrize("name", sorted(OPS))
def test_zero_dim_results_are_arrays_that_take_in_place_ops(name):
    a, b = tt.tensor(1.5), tt.tensor(2.0)
    out = OPS[name](a, b)
    assert isinstance(out.numpy(), np.ndarray) and out.shape == ()
    assert out.item() == float(UFUNCS[name](np.float32(1.5), np.float32(2.0)))
    out.add_(1)  # a NumPy scalar underneath would refuse the in-place write
    assert out.item() == float(UFUNCS[name](np.float32(1.5), np.float32(2.0))) + 1
    scalar_out = OPS[name](a, 3.0)
    scalar_out.mul_(2)
    assert scalar_out.item() == 2 * float(UFUNCS[name](np.float32(1.5), np.float32(3.0)))


SCALARS = [0.1, -0.0, 1e300, -1e-300, float("inf"), float("nan"), 3, -7, 2**53, 2**53 + 1, -(2**60), True]


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_tensor_and_python_scalar_match_the_scalar_rounded_once(name, dtype):
    x = np.array([0.5, -1.25, 3.0e38, 1.0e-30, 7.0], dtype=dtype.np)
    t = tt.tensor(x)
    for value in SCALARS:
        out = OPS[name](t, value)
        # PyTorch's rule: the scalar takes the tensor's dtype (rounded once, from int64 or float64), then the op.
        with np.errstate(all="ignore"):
            scalar = np.array(value, np.float64 if isinstance(value, float) else np.int64).astype(x.dtype)
            expected = UFUNCS[name](x, scalar)
        assert out.dtype is dtype and isinstance(out.numpy(), np.ndarray)
        np.testing.assert_array_equal(out.numpy().view(np.uint8), expected.view(np.uint8), err_msg=repr(value))


def test_scalar_results_keep_pytorchs_dtypes():
    assert (tt.tensor([1, 2]) * 0.5).dtype is tt.float32
    assert (tt.tensor([1, 2]) + 1).dtype is tt.int64
    assert (tt.tensor([True, False]) + 1).dtype is tt.int64
    assert (tt.tensor([1.0], dtype=tt.float16) * 0.1).dtype is tt.float16
    assert (tt.tensor([1.0], dtype=tt.float64) - 2).dtype is tt.float64
    assert (tt.tensor([1.0]) + 1j).dtype is tt.complex64


@pytest.mark.parametrize("name", sorted(OPS))
def test_scalar_ops_recording_a_graph(name):
    x = tt.tensor([1.0, -2.0, 3.0], requires_grad=True)
    out = OPS[name](x, 2.5)
    assert out.grad_fn is not None and out.grad_fn.name().startswith(name.capitalize())
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2.5 if name == "mul" else 1.0, np.float32))
    with tt.no_grad():
        assert OPS[name](x, 2.5).grad_fn is None


def test_reflected_add_and_mul_with_a_scalar_equal_the_forward_order():
    x = tt.tensor([0.1, -3.5, 1e38, float("inf")])
    for value in (0.3, 7, -2**40, float("nan")):
        np.testing.assert_array_equal((value + x).numpy(), (x + value).numpy())
        np.testing.assert_array_equal((value * x).numpy(), (x * value).numpy())
    np.testing.assert_array_equal((1 - x).numpy(), np.float32(1) - x.numpy())
    w = tt.tensor([1.0, 2.0], requires_grad=True)
    (3.0 * w + 1).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full(2, 3.0, np.float32))
