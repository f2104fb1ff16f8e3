"""The cpu path's fused NumPy references (issue 21): the in-place softmax / layer_norm, the cross-entropy backward
that reuses the forward's exp, exact GELU's fp32 cdf without SciPy, Adam's reused scratch buffer. Each against a
plain float64 formulation, and each alternative path against the one it replaces."""

import math

import numpy as np
import pytest
import scipy.special
from tritensor.kernels import activations as A
from tritensor.kernels import loss as KL
from tritensor.kernels import norm_rows as KN
from tritensor.kernels import optim_adam as KA
from tritensor.kernels import softmax as KS

import tritensor as tt
import tritensor.nn.functional as F


def _softmax64(x, axis, log):
    x = x.astype(np.float64)
    s = x - x.max(axis, keepdims=True)
    lse = np.log(np.exp(s).sum(axis, keepdims=True))
    return s - lse if log else np.exp(s - lse)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_softmax_ref_values_dtype_and_layout(rng, log, dtype):
    x = (rng.standard_normal((6, 9)) * 4).astype(dtype).T  # a transposed (column-major) input
    y = KS.softmax_ref(x, 0, log)
    assert y.dtype == dtype and y.shape == x.shape and y.strides == x.strides  # x's memory order, as before
    tol = {np.float32: 1e-6, np.float16: 2e-3, np.float64: 1e-14}[dtype]
    np.testing.assert_allclose(y.astype(np.float64), _softmax64(x, 0, log), rtol=tol, atol=tol)
    g = rng.standard_normal(x.shape).astype(dtype)
    gx = KS.softmax_backward_ref(g, y, 0, log)
    g64, y64 = g.astype(np.float64), y.astype(np.float64)
    want = g64 - np.exp(y64) * g64.sum(0) if log else y64 * (g64 - (g64 * y64).sum(0))
    assert gx.dtype == dtype
    np.testing.assert_allclose(gx.astype(np.float64), want, rtol=10 * tol, atol=10 * tol)


def test_softmax_ref_special_rows():
    x = np.array([[0.0, -np.inf, 1.0], [np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]], np.float32)
    with np.errstate(all="ignore"):
        want = _softmax64(x, 1, True)
    np.testing.assert_array_equal(np.isnan(KS.softmax_ref(x, 1, True)), np.isnan(want))
    assert KS.softmax_ref(x, 1, True)[0, 1] == -np.inf and KS.softmax_ref(x, 1)[0, 1] == 0.0
    assert KS.softmax_ref(np.zeros((0, 3), np.float32), 1).shape == (0, 3)


@pytest.mark.parametrize("rms", [False, True])
def test_layer_norm_ref_against_float64(rng, rms):
    x = (rng.standard_normal((5, 300)) * 3 + 1).astype(np.float32)
    w, b = rng.standard_normal(300).astype(np.float32), rng.standard_normal(300).astype(np.float32)
    y, mean, rstd = KN.layer_norm_ref(x, w, b, 1e-5, rms)
    x64 = x.astype(np.float64)
    c = x64 if rms else x64 - x64.mean(1, keepdims=True)
    r = 1 / np.sqrt((c * c).mean(1, keepdims=True) + 1e-5)
    assert y.dtype == mean.dtype == rstd.dtype == np.float32
    np.testing.assert_allclose(y, c * r * w + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rstd, r[:, 0], rtol=1e-6)


# ---------------------------------------------------------------- cross-entropy: the forward's exp reused
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignored", [False, True])
def test_cross_entropy_backward_from_the_forward_exp(rng, smoothing, weighted, ignored):
    x = (rng.standard_normal((7, 5)) * 3).astype(np.float32)
    t = rng.integers(0, 5, 7)
    if ignored:
        t[[1, 4]] = -100
    w = (rng.random(5) + 0.5).astype(np.float32) if weighted else None
    loss, w_t, lse, exp_rows = KL.cross_entropy_rows_exp_ref(x, t, w, -100, smoothing)
    np.testing.assert_array_equal(loss, KL.cross_entropy_rows_ref(x, t, w, -100, smoothing)[0])
    grad = np.float32(1.5)
    want = KL.cross_entropy_backward_ref(grad, x, t, w, -100, "mean", smoothing)  # no lse: max and sum again
    from_lse = KL.cross_entropy_backward_ref(grad, x, t, w, -100, "mean", smoothing, lse=lse)
    first = KL.cross_entropy_backward_ref(grad, x, t, w, -100, "mean", smoothing, lse=lse, exp_rows=exp_rows)
    again = KL.cross_entropy_backward_ref(grad, x, t, w, -100, "mean", smoothing, lse=lse,
                                          exp_rows=(None,) + exp_rows[1:])
    np.testing.assert_array_equal(first, again)  # a second backward recomputes the very same exp
    for got in (from_lse, first):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert first.dtype == np.float32 and first.flags.c_contiguous


