"""The fused SGD / Adam step kernels in Triton's interpreter against their NumPy references, and the
references against a plain float64 transcription of PyTorch's documented algorithms."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import optim as K

from tests.conftest import as_device

BF16 = ml_dtypes.bfloat16
# (rtol, atol) of a kernel result against the reference on the same inputs: fp32 math in both, so
# only fused multiply-adds and the last rounding to a 16-bit type differ.
TOL = {np.float32: (2e-6, 1e-7), np.float16: (2e-3, 1e-4), BF16: (1.6e-2, 1e-3), np.float64: (1e-7, 1e-9)}
SIZES = [1, 37, 1537]  # one element, one partial block, more than one program


def sgd_documented(p, g, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """torch.optim.SGD's documented algorithm, one step, float64; returns (p, buf)."""
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        buf = g.copy() if first else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return p - lr * g, buf


def adam_documented(p, g, m, v, vmax, *, step, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize):
    """torch.optim.Adam/AdamW's documented algorithm, one step, float64; returns (p, m, v, vmax)."""
    g = -g if maximize else g
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** step)
    if amsgrad:
        vmax = np.maximum(vmax, v)
        v_hat = vmax / (1 - beta2 ** step)
    else:
        v_hat = v / (1 - beta2 ** step)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v, vmax


def _state(rng, n, dt, positive=False):
    a = rng.standard_normal(n)
    return (np.abs(a) if positive else a).astype(dt)


SGD_CASES = [
    dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False, first=False),
    dict(momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=False, maximize=False, first=True),
    dict(momentum=0.9, dampening=0.1, weight_decay=0.0, nesterov=False, maximize=True, first=False),
    dict(momentum=0.8, dampening=0.0, weight_decay=0.05, nesterov=True, maximize=False, first=False),
]

ADAM_CASES = [
    dict(weight_decay=0.0, decoupled=False, amsgrad=False, maximize=False, beta1=0.9),
    dict(weight_decay=0.1, decoupled=False, amsgrad=True, maximize=False, beta1=0.9),
    dict(weight_decay=0.01, decoupled=True, amsgrad=False, maximize=True, beta1=0.9),
    dict(weight_decay=0.01, decoupled=True, amsgrad=True, maximize=False, beta1=0.3),  # lerp's other branch
]


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.float64])
@pytest.mark.parametrize("case", range(len(SGD_CASES)))
def test_sgd_kernel_matches_reference(rng, dt, case):
    opts = SGD_CASES[case]
    for n in SIZES:
        p, g, b = _state(rng, n, dt), _state(rng, n, dt), _state(rng, n, dt)
        p_ref, b_ref = p.copy(), b.copy()
        K.sgd_step_ref(p_ref, g, b_ref if opts["momentum"] else None, lr=0.1, **opts)
        p_dev, b_dev = p.copy(), b.copy()
        K.sgd_step(as_device(p_dev), as_device(g), as_device(b_dev) if opts["momentum"] else None, lr=0.1, **opts)
        rtol, atol = TOL[dt]
        np.testing.assert_allclose(p_dev.astype(np.float64), p_ref.astype(np.float64), rtol=rtol, atol=atol)
        np.testing.assert_allclose(b_dev.astype(np.float64), b_ref.astype(np.float64), rtol=rtol, atol=atol)
        if not opts["momentum"]:
            assert (b_dev == b).all()  # no buffer: untouched


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.float64])
@pytest.mark.parametrize("case", range(len(ADAM_CASES)))
def test_adam_kernel_matches_reference(rng, dt, case):
    opts = dict(ADAM_CASES[case])
    beta1 = opts.pop("beta1")
    for n in SIZES:
        p, g, m = _state(rng, n, dt), _state(rng, n, dt), _state(rng, n, dt)
        v, vmax = _state(rng, n, dt, positive=True), _state(rng, n, dt, positive=True)
        ref = [a.copy() for a in (p, m, v, vmax)]
        kw = dict(step=3, lr=0.01, beta1=beta1, beta2=0.99, eps=1e-8, **opts)
        K.adam_step_ref(ref[0], g, ref[1], ref[2], ref[3] if opts["amsgrad"] else None, **kw)
        dev = [a.copy() for a in (p, m, v, vmax)]
        K.adam_step(*(as_device(a) for a in (dev[0], g, dev[1], dev[2])),
                    as_device(dev[3]) if opts["amsgrad"] else None, **kw)
        rtol, atol = TOL[dt]
        for a, b in zip(dev, ref):
            np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol)
        if not opts["amsgrad"]:
            assert (dev[3] == vmax).all()


