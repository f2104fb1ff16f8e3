"""Activation functions (tritensor/ops/activations.py) on cpu and interpreted cuda against NumPy float64: every
dtype, non-contiguous inputs, parameters, in-place forms, backward (fused and tensor-op), values at the kinks,
gradcheck and gradgradcheck."""

import math

import numpy as np
import pytest
from tritensor.kernels import activations as KA

import tritensor as tt

DEVICES = ["cpu", "cuda"]
FLOATS = [tt.float32, tt.float64, tt.float16, tt.bfloat16]
TOL = {tt.float32: 1e-5, tt.float64: 1e-12, tt.float16: 1e-3, tt.bfloat16: 8e-3}
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
BETA, KAPPA = math.sqrt(2 / math.pi), 0.044715
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _softplus(a, beta=1.0, threshold=20.0):
    z = a * beta
    return np.where(z > threshold, a, (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta)


def _gelu_tanh_grad(a):
    t = np.tanh(BETA * (a + KAPPA * a ** 3))
    return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * BETA * (1 + 3 * KAPPA * a * a)


def _mish_grad(a):
    t = np.tanh(_softplus(a))
    return t + a * _sig(a) * (1 - t * t)


# case id -> (function name, kwargs, float64 forward, float64 derivative)
CASES = {
    "relu": ("relu", {}, lambda a: np.maximum(a, 0), lambda a: (a > 0) * 1.0),
    "relu6": ("relu6", {}, lambda a: np.clip(a, 0, 6), lambda a: ((a > 0) & (a < 6)) * 1.0),
    "gelu": ("gelu", {}, lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2))),
             lambda a: 0.5 * (1 + _erf(a / math.sqrt(2))) + a * np.exp(-a * a / 2) / math.sqrt(2 * math.pi)),
    "gelu_tanh": ("gelu", {"approximate": "tanh"}, lambda a: 0.5 * a * (1 + np.tanh(BETA * (a + KAPPA * a ** 3))),
                  _gelu_tanh_grad),
    "silu": ("silu", {}, lambda a: a * _sig(a), lambda a: _sig(a) * (1 + a * (1 - _sig(a)))),
    "softplus": ("softplus", {}, _softplus, _sig),
    "softplus_beta": ("softplus", {"beta": 2.0, "threshold": 3.0}, lambda a: _softplus(a, 2.0, 3.0),
                      lambda a: np.where(2 * a > 3, 1.0, _sig(2 * a))),
    "elu": ("elu", {}, lambda a: np.where(a > 0, a, np.expm1(a)), lambda a: np.where(a > 0, 1.0, np.exp(a))),
    "elu_alpha": ("elu", {"alpha": 0.3}, lambda a: np.where(a > 0, a, 0.3 * np.expm1(a)),
                  lambda a: np.where(a > 0, 1.0, 0.3 * np.exp(a))),
    "selu": ("selu", {}, lambda a: SELU_SCALE * np.where(a > 0, a, SELU_ALPHA * np.expm1(a)),
             lambda a: SELU_SCALE * np.where(a > 0, 1.0, SELU_ALPHA * np.exp(a))),
    "leaky_relu": ("leaky_relu", {}, lambda a: np.where(a > 0, a, 0.01 * a), lambda a: np.where(a > 0, 1.0, 0.01)),
    "leaky_relu_slope": ("leaky_relu", {"negative_slope": 0.2}, lambda a: np.where(a > 0, a, 0.2 * a),
                         lambda a: np.where(a > 0, 1.0, 0.2)),
    "hardtanh": ("hardtanh", {}, lambda a: np.clip(a, -1, 1), lambda a: (np.abs(a) < 1) * 1.0),
    "hardtanh_bounds": ("hardtanh", {"min_val": -0.5, "max_val": 2.0}, lambda a: np.clip(a, -0.5, 2.0),
                        lambda a: ((a > -0.5) & (a < 2.0)) * 1.0),
    "hardsigmoid": ("hardsigmoid", {}, lambda a: np.clip(a / 6 + 0.5, 0, 1), lambda a: (np.abs(a) < 3) / 6.0),
    "hardswish": ("hardswish", {}, lambda a: a * np.clip(a + 3, 0, 6) / 6,
                  lambda a: np.where(a < -3, 0.0, np.where(a > 3, 1.0, a / 3 + 0.5))),
    "mish": ("mish", {}, lambda a: a * np.tanh(_softplus(a)), _mish_grad),
    "logsigmoid": ("logsigmoid", {}, lambda a: np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a))),
                   lambda a: _sig(-a)),
}
INPLACE = {"relu", "relu6", "silu", "elu", "selu", "leaky_relu", "hardtanh", "hardsigmoid", "hardswish", "mish"}


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _call(case, x, **extra):
    name, kwargs, _, _ = CASES[case]
    return getattr(tt, name)(x, **kwargs, **extra)


