"""The fused pointwise-loss kernels in Triton's interpreter against their NumPy references; the references
against known values and float64 central finite differences."""

import math

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import loss_pointwise as K

from tests.conftest import as_device
from tests.kernels.tuning_helpers import every_config

BF16 = ml_dtypes.bfloat16
TOL = {np.float32: 2e-5, np.float16: 4e-3, BF16: 3e-2, np.float64: 1e-12}

# (loss, param, mode, input sampler, target sampler)
CASES = [
    ("binary_cross_entropy", 0.0, 0.0, lambda r, n: r.uniform(0.02, 0.98, n), lambda r, n: r.uniform(0, 1, n)),
    ("binary_cross_entropy_with_logits", 0.0, 0.0, lambda r, n: r.normal(0, 3, n), lambda r, n: r.uniform(0, 1, n)),
    ("huber_loss", 0.7, 0.0, lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0, 1, n)),
    ("smooth_l1_loss", 0.4, 0.0, lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0, 1, n)),
    ("smooth_l1_loss", 0.0, 0.0, lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0, 1, n)),
    ("kl_div", 0.0, 0.0, lambda r, n: r.normal(-1, 1, n), lambda r, n: r.uniform(0.05, 1, n)),
    ("kl_div", 0.0, 1.0, lambda r, n: r.normal(-1, 1, n), lambda r, n: r.normal(-1, 1, n)),
    ("poisson_nll_loss", 0.0, 1.0, lambda r, n: r.normal(0, 1, n), lambda r, n: r.integers(0, 5, n) * 1.0),
    ("poisson_nll_loss", 1e-8, 0.0, lambda r, n: r.uniform(0.1, 3, n), lambda r, n: r.integers(0, 5, n) * 1.0),
    ("poisson_nll_loss", 1e-8, 3.0, lambda r, n: r.normal(0, 1, n), lambda r, n: r.integers(0, 5, n) * 1.0),
    ("poisson_nll_loss", 0.5, 2.0, lambda r, n: r.uniform(0.1, 3, n), lambda r, n: r.integers(0, 5, n) * 1.0),
    ("soft_margin_loss", 0.0, 0.0, lambda r, n: r.normal(0, 2, n), lambda r, n: r.choice([-1.0, 1.0], n)),
    ("mse_loss", 0.0, 0.0, lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0, 1, n)),
    ("l1_loss", 0.0, 0.0, lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0, 1, n)),
]
IDS = [f"{c[0]}-{c[1]}-{c[2]}" for c in CASES]


def _operands(case, n, dtype, seed=0, weighted=False):
    r = np.random.default_rng(seed)
    x, t = case[3](r, n).astype(dtype), case[4](r, n).astype(dtype)
    w = r.uniform(0.5, 2, n).astype(dtype) if weighted else None
    pw = r.uniform(0.5, 3, n).astype(dtype) if weighted and case[0] == "binary_cross_entropy_with_logits" else None
    return x, t, w, pw


def _kw(case):
    return dict(loss=case[0], param=case[1], mode=case[2])


def _forward_kernel(x, t, w, pw, case, reduction, divisor=None):
    acc = np.float64 if x.dtype == np.float64 else np.float32
    if reduction == "none":
        out = np.full(x.shape, np.nan, x.dtype)
        K.pointwise_loss(as_device(out), *(None if a is None else as_device(a) for a in (x, t, w, pw)), **_kw(case))
        return out
    out = np.full((1,), np.nan, x.dtype)
    partials = np.full((max(1, K.partials_numel(x.size)),), np.nan, acc)
    d = (x.size if divisor is None else divisor) if reduction == "mean" else None
    K.pointwise_loss(as_device(out), *(None if a is None else as_device(a) for a in (x, t, w, pw)),
                     partials=as_device(partials), divisor=d, **_kw(case))
    return out[0]


def _close(got, want, dt, scale=1.0):
    tol = TOL[dt] * scale
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=tol, atol=tol)


