"""Is numexpr worth a dependency for the cpu path? Three long elementwise chains the cpu references run, on
(256, 4096) and (784, 256) float32 (an MLP's first weight), each as the in-place NumPy formulation the references
use and as one numexpr expression (1 and 2 threads), same run:

- Adam's update (torch.optim.Adam, one parameter): m, v and p updated in place;
- GELU's tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
- layer_norm's normalise-scale-shift, (x - mean) * rstd * w + b.

The exact GELU is absent: numexpr has no erf. Constants go in as float32 arrays (a Python float would make numexpr
compute the whole expression in float64). numexpr is timed only where it is installed (it is no dependency of
tritensor: on the measured 2-core host it lost every group, see the module's groups); the NumPy side always runs.
Each numexpr result is checked against NumPy's.

    OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_numexpr_bench.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

HAVE_NUMEXPR = importlib.util.find_spec("numexpr") is not None
ENGINES = ["numpy"] + (["numexpr-1t", "numexpr-2t"] if HAVE_NUMEXPR else [])
SHAPES = [(256, 4096), (784, 256)]
F32 = {k: np.float32(v) for k, v in dict(b1=0.9, w1=0.1, b2=0.999, w2=0.001, lr=1e-3, bc=math.sqrt(1 - 0.999),
                                         eps=1e-8, half=0.5, one=1.0, beta=math.sqrt(2 / math.pi),
                                         kappa=0.044715).items()}


@pytest.fixture(scope="module", params=SHAPES, ids=[f"{m}x{n}" for m, n in SHAPES])
def arrays(request):
    rng = np.random.default_rng(0)
    shape = request.param
    x = rng.standard_normal(shape, dtype=np.float32)
    return dict(x=x, g=x * np.float32(0.1), w=rng.standard_normal(shape[-1], dtype=np.float32),
                b=rng.standard_normal(shape[-1], dtype=np.float32),
                mean=x.mean(-1, keepdims=True), rstd=(1 / x.std(-1, keepdims=True)).astype(np.float32))


# ---------------------------------------------------------------- NumPy, in place
def np_adam(p, g, m, v, s):
    np.subtract(g, m, out=s)
    s *= F32["w1"]
    m += s
    v *= F32["b2"]
    np.multiply(g, g, out=s)
    s *= F32["w2"]
    v += s
    np.sqrt(v, out=s)
    s /= F32["bc"]
    s += F32["eps"]
    np.divide(m, s, out=s)
    s *= F32["lr"]
    p -= s


def np_gelu_tanh(x):
    u = x * x
    u *= F32["kappa"]
    u += F32["one"]
    u *= x
    u *= F32["beta"]
    np.tanh(u, out=u)
    u += F32["one"]
    u *= x
    u *= F32["half"]
    return u


def np_ln_affine(x, mean, rstd, w, b):
    y = np.subtract(x, mean)
    y *= rstd
    y *= w
    y += b
    return y


# ---------------------------------------------------------------- numexpr, one expression each
def ne_adam(ne, p, g, m, v):
    c = F32
    ne.evaluate("m + (g - m) * w1", local_dict=dict(m=m, g=g, w1=c["w1"]), out=m)
    ne.evaluate("v * b2 + g * g * w2", local_dict=dict(v=v, g=g, b2=c["b2"], w2=c["w2"]), out=v)
    ne.evaluate("p - lr * m / (sqrt(v) / bc + eps)", local_dict=dict(p=p, m=m, v=v, lr=c["lr"], bc=c["bc"],
                                                                     eps=c["eps"]), out=p)


def ne_gelu_tanh(ne, x):
    c = F32
    return ne.evaluate("half * x * (one + tanh(beta * x * (one + kappa * x * x)))",
                       local_dict=dict(x=x, half=c["half"], one=c["one"], beta=c["beta"], kappa=c["kappa"]))


def ne_ln_affine(ne, x, mean, rstd, w, b):
    return ne.evaluate("(x - mean) * rstd * w + b", local_dict=dict(x=x, mean=mean, rstd=rstd, w=w, b=b))


def _numexpr(engine: str):
    import numexpr

    numexpr.set_num_threads(int(engine.split("-")[1][0]))
    return numexpr


@pytest.mark.parametrize("engine", ENGINES)
def test_adam_update(benchmark, arrays, engine):
    benchmark.group = f"numexpr-adam-{arrays['x'].shape}"
    state = [arrays["x"].copy(), arrays["g"], np.zeros_like(arrays["x"]), np.zeros_like(arrays["x"])]
    want = [a.copy() for a in state]
    np_adam(*want, np.empty_like(arrays["x"]))
    once = [a.copy() for a in state]
    if engine == "numpy":
        np_adam(*once, np.empty_like(arrays["x"]))
        benchmark(np_adam, *state, np.empty_like(arrays["x"]))
    else:
        ne = _numexpr(engine)
        ne_adam(ne, *once)
        benchmark(ne_adam, ne, *state)
    for got, expected in zip(once, want):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("engine", ENGINES)
def test_gelu_tanh(benchmark, arrays, engine):
    benchmark.group = f"numexpr-gelu_tanh-{arrays['x'].shape}"
    x = arrays["x"]
    got = benchmark(np_gelu_tanh, x) if engine == "numpy" else benchmark(ne_gelu_tanh, _numexpr(engine), x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np_gelu_tanh(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_layer_norm_affine(benchmark, arrays, engine):
    benchmark.group = f"numexpr-ln_affine-{arrays['x'].shape}"
    args = [arrays[k] for k in ("x", "mean", "rstd", "w", "b")]
    got = benchmark(np_ln_affine, *args) if engine == "numpy" else benchmark(ne_ln_affine, _numexpr(engine), *args)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np_ln_affine(*args), rtol=1e-5, atol=1e-5)
