"""Each fused optimizer step on the cpu path against the same update written in plain NumPy (in-place ufuncs,
the fastest formulation we could write), over an MLP's parameters (784-256-10, float32: 203 530 elements in
4 tensors), in the same run. Compare the means within one group: the machine is shared.

    python -m pytest bench/test_optim_bench.py --benchmark-only --benchmark-group-by=group

Launches per step on cuda are counted by `python bench/launch_counts.py --optimizers` (one per group and dtype).
"""

import math

import numpy as np
import pytest

import tritensor as tt

SHAPES = [(256, 784), (256,), (10, 256), (10,)]
LR = 1e-3


def _arrays(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


# ---------------------------------------------------------------- plain NumPy steps (t counts from 1)
def _sgd(params, grads, state, t):
    for p, g, buf in zip(params, grads, state.setdefault("buf", [np.zeros_like(p) for p in params])):
        buf *= 0.9
        buf += g
        p -= LR * buf


def _adam_moments(params, grads, state, b1=0.9, b2=0.999):
    ms = state.setdefault("m", [np.zeros_like(p) for p in params])
    vs = state.setdefault("v", [np.zeros_like(p) for p in params])
    for g, m, v in zip(grads, ms, vs):
        m += (g - m) * (1 - b1)
        v *= b2
        v += (1 - b2) * g * g
    return ms, vs


def _adam(params, grads, state, t, decay=0.0):
    ms, vs = _adam_moments(params, grads, state)
    step_size, bc2 = LR / (1 - 0.9 ** t), math.sqrt(1 - 0.999 ** t)
    for p, m, v in zip(params, ms, vs):
        if decay:
            p *= 1 - LR * decay
        denom = np.sqrt(v)
        denom /= bc2
        denom += 1e-8
        p -= step_size * (m / denom)


def _adamw(params, grads, state, t):
    _adam(params, grads, state, t, decay=1e-2)


def _adagrad(params, grads, state, t):
    for p, g, s in zip(params, grads, state.setdefault("sum", [np.zeros_like(p) for p in params])):
        s += g * g
        std = np.sqrt(s)
        std += 1e-10
        p -= 1e-2 * (g / std)


def _rmsprop(params, grads, state, t):
    for p, g, s in zip(params, grads, state.setdefault("sq", [np.zeros_like(p) for p in params])):
        s *= 0.99
        s += 0.01 * g * g
        avg = np.sqrt(s)
        avg += 1e-8
        p -= LR * (g / avg)


def _adadelta(params, grads, state, t):
    sqs = state.setdefault("sq", [np.zeros_like(p) for p in params])
    accs = state.setdefault("acc", [np.zeros_like(p) for p in params])
    for p, g, s, a in zip(params, grads, sqs, accs):
        s *= 0.9
        s += 0.1 * g * g
        delta = np.sqrt(a + 1e-6)
        delta /= np.sqrt(s + 1e-6)
        delta *= g
        a *= 0.9
        a += 0.1 * delta * delta
        p -= 1.0 * delta


def _adamax(params, grads, state, t):
    ms = state.setdefault("m", [np.zeros_like(p) for p in params])
    us = state.setdefault("u", [np.zeros_like(p) for p in params])
    clr = 2e-3 / (1 - 0.9 ** t)
    for p, g, m, u in zip(params, grads, ms, us):
        m += (g - m) * 0.1
        u *= 0.999
        np.maximum(u, np.abs(g) + 1e-8, out=u)
        p -= clr * (m / u)


def _nadam(params, grads, state, t):
    ms, vs = _adam_moments(params, grads, state)
    mu = 0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3))
    mu_next = 0.9 * (1 - 0.5 * 0.96 ** ((t + 1) * 4e-3))
    prod = state["mu_product"] = state.get("mu_product", 1.0) * mu
    bc2 = 1 - 0.999 ** t
    for p, g, m, v in zip(params, grads, ms, vs):
        denom = v / bc2
        np.sqrt(denom, out=denom)
        denom += 1e-8
        p -= 2e-3 * (1 - mu) / (1 - prod) * (g / denom)
        p -= 2e-3 * mu_next / (1 - prod * mu_next) * (m / denom)


