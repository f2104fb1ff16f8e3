"""add/sub/mul/div's cpu hot paths (two same-shape fresh tensors; a tensor and a Python scalar) give exactly what the
general path gives: the same bits, dtypes, arrays (never a NumPy scalar) and graph."""

import numpy as np
import pytest

import tritensor as tt

UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}
OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}


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


SCALARS = [0.1, -0.0, 0, 1e300, -1e-300, float("inf"), float("nan"), 3, -7, 2**53, 2**53 + 1, -(2**60), True]


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
    expected = {"add": 1.0, "sub": 1.0, "mul": 2.5, "div": np.float32(1.0) / np.float32(2.5)}[name]
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, expected, np.float32))
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


def _graph(out: tt.Tensor) -> list:
    return [(type(fn).__name__ if fn is not None else None, nr) for fn, nr in out.grad_fn.next_functions]


@pytest.mark.parametrize("name", sorted(OPS))
def test_recorded_scalar_ops_have_the_general_paths_node(name):
    # float16 takes the general path (a 0-d operand tensor): the hot path's node must look the same
    fast = OPS[name](tt.ones(3, requires_grad=True), 2.0)
    general = OPS[name](tt.ones(3, dtype=tt.float16, requires_grad=True), 2.0)
    assert fast.grad_fn.name() == general.grad_fn.name() and _graph(fast) == _graph(general)
    assert _graph(fast) == [("AccumulateGrad", 0), (None, 0)]


def test_recorded_products_save_only_what_the_other_gradient_needs():
    rng = np.random.default_rng(1)
    a_np, b_np, g_np = (rng.standard_normal(5).astype(np.float32) for _ in range(3))
    leaf = tt.tensor(a_np, requires_grad=True)
    a, b = leaf * 1.0, tt.tensor(b_np)
    out = a * b
    a.mul_(3.0)  # a is not saved (b needs no gradient): backward still works
    out.backward(tt.tensor(g_np))
    np.testing.assert_array_equal(leaf.grad.numpy(), (g_np * b_np) * np.float32(1.0))
    out = tt.tensor(a_np, requires_grad=True) * b
    b.mul_(2.0)  # b is saved for a's gradient
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    x, y = tt.tensor(a_np, requires_grad=True), tt.tensor(b_np, requires_grad=True)
    (x * y).backward(tt.tensor(g_np))
    np.testing.assert_array_equal(x.grad.numpy(), g_np * b_np)
    np.testing.assert_array_equal(y.grad.numpy(), g_np * a_np)
    z = tt.tensor(a_np, requires_grad=True)
    (z * 0.1).backward(tt.tensor(g_np))
    np.testing.assert_array_equal(z.grad.numpy(), g_np * np.float32(0.1))


def test_recorded_quotients_match_their_derivatives():
    rng = np.random.default_rng(2)
    a_np, b_np, g_np = (rng.uniform(0.5, 2.0, 4).astype(np.float32) for _ in range(3))
    a, b = tt.tensor(a_np, requires_grad=True), tt.tensor(b_np, requires_grad=True)
    (a / b).backward(tt.tensor(g_np))
    np.testing.assert_allclose(a.grad.numpy(), g_np / b_np, rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), -g_np * a_np / b_np**2, rtol=1e-5)
    pair = a / b
    assert _graph(pair) == [("AccumulateGrad", 0), ("AccumulateGrad", 0)]
    assert tt.autograd.gradcheck(lambda x, y: x / y, (tt.tensor(a_np.astype(np.float64), requires_grad=True),
                                                       tt.tensor(b_np.astype(np.float64), requires_grad=True)))
    assert tt.autograd.gradcheck(lambda x: x / 3.0, (tt.tensor(a_np.astype(np.float64), requires_grad=True),))


def test_recorded_differences_send_minus_the_gradient_to_the_subtrahend():
    g = tt.tensor([1.0, -10.0, 0.5])
    for need_a, need_b in ((True, True), (False, True), (True, False)):
        a = tt.tensor([1.0, 2.0, 3.0], requires_grad=need_a)
        b = tt.tensor([4.0, 5.0, 6.0], requires_grad=need_b)
        out = a - b
        assert out.grad_fn.name() == "SubBackward0"
        out.backward(g)
        assert (a.grad is not None) == need_a and (b.grad is not None) == need_b
        if need_a:
            np.testing.assert_array_equal(a.grad.numpy(), g.numpy())
        if need_b:
            np.testing.assert_array_equal(b.grad.numpy(), -g.numpy())
