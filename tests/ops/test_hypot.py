"""hypot, the worked example of CONTRIBUTING.md, through the test layers: the NumPy reference against known
values, the Triton kernel in the interpreter against the reference (odd sizes, broadcast, non-contiguous, every
float dtype), the autograd registration (gradcheck in float64, cpu and cuda agree), errors, and the in-place
and out= forms. The AOT layer needs no test here: kernels/hypot.py's SPECS join the CI matrix by themselves."""

import numpy as np
import pytest
from tritensor.kernels import hypot as K

import tritensor as tt
from tests.conftest import as_device
from tritensor.autograd import gradcheck

FLOATS = [tt.float32, tt.float16, tt.bfloat16, tt.float64]
TOL = {tt.float32: 1e-6, tt.float64: 1e-12, tt.float16: 1e-3, tt.bfloat16: 8e-3}


def test_reference_known_values():
    a = np.array([3.0, -5.0, 0.0, 1e30, 1e-30, np.inf, np.nan, -np.inf], np.float32)
    b = np.array([4.0, 12.0, 0.0, 1e30, 1e-30, np.nan, 2.0, 1.0], np.float32)
    expected = np.array([5.0, 13.0, 0.0, 1e30 * np.sqrt(2), 1e-30 * np.sqrt(2), np.inf, np.nan, np.inf], np.float32)
    np.testing.assert_allclose(K.hypot_ref(a, b), expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
def test_kernel_matches_reference_broadcast_and_strided(dtype, rng):
    a = (rng.standard_normal((7, 5)) * 3).astype(dtype.np).T  # (5, 7), non-contiguous
    b = np.broadcast_to((rng.standard_normal(7) * 2).astype(dtype.np), (5, 7))  # stride 0 along dim 0
    out = np.empty((5, 7), dtype.np)
    with np.errstate(over="ignore"):
        K.hypot(as_device(out), as_device(a), as_device(b))
    expected = K.hypot_ref(a, b)
    np.testing.assert_allclose(out.astype(np.float64), expected.astype(np.float64), rtol=TOL[dtype] * 4)


def test_kernel_edge_values_match_reference():
    a = np.array([np.inf, np.nan, -np.inf, 0.0, 3e38, 1e-40, -0.0], np.float32)
    b = np.array([np.nan, np.inf, 0.0, 0.0, 3e38, 1e-40, 2.0], np.float32)
    out = np.empty_like(a)
    with np.errstate(over="ignore"):  # hypot(3e38, 3e38) overflows fp32 to inf on purpose
        K.hypot(as_device(out), as_device(a), as_device(b))
        expected = K.hypot_ref(a, b)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_op_forward_promotes_and_broadcasts(device, rng):
    a = rng.standard_normal((2, 3, 1))
    b = rng.standard_normal(4).astype(np.float32)
    result = tt.hypot(tt.tensor(a, device=device), tt.tensor(b, device=device))
    assert result.dtype is tt.float64 and result.shape == (2, 3, 4)
    np.testing.assert_allclose(result.cpu().numpy(), np.hypot(a, b.astype(np.float64)), rtol=1e-12)


def test_gradcheck_float64():
    a = tt.randn(3, 4, dtype=tt.float64, requires_grad=True)
    b = tt.randn(4, dtype=tt.float64, requires_grad=True)
    assert gradcheck(tt.hypot, (a, b))


def test_cuda_backward_matches_cpu(rng):
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((1, 4)).astype(np.float32)
    grads = {}
    for device in ("cpu", "cuda"):
        ta = tt.tensor(a, device=device, requires_grad=True)
        tb = tt.tensor(b, device=device, requires_grad=True)
        out = tt.hypot(ta, tb)
        assert out.grad_fn.name() == "HypotBackward0"
        out.sum().backward()
        grads[device] = (ta.grad.cpu().numpy(), tb.grad.cpu().numpy())
    h = np.hypot(a, b)
    np.testing.assert_allclose(grads["cpu"][0], a / h, rtol=1e-6)
    np.testing.assert_allclose(grads["cpu"][1], (b / h).sum(0, keepdims=True), rtol=1e-5)
    for cpu, cuda in zip(grads["cpu"], grads["cuda"]):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-5)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_errors(device):
    ints = tt.tensor([3, 4], device=device)
    with pytest.raises(RuntimeError, match="\"hypot\" not implemented for 'Long'"):
        tt.hypot(ints, ints)
    with pytest.raises(TypeError, match="argument 'other' must be Tensor"):
        tt.hypot(tt.ones(2, device=device), 2.0)
    with pytest.raises(RuntimeError, match="must match the size"):
        tt.hypot(tt.ones(2, device=device), tt.ones(3, device=device))


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_in_place_and_out(device):
    x = tt.tensor([3.0, 5.0], device=device)
    assert x.hypot_(tt.tensor([4.0, 12.0], device=device)) is x
    assert x.cpu().tolist() == [5.0, 13.0]
    out = tt.empty(2, device=device)
    assert tt.hypot(tt.tensor([6.0, 8.0], device=device), tt.tensor([8.0, 6.0], device=device), out=out) is out
    assert out.cpu().tolist() == [10.0, 10.0]
    assert tt.tensor([1.0]).hypot(tt.tensor([0.0])).tolist() == [1.0]
