"""tt.dropout / tt.dropout_ (ops/dropout.py, PyTorch's torch.dropout / torch.dropout_) on cpu and interpreted
cuda: values against kernels/dropout.py's Philox reference for the seed drawn from tt.manual_seed, the same
mask on both devices, the backward regenerating the mask, the grad_fn name, train=False / p=0 / p=1, the
in-place form and PyTorch's errors."""

import numpy as np
import pytest
from tritensor.kernels import dropout as KD

import tritensor as tt
from tritensor.autograd import gradcheck, gradgradcheck
from tritensor.ops import dropout as ops_dropout

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def test_registered_as_public_functions():
    # bound through the dispatch wrapper (autocast, export tracing)
    assert tt.dropout.__wrapped__ is ops_dropout.dropout and tt.dropout_.__wrapped__ is ops_dropout.dropout_


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64])
def test_values_follow_the_seeded_philox_mask(rng, device, dtype):
    a = rng.standard_normal((9, 13)).astype(dtype.np)
    tt.manual_seed(5)
    seed = ops_dropout.draw_seed()
    tt.manual_seed(5)
    y = tt.dropout(tt.tensor(a, device=device), 0.3, True)
    assert y.dtype is dtype
    want = KD.dropout_ref(a, 0.3, seed)
    tol = {tt.bfloat16: 1e-2, tt.float16: 1e-3}.get(dtype, 1e-6)
    np.testing.assert_allclose(_np(y), want.astype(np.float64), rtol=tol, atol=tol)
    np.testing.assert_array_equal(_np(y) != 0, KD.dropout_mask_ref(a.shape, 0.3, seed) & (a != 0))


@pytest.mark.parametrize("device", DEVICES)
def test_backward_regenerates_the_mask(rng, device):
    a = rng.standard_normal((6, 7)).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    y = tt.dropout(x, 0.5)
    assert y.grad_fn.name() == "DropoutBackward0"
    g = rng.standard_normal(a.shape).astype(np.float32)
    (gx,) = tt.autograd.grad(y, x, tt.tensor(g, device=device))
    keep = _np(y) != 0
    np.testing.assert_allclose(_np(gx), np.where(keep, g * 2.0, 0.0), rtol=1e-6)


def test_same_mask_on_cpu_and_cuda_for_a_transposed_input(rng):
    a = rng.standard_normal((5, 8)).astype(np.float32)
    outs = []
    for device in DEVICES:
        tt.manual_seed(21)
        outs.append(_np(tt.dropout(tt.tensor(a, device=device).t(), 0.4, True)))
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("device", DEVICES)
def test_identity_cases_zero_probability_and_in_place(device):
    x = tt.ones(3, 4, device=device)
    assert tt.dropout(x, 0.5, False) is x and tt.dropout(x, 0.0, True) is x
    assert _np(tt.dropout(x, 1.0, True)).sum() == 0 and _np(x).sum() == 12
    z = tt.ones(4, 6, device=device)
    tt.manual_seed(3)
    assert tt.dropout_(z, 0.5, True) is z
    assert set(np.unique(_np(z))) <= {0.0, 2.0} and (_np(z) == 0).any() and (_np(z) == 2).any()
    base = tt.ones(5, device=device, requires_grad=True)
    y = base * 1.0
    tt.dropout_(y, 0.5, True)
    assert y.grad_fn.name() == "DropoutBackward0"  # the history moved onto y
    y.sum().backward()
    np.testing.assert_array_equal(_np(base.grad), _np(y))  # grad = mask * 2 = y for ones


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    with pytest.raises(RuntimeError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        tt.dropout(tt.ones(2, device=device), 1.5, True)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        tt.dropout(tt.tensor([1, 2], device=device), 0.5, True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        tt.dropout_(tt.ones(3, device=device, requires_grad=True), 0.5, True)
    with pytest.raises(TypeError, match=r"dropout\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        tt.dropout([1.0], 0.5, True)


def test_gradcheck_with_a_fixed_seed():
    x = tt.tensor(np.random.default_rng(3).standard_normal((3, 4)), dtype=tt.float64, requires_grad=True)

    def fn(v):
        tt.manual_seed(11)
        return tt.dropout(v, 0.25, True)

    assert gradcheck(fn, (x,)) and gradgradcheck(fn, (x,))