def _radam(params, grads, state, t):
    ms, vs = _adam_moments(params, grads, state)
    bc1, bc2 = 1 - 0.9 ** t, 1 - 0.999 ** t
    rho_inf = 2 / (1 - 0.999) - 1
    rho_t = rho_inf - 2 * t * 0.999 ** t / bc2
    for p, m, v in zip(params, ms, vs):
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            denom = np.sqrt(v)
            denom += 1e-8
            p -= (m / bc1) * LR * (math.sqrt(bc2) / denom) * rect
        else:
            p -= (m / bc1) * LR


def _asgd(params, grads, state, t):
    eta, mu = state.get("eta", 1e-2), state.get("mu", 1.0)
    for p, g, ax in zip(params, grads, state.setdefault("ax", [np.zeros_like(p) for p in params])):
        p *= 1 - 1e-4 * eta
        p -= eta * g
        if mu != 1:
            ax += (p - ax) * mu
        else:
            np.copyto(ax, p)
    state["eta"] = 1e-2 / (1 + 1e-4 * 1e-2 * t) ** 0.75
    state["mu"] = 1 / max(1, t - 1e6)


def _rprop(params, grads, state, t):
    prevs = state.setdefault("prev", [np.zeros_like(p) for p in params])
    sizes = state.setdefault("size", [np.full_like(p, 1e-2) for p in params])
    for p, g, prev, size in zip(params, grads, prevs, sizes):
        sign = np.sign(g * prev)
        factor = np.where(sign > 0, np.float32(1.2), np.where(sign < 0, np.float32(0.5), np.float32(1.0)))
        size *= factor
        np.clip(size, 1e-6, 50, out=size)
        g = np.where(sign < 0, np.float32(0), g)
        p -= np.sign(g) * size
        np.copyto(prev, g)


STEPS = {"sgd": (_sgd, dict(lr=LR, momentum=0.9)), "adam": (_adam, dict(lr=LR)), "adamw": (_adamw, dict(lr=LR)),
         "adagrad": (_adagrad, {}), "rmsprop": (_rmsprop, dict(lr=LR)), "adadelta": (_adadelta, {}),
         "adamax": (_adamax, {}), "nadam": (_nadam, {}), "radam": (_radam, dict(lr=LR)), "asgd": (_asgd, {}),
         "rprop": (_rprop, {})}
CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adagrad": "Adagrad", "rmsprop": "RMSprop",
           "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam", "asgd": "ASGD",
           "rprop": "Rprop"}


def _numpy_runner(name):
    step, _ = STEPS[name]
    params, grads, state, t = _arrays(0), _arrays(1), {}, [0]

    def run():
        t[0] += 1
        step(params, grads, state, t[0])

    return run, params


def _tritensor_runner(name):
    _, options = STEPS[name]
    params = [tt.tensor(a, requires_grad=True) for a in _arrays(0)]
    for p, g in zip(params, _arrays(1)):
        p.grad = tt.tensor(g)
    opt = getattr(tt.optim, CLASSES[name])(params, **options)
    return opt.step, params


ROUNDS, WARMUP = 30, 2


@pytest.mark.parametrize("name", list(STEPS))
@pytest.mark.parametrize("impl", ["numpy", "tritensor"])
def test_optimizer_step(benchmark, name, impl):
    benchmark.group = f"optim-step-{name}-mlp-fp32"
    run, params = (_numpy_runner if impl == "numpy" else _tritensor_runner)(name)
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP)
    if impl == "tritensor":  # the baseline is the same update: both moved the parameters alike
        reference, expected = _numpy_runner(name)
        for _ in range(ROUNDS + WARMUP):
            reference()
        for p, e in zip(params, expected):
            np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-4, atol=1e-5)