# ---------------------------------------------------------------- the references
def test_reference_known_values():
    half = np.array([0.5])
    np.testing.assert_allclose(K.pointwise_loss_ref(half, np.array([1.0]), loss="binary_cross_entropy"),
                               math.log(2), rtol=1e-15)
    # PyTorch clamps the logs at -100: x = 0 with t = 1 costs 100, not inf.
    assert K.pointwise_loss_ref(np.array([0.0]), np.array([1.0]), loss="binary_cross_entropy") == 100.0
    np.testing.assert_allclose(K.pointwise_loss_ref(np.array([0.0]), np.array([1.0]),
                                                    loss="binary_cross_entropy_with_logits"), math.log(2), rtol=1e-15)
    # Huber at |d| = 2, delta 1: 1 * (2 - 0.5); smooth L1 at |d| = 0.5, beta 1: 0.125.
    assert K.pointwise_loss_ref(np.array([3.0]), np.array([1.0]), loss="huber_loss", param=1.0) == 1.5
    assert K.pointwise_loss_ref(np.array([1.5]), np.array([1.0]), loss="smooth_l1_loss", param=1.0) == 0.125
    # kl_div: 0 log 0 is 0; Stirling: t = 3 adds 3 log 3 - 3 + log(6 pi) / 2.
    assert K.pointwise_loss_ref(np.array([-1.0]), np.array([0.0]), loss="kl_div") == 0.0
    got = K.pointwise_loss_ref(np.array([0.0]), np.array([3.0]), loss="poisson_nll_loss", mode=3.0)
    np.testing.assert_allclose(got, 1 + 3 * math.log(3) - 3 + 0.5 * math.log(6 * math.pi), rtol=1e-14)
    big = K.pointwise_loss_ref(np.array([-800.0]), np.array([1.0]), loss="binary_cross_entropy_with_logits")
    assert big == 800.0  # the stable form: no exp(800) overflow


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reference_gradients_match_finite_differences(case):
    x, t, w, pw = _operands(case, 6, np.float64, weighted=True)
    # The Stirling term jumps at t = 1 (it applies for t > 1 only): keep the differences off that point.
    t = np.where(t == 1, 1.5, t)
    kw = _kw(case)
    g = np.random.default_rng(3).standard_normal(6)
    gx, gt = K.pointwise_loss_backward_ref(g, x, t, w, pw, **kw)
    eps = 1e-6

    def f(a, b):
        return np.sum(g * K.pointwise_loss_ref(a, b, w, pw, reduction="none", **kw))

    for i in range(6):
        step = np.zeros(6)
        step[i] = eps
        np.testing.assert_allclose(gx[i], (f(x + step, t) - f(x - step, t)) / (2 * eps), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gt[i], (f(x, t + step) - f(x, t - step)) / (2 * eps), rtol=1e-5, atol=1e-6)


def test_reference_reductions():
    case = CASES[2]
    x, t, _, _ = _operands(case, 10, np.float64)
    per = K.pointwise_loss_ref(x, t, reduction="none", **_kw(case))
    np.testing.assert_allclose(K.pointwise_loss_ref(x, t, reduction="sum", **_kw(case)), per.sum(), rtol=1e-14)
    np.testing.assert_allclose(K.pointwise_loss_ref(x, t, reduction="mean", **_kw(case)), per.mean(), rtol=1e-14)
    np.testing.assert_allclose(K.pointwise_loss_ref(x, t, reduction="mean", divisor=4, **_kw(case)), per.sum() / 4,
                               rtol=1e-14)


# ---------------------------------------------------------------- the kernels
@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_forward_kernel_matches_reference(case, reduction):
    # 1031 elements: a bulk of full blocks and a masked tail.
    for n, weighted in ((1031, True), (7, False)):
        x, t, w, pw = _operands(case, n, np.float32, weighted=weighted)
        want = K.pointwise_loss_ref(x, t, w, pw, reduction=reduction, **_kw(case))
        _close(_forward_kernel(x, t, w, pw, case, reduction), want, np.float32, 4 if reduction != "none" else 1)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_backward_kernel_matches_reference(case, reduction):
    for n, weighted in ((1031, True), (5, False)):
        x, t, w, pw = _operands(case, n, np.float32, weighted=weighted)
        r = np.random.default_rng(9)
        grad = r.standard_normal(n).astype(np.float32) if reduction == "none" else np.array([1.7], np.float32)
        divisor = None if reduction == "none" else (n if reduction == "mean" else 1)
        gx, gt = np.full(n, np.nan, np.float32), np.full(n, np.nan, np.float32)
        K.pointwise_loss_backward(as_device(gx), as_device(gt), as_device(grad),
                                  *(None if a is None else as_device(a) for a in (x, t, w, pw)), divisor=divisor,
                                  **_kw(case))
        want_x, want_t = K.pointwise_loss_backward_ref(grad if reduction == "none" else grad[0], x, t, w, pw,
                                                       divisor=divisor, **_kw(case))
        _close(gx, want_x, np.float32)
        _close(gt, want_t, np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, BF16])
