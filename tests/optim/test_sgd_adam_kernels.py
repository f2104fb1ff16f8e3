"""The fused SGD / Adam step rules' NumPy references (the cpu path) against a plain float64 transcription of
PyTorch's documented algorithms; tests/ops/test_optim.py checks the kernels against these references."""

import numpy as np
import pytest
from tritensor.kernels import optim_adam, optim_multi, optim_sgd

from tritensor.optim.adam import adam_scalars


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


def sgd_ref(p, g, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """The SGD rule's reference called with an optimizer's options (as tritensor.optim.SGD builds its call)."""
    flags = sum(bit for bit, on in ((optim_sgd.MAXIMIZE, maximize), (optim_sgd.WEIGHT_DECAY, weight_decay != 0),
                                    (optim_sgd.MOMENTUM, momentum != 0), (optim_sgd.NESTEROV, nesterov)) if on)
    optim_sgd.sgd_ref(p, g, [] if buf is None else [buf],
                      (lr, weight_decay, momentum, 1 - dampening, float(first), 0, 0, 0), flags)


def adam_ref(p, g, states, *, step, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize):
    """The Adam rule's reference called with an optimizer's options."""
    flags = sum(bit for bit, on in ((optim_adam.MAXIMIZE, maximize), (optim_adam.WEIGHT_DECAY, weight_decay != 0),
                                    (optim_adam.DECOUPLED, decoupled), (optim_adam.AMSGRAD, amsgrad)) if on)
    optim_adam.adam_ref(p, g, states, adam_scalars(step, lr, beta1, beta2, eps, weight_decay), flags)


@pytest.mark.parametrize("case", range(len(SGD_CASES)))
def test_sgd_reference_is_the_documented_algorithm(rng, case):
    opts = SGD_CASES[case]
    p, b = rng.standard_normal(50), rng.standard_normal(50)
    first = opts["first"]
    for _ in range(4):
        g = rng.standard_normal(50)
        expected_p, expected_b = sgd_documented(p, g, b, lr=0.05, **{**opts, "first": first})
        sgd_ref(p, g, b if opts["momentum"] else None, lr=0.05, **{**opts, "first": first})
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
        adam_ref(p, g, [m, v] + ([vmax] if opts["amsgrad"] else []), **kw)
        for actual, expected in zip((p, m, v), exp[:3]):
            np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14)
        if opts["amsgrad"]:
            np.testing.assert_allclose(vmax, exp[3], rtol=1e-12, atol=1e-14)


def test_lerp_uses_pytorch_two_sided_formula():
    start, end = np.array([1.0, -3.0]), np.array([5.0, 2.0])
    np.testing.assert_array_equal(optim_multi.lerp_ref(start, end, 1.0), end)  # exact at weight 1 (the far side)
    np.testing.assert_array_equal(optim_multi.lerp_ref(start, end, 0.0), start)
    np.testing.assert_allclose(optim_multi.lerp_ref(start, end, 0.25), start + 0.25 * (end - start))


def test_specs_cover_every_case():
    names = [s.name for s in optim_sgd.SPECS + optim_adam.SPECS]
    assert len(names) == len(set(names))
    assert {s.kernel for s in optim_sgd.SPECS + optim_adam.SPECS} == {optim_multi.multi_tensor_step_kernel}
    assert "optim.adam[bf16:amsgrad]" in names and "optim.sgd[fp16:nesterov]" in names