@pytest.mark.parametrize("case", range(len(SGD_CASES)))
def test_sgd_reference_is_the_documented_algorithm(rng, case):
    opts = SGD_CASES[case]
    p, b = rng.standard_normal(50), rng.standard_normal(50)
    first = opts["first"]
    for _ in range(4):
        g = rng.standard_normal(50)
        expected_p, expected_b = sgd_documented(p, g, b, lr=0.05, **{**opts, "first": first})
        K.sgd_step_ref(p, g, b if opts["momentum"] else None, lr=0.05, **{**opts, "first": first})
        np.testing.assert_allclose(p, expected_p, rtol=1e-13, atol=1e-15)
        if opts["momentum"]:
            np.testing.assert_allclose(b, expected_b, rtol=1e-13, atol=1e-15)
        first = False


@pytest.mark.parametrize("case", range(len(ADAM_CASES)))
def test_adam_reference_is_the_documented_algorithm(rng, case):
    opts = dict(ADAM_CASES[case])
    beta1 = opts.pop("beta1")
    p = rng.standard_normal(50)
    m, v, vmax = np.zeros(50), np.zeros(50), np.zeros(50)
    exp = [p.copy(), m.copy(), v.copy(), vmax.copy()]
    for step in range(1, 6):
        g = rng.standard_normal(50) * (3.0 if step == 2 else 1.0)  # a large step makes amsgrad's max matter
        kw = dict(step=step, lr=0.01, beta1=beta1, beta2=0.99, eps=1e-8, **opts)
        exp = list(adam_documented(*exp[:1], g, *exp[1:], **kw))
        K.adam_step_ref(p, g, m, v, vmax if opts["amsgrad"] else None, **kw)
        for actual, expected in zip((p, m, v), exp[:3]):
            np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14)
        if opts["amsgrad"]:
            np.testing.assert_allclose(vmax, exp[3], rtol=1e-12, atol=1e-14)


def test_lerp_uses_pytorch_two_sided_formula():
    start, end = np.array([1.0, -3.0]), np.array([5.0, 2.0])
    np.testing.assert_array_equal(K._lerp_ref(start, end, 1.0), end)  # exact at weight 1 (the far side)
    np.testing.assert_array_equal(K._lerp_ref(start, end, 0.0), start)
    np.testing.assert_allclose(K._lerp_ref(start, end, 0.25), start + 0.25 * (end - start))


def test_kernel_wrappers_check_operands():
    p = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="contiguous operands of one size"):
        K.sgd_step(as_device(p), as_device(np.zeros(5, np.float32)), None, lr=0.1, momentum=0, dampening=0,
                   weight_decay=0, nesterov=False, maximize=False, first=False)
    with pytest.raises(ValueError, match="momentum needs a buffer"):
        K.sgd_step(as_device(p), as_device(p), None, lr=0.1, momentum=0.9, dampening=0, weight_decay=0,
                   nesterov=False, maximize=False, first=False)
    with pytest.raises(ValueError, match="amsgrad needs"):
        K.adam_step(*(as_device(p) for _ in range(4)), None, step=1, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8,
                    weight_decay=0, decoupled=False, amsgrad=True, maximize=False)
    empty = np.zeros(0, np.float32)
    K.sgd_step(as_device(empty), as_device(empty), None, lr=0.1, momentum=0, dampening=0, weight_decay=0,
               nesterov=False, maximize=False, first=False)  # nothing to launch


def test_specs_cover_both_kernels():
    names = [s.name for s in K.SPECS]
    assert len(names) == len(set(names))
    assert {s.kernel for s in K.SPECS} == {K.sgd_kernel, K.adam_kernel}
    assert any("bf16" in n and "adam" in n for n in names)