@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[3], CASES[5], CASES[9]], ids=lambda c: c[0])
def test_kernels_in_every_dtype(case, dtype):
    x, t, w, pw = _operands(case, 300, dtype, weighted=True)
    for reduction in ("none", "mean"):
        want = K.pointwise_loss_ref(x, t, w, pw, reduction=reduction, **_kw(case))
        _close(_forward_kernel(x, t, w, pw, case, reduction), want, dtype, 1 if reduction == "none" else 8)
    grad = np.random.default_rng(2).standard_normal(300).astype(dtype)
    gx, gt = np.zeros(300, dtype), np.zeros(300, dtype)
    K.pointwise_loss_backward(as_device(gx), as_device(gt), as_device(grad),
                              *(None if a is None else as_device(a) for a in (x, t, w, pw)), **_kw(case))
    want_x, want_t = K.pointwise_loss_backward_ref(grad, x, t, w, pw, **_kw(case))
    _close(gx, want_x, dtype)
    _close(gt, want_t, dtype)


def test_bce_clamps_logs_at_boundaries_in_the_kernel():
    case = CASES[0]
    x = np.array([0.0, 1.0, 0.0, 1.0], np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    np.testing.assert_array_equal(_forward_kernel(x, t, None, None, case, "none"), [100.0, 100.0, 0.0, 0.0])


def test_every_config_of_the_space():
    case = CASES[1]
    x, t, w, pw = _operands(case, 2500, np.float32, weighted=True)
    want = K.pointwise_loss_ref(x, t, w, pw, reduction="sum", **_kw(case))
    for i in range(len(K._SPACE)):
        with every_config(i):
            _close(_forward_kernel(x, t, w, pw, case, "sum"), want, np.float32, 10)


def test_empty_and_batchmean_divisor():
    case = CASES[2]
    e = np.zeros(0, np.float32)
    assert _forward_kernel(e, e, None, None, case, "sum") == 0.0
    assert np.isnan(_forward_kernel(e, e, None, None, case, "mean"))
    x, t, _, _ = _operands(case, 12, np.float32)
    want = K.pointwise_loss_ref(x, t, reduction="sum", **_kw(case)) / 3
    _close(_forward_kernel(x, t, None, None, case, "mean", divisor=3), want, np.float32)


@pytest.mark.parametrize("pos_weight", [None, np.array(1.0, np.float32), np.array([0.5, 1.0, 2.0, 3.0], np.float32)])
def test_bce_with_logits_reference_formula_bits(pos_weight):
    # the in-place reference keeps the textbook expression's bits, inf/NaN targets included (1 + 0 * inf is NaN)
    x = np.array([[-3.0, 0.0, 2.5, np.nan], [1.0, -0.0, np.inf, -np.inf], [0.3, 0.7, -1.2, 4.0]], np.float32)
    t = np.array([[0.2, np.inf, 1.0, 0.5], [-np.inf, 0.5, np.nan, 0.0], [1.0, 0.0, 0.25, 0.75]], np.float32)
    pw = np.ones((), np.float32) if pos_weight is None else pos_weight
    with np.errstate(all="ignore"):
        sp = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
        want = (1 - t) * x + (1 + (pw - 1) * t) * sp
        got = K.pointwise_loss_ref(x, t, pos_weight=pos_weight, loss="binary_cross_entropy_with_logits",
                                   reduction="none")
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
        sig = 1 / (1 + np.exp(-x.astype(np.float64)))
        gx, gt = K.pointwise_loss_backward_ref(np.ones_like(x), x, t, pos_weight=pos_weight,
                                               loss="binary_cross_entropy_with_logits")
        want_gx = (1 + (pw - 1) * t) * sig - pw * t
        np.testing.assert_allclose(gx, want_gx, rtol=1e-6, atol=1e-7)
        if pw.ndim == 0:  # an infinite target under a unit pos_weight: 1 + 0 * inf is NaN
            assert np.isnan(gx[0, 1]) and np.isnan(gx[1, 0])
        np.testing.assert_array_equal(gt, ((pw - 1) * sp - x).astype(np.float32))


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "binary_cross_entropy_with_logits"])
def test_backward_reference_without_target_grad(rng, loss):
    x, t = rng.standard_normal((5, 7)).astype(np.float32), rng.uniform(0, 1, (5, 7)).astype(np.float32)
    g = np.array(1.0, np.float32)
    gx, gt = K.pointwise_loss_backward_ref(g, x, t, loss=loss, divisor=35)
    gx2, none = K.pointwise_loss_backward_ref(g, x, t, loss=loss, divisor=35, need_t=False)
    assert none is None and gt is not None
    np.testing.assert_array_equal(gx2, gx)
    d = (x - t).astype(np.float32)
    if loss != "binary_cross_entropy_with_logits":
        want = np.float32(1 / 35) * (2 * d if loss == "mse_loss" else np.sign(d))
        np.testing.assert_array_equal(gx, want)
        np.testing.assert_array_equal(gt, np.float32(1 / 35) * -(2 * d if loss == "mse_loss" else np.sign(d)))