def _sample(rng, shape, np_dtype=np.float64):
    """Values over [-7, 7] (past every kink: 0, +-1, +-3, 6) kept 0.05 away from the kinks."""
    a = rng.uniform(-7, 7, shape)
    for kink in (0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -0.5, 2.0, 1.5):
        a = np.where(np.abs(a - kink) < 0.05, kink + 0.3, a)
    return a.astype(np_dtype)


def test_exports_and_methods():
    for name in ["relu", "relu_", "relu6", "gelu", "silu", "softplus", "elu", "elu_", "selu", "selu_", "leaky_relu",
                 "leaky_relu_", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "mish", "logsigmoid"]:
        assert callable(getattr(tt, name)), name
    x = tt.tensor([-1.0, 2.0])
    assert x.relu().tolist() == [0.0, 2.0] and x.relu_() is x and x.tolist() == [0.0, 2.0]
    assert set(KA.OPS) <= {c[0] for c in CASES.values()}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(CASES))
def test_forward_all_float_dtypes_strided(rng, device, case):
    ref = CASES[case][2]
    for dtype in FLOATS:
        a = _sample(rng, (5, 3), dtype.np)
        t = tt.tensor(a, device=device).t()  # non-contiguous
        r = _call(case, t)
        assert r.dtype is dtype and r.device == t.device and r.shape == (3, 5)
        np.testing.assert_allclose(_np(r), ref(a.astype(np.float64).T), rtol=TOL[dtype], atol=TOL[dtype],
                                   err_msg=str(dtype))
        if CASES[case][0] in INPLACE:
            v0 = t._version
            assert _call(case, t, inplace=True) is t and t._version > v0
            np.testing.assert_array_equal(_np(t), _np(r))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(CASES))