def test_cross_entropy_cpu_backward_twice_is_identical(rng):
    x = tt.tensor(rng.standard_normal((8, 6)).astype(np.float32), requires_grad=True)
    t = tt.tensor(rng.integers(0, 6, 8))
    loss = F.cross_entropy(x, t, label_smoothing=0.1)
    (g1,) = tt.autograd.grad(loss, x, retain_graph=True)
    (g2,) = tt.autograd.grad(loss, x)
    np.testing.assert_array_equal(g1.numpy(), g2.numpy())
    xs = x.detach().numpy()
    want = KL.cross_entropy_backward_ref(np.float32(1.0), xs, t.numpy(), None, -100, "mean", 0.1)
    np.testing.assert_allclose(g1.numpy(), want, rtol=1e-5, atol=1e-7)


def test_cross_entropy_ref_target_check_still_raises():
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        KL.cross_entropy_rows_exp_ref(np.zeros((2, 5), np.float32), np.array([0, 5]))
    with pytest.raises(IndexError, match="Target -3 is out of bounds."):
        KL.cross_entropy_rows_exp_ref(np.zeros((2, 5), np.float32), np.array([-100, -3]))


# ---------------------------------------------------------------- exact GELU in fp32
def _gelu64(x):
    return 0.5 * x * scipy.special.erfc(-x / math.sqrt(2))


def test_gelu_fp32_cdf_against_float64_everywhere():
    x = np.concatenate([np.linspace(-10, 10, 200_001), [-40.0, 40.0, 1e-30, -1e-30, 0.0]]).astype(np.float32)
    x64 = x.astype(np.float64)
    got = A.gelu_ref(x).astype(np.float64)
    want = _gelu64(x64)
    # Relative accuracy down the tail (the cdf is reflected, never 1 + erf): within 1e-6 over [-3, 10], 4e-6 at
    # -10, where fp32's rounding of x^2 / 2 (~50) moves exp by that much.
    np.testing.assert_allclose(got, want, rtol=5e-6, atol=1e-30)
    head = x64 >= -3
    np.testing.assert_allclose(got[head], want[head], rtol=1e-6, atol=1e-30)
    (gx,) = A.gelu_backward_ref(np.ones_like(x), x)
    dwant = 0.5 * scipy.special.erfc(-x64 / math.sqrt(2)) + x64 * np.exp(-x64 * x64 / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(gx.astype(np.float64), dwant, rtol=5e-6, atol=2e-7)


def test_gelu_fp32_special_values_blocks_and_layouts(rng):
    special = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(A.gelu_ref(special), (0.5 * special * (1 + scipy.special.erf(
            special.astype(np.float64) / math.sqrt(2)))).astype(np.float32))
    big = rng.standard_normal((3, A._BLOCK + 17)).astype(np.float32).T  # several blocks, non-contiguous
    np.testing.assert_allclose(A.gelu_ref(big), _gelu64(big.astype(np.float64)), rtol=2e-6, atol=1e-7)
    g = rng.standard_normal(big.shape).astype(np.float32)
    (gx,) = A.gelu_backward_ref(g, big)
    (g1,) = A.gelu_backward_ref(g[:5, :2].copy(), big[:5, :2].copy())
    np.testing.assert_array_equal(gx[:5, :2], g1)
    assert A.gelu_ref(np.float32(1.0)).shape == () and A.gelu_ref(np.zeros((0, 2), np.float32)).shape == (0, 2)
    assert A.gelu_ref(np.ones(4, np.float16)).dtype == np.float16


# ---------------------------------------------------------------- Adam's scratch buffer
def test_adam_in_place_with_a_shared_scratch_matches_the_generic_ref(rng):
    shapes = [(40, 30), (7,), (300,), (40, 30)]
    c = (0.0, 1.0, 0.1, 0.999, 0.001, 1e-3 / 0.1, math.sqrt(0.001), 1e-8)
    fast = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    slow = [p.astype(np.float64) for p in fast]
    states = [[np.zeros(s, np.float32), np.zeros(s, np.float32)] for s in shapes]
    states64 = [[np.zeros(s), np.zeros(s)] for s in shapes]
    for step in range(3):
        for p, p64, st, st64 in zip(fast, slow, states, states64):
            g = (p * 0.5 + step).astype(np.float32)
            KA.adam_ref(p, g, st, c, 0)  # fp32 throughout: the in-place path and its scratch
            KA.adam_ref(p64, g.astype(np.float64), st64, c, 0)
    for p, p64 in zip(fast, slow):
        np.testing.assert_allclose(p, p64, rtol=1e-5, atol=1e-6)