def test_backward_matches_derivative(rng, device, case):
    deriv = CASES[case][3]
    for dtype in (tt.float32, tt.float64):
        a = _sample(rng, (4, 3), dtype.np)
        g = rng.standard_normal((3, 4)).astype(dtype.np)
        x = tt.tensor(a, device=device, requires_grad=True)
        _call(case, x.t()).backward(tt.tensor(g, device=device))
        tol = 1e-5 if dtype is tt.float32 else 1e-12
        assert x.grad.dtype is dtype
        np.testing.assert_allclose(_np(x.grad), (g * deriv(a.astype(np.float64).T)).T, rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_backward_16_bit_matches_reference(rng, device):
    """fp16/bf16 gradients against the kernel's NumPy backward reference fed what the op saved."""
    for dtype in (tt.float16, tt.bfloat16):
        for case, (name, kwargs, _, _) in CASES.items():
            op = KA.OPS["hardtanh" if name == "relu6" else name]
            params = {"min_val": 0.0, "max_val": 6.0} if name == "relu6" else kwargs
            a = _sample(rng, (6,), dtype.np)
            g = rng.standard_normal(6).astype(dtype.np)
            x = tt.tensor(a, device=device, requires_grad=True)
            y = _call(case, x)
            y.backward(tt.tensor(g, device=device))
            saved = y.detach().cpu().numpy() if op.saves == "output" else a
            (expected,) = op.backward_ref(g, saved, **params)
            assert x.grad.dtype is dtype
            np.testing.assert_allclose(_np(x.grad), expected.astype(np.float64), rtol=TOL[dtype], atol=TOL[dtype],
                                       err_msg=f"{case} {dtype}")


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_at_the_kinks(device):
    """PyTorch's one-sided choices: relu'(0) = 0, leaky'(0) = slope, elu'(0) = alpha, hardtanh' = 0 at the
    bounds, hardsigmoid' = 0 at +-3, hardswish'(-3) = 0 and hardswish'(3) = 1."""
    cases = [
        (lambda x: tt.relu(x), [0.0], [0.0]),
        (lambda x: tt.leaky_relu(x, 0.2), [0.0], [0.2]),
        (lambda x: tt.elu(x, 0.7), [0.0], [0.7]),
        (lambda x: tt.hardtanh(x), [-1.0, 1.0], [0.0, 0.0]),
        (lambda x: tt.relu6(x), [0.0, 6.0], [0.0, 0.0]),
        (lambda x: tt.hardsigmoid(x), [-3.0, 3.0], [0.0, 0.0]),
        (lambda x: tt.hardswish(x), [-3.0, 3.0], [0.0, 1.0]),
    ]
    for fn, at, expected in cases:
        # The fused kernel and the tensor-op backward agree at the kinks (the latter checked on cpu: it is made of
        # the same kernels on cuda).
        for create_graph in (False, True) if device == "cpu" else (False,):
            x = tt.tensor(at, device=device, requires_grad=True)
            (g,) = tt.autograd.grad(fn(x).sum(), x, create_graph=create_graph)
            assert _np(g).tolist() == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_special_values(device):
    a = np.array([float("nan"), 100.0, -100.0, 0.0], np.float32)
    t = tt.tensor(a, device=device)
    assert math.isnan(tt.relu(t)[0].item()) and math.isnan(tt.hardtanh(t)[0].item())
    np.testing.assert_allclose(_np(tt.softplus(t))[1:], [100.0, 0.0, math.log(2)], atol=1e-7)
    np.testing.assert_allclose(_np(tt.logsigmoid(t))[1:], [0.0, -100.0, -math.log(2)], atol=1e-6)
    np.testing.assert_allclose(_np(tt.mish(t))[1:], [100.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(_np(tt.silu(t))[1:], [100.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(_np(tt.selu(t))[1:], [SELU_SCALE * 100, -SELU_SCALE * SELU_ALPHA, 0.0], rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.int32, tt.int64, tt.uint8])
def test_relu_keeps_integers_others_refuse(device, dtype):
    a = np.array([0, 3, 200] if dtype is tt.uint8 else [-4, 0, 7], dtype.np)
    t = tt.tensor(a, device=device)
    r = tt.relu(t)
    assert r.dtype is dtype and r.cpu().numpy().tolist() == np.maximum(a, 0).tolist()
    name = {tt.int32: "Int", tt.int64: "Long", tt.uint8: "Byte"}[dtype]
    for fn in ("gelu", "silu", "softplus", "elu", "leaky_relu", "mish", "logsigmoid", "hardswish"):
        with pytest.raises(RuntimeError, match=f"\"{fn}\" not implemented for '{name}'"):
            getattr(tt, fn)(t)
    with pytest.raises(RuntimeError, match="Boolean inputs not supported for relu"):
        tt.relu(tt.tensor([True], device=device))


def test_argument_errors():
    x = tt.randn(3)
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        tt.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        tt.hardtanh(x, 1.0, -1.0)
    with pytest.raises(TypeError, match=r"relu\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        tt.relu(3)


@pytest.mark.parametrize("case", list(CASES))
def test_gradcheck_and_gradgradcheck(rng, case):
    x = tt.tensor(_sample(rng, (2, 3)), requires_grad=True)
    fn = lambda v: _call(case, v)
    assert tt.autograd.gradcheck(fn, [x])
    assert tt.autograd.gradgradcheck(fn, [x])


@pytest.mark.parametrize("device", DEVICES)
def test_create_graph_backward_equals_fused_backward(rng, device):
    """The tensor-op backward (create_graph=True) gives the fused kernel's first derivative (every case on cpu;
    on cuda, where each tensor op is an interpreted launch, a set covering each kind of formula)."""
    cases = list(CASES) if device == "cpu" else ["gelu_tanh", "softplus_beta", "elu_alpha", "hardswish", "mish"]
    for case in cases:
        x = tt.tensor(_sample(rng, (2, 4)), device=device, requires_grad=True)
        g = tt.tensor(rng.standard_normal((2, 4)), device=device)
        (fused,) = tt.autograd.grad(_call(case, x), x, g)
        (graph,) = tt.autograd.grad(_call(case, x), x, g, create_graph=True)
        np.testing.assert_allclose(_np(graph), _np(fused), rtol=1e-12, atol=1e-14, err_msg=case)


@pytest.mark.parametrize("device", DEVICES)
def test_second_derivatives(device):
    a = np.array([-1.3, 0.4, 2.1])
    sp = _sig(a)
    second = {
        "silu": sp * (1 - sp) * (2 + a * (1 - 2 * sp)),
        "softplus": sp * (1 - sp),
        "gelu": np.exp(-a * a / 2) / math.sqrt(2 * math.pi) * (2 - a * a),
        "logsigmoid": -sp * (1 - sp),
        "elu": np.where(a > 0, 0.0, np.exp(a)),
    }
    for name, expected in second.items() if device == "cpu" else list(second.items())[1:3]:
        x = tt.tensor(a, device=device, requires_grad=True)
        (d1,) = tt.autograd.grad(getattr(tt, name)(x).sum(), x, create_graph=True)
        (d2,) = tt.autograd.grad(d1.sum(), x)
        np.testing.assert_allclose(_np(d2), expected, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("device", DEVICES)
def test_in_place_on_non_leaf_backward(rng, device):
    a = _sample(rng, (5,))
    for case in ["relu", "leaky_relu", "elu", "hardswish", "silu"]:  # relu saves its output, the others the input
        x = tt.tensor(a, device=device, requires_grad=True)
        y = x * 1.0
        assert _call(case, y, inplace=True) is y
        y.backward(tt.ones(5, dtype=tt.float64, device=device))
        np.testing.assert_allclose(_np(x.grad), CASES[case][3](a), rtol=1e-12, err_msg=case)
    x = tt.tensor(a, device=device, requires_grad=True)
    y = x * 1.0
    assert tt.relu_(y) is y and tt.leaky_relu_(y, 0.5) is y and tt.elu_(y) is y and tt.selu_(y) is y
    assert tt.hardtanh_(y, -0.5, 0.5) is y and y.grad_fn.name() == "HardtanhBackward0"


def test_in_place_refuses_leaf_requiring_grad():
    x = tt.ones(3, requires_grad=True)
    for fn in (lambda v: tt.relu(v, inplace=True), tt.relu_, lambda v: tt.silu(v, inplace=True), tt.elu_):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            fn(x)


def test_node_names():
    x = tt.tensor([0.5, -0.7], requires_grad=True)
    got = {case: _call(case, x).grad_fn.name() for case in ["relu", "gelu", "silu", "selu", "leaky_relu", "relu6",
                                                             "logsigmoid", "mish"]}
    assert got == {"relu": "ReluBackward0", "gelu": "GeluBackward0", "silu": "SiluBackward0", "selu": "EluBackward0",
                   "leaky_relu": "LeakyReluBackward0", "relu6": "HardtanhBackward0",
                   "logsigmoid": "LogSigmoidBackward0", "mish": "MishBackward0"}
