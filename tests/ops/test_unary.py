"""Unary math ops of every unary family (tritensor/ops/unary.py, exponential.py, trigonometric.py, special.py) on
cpu and interpreted cuda against NumPy float64: every dtype, non-contiguous inputs, integer promotion, in-
place forms, backward (fused and tensor-op), gradcheck and gradgradcheck."""

import math

import numpy as np
import pytest
from tritensor.kernels import elementwise as KE
from tritensor.kernels import exponential, special, trigonometric, unary

import tritensor as tt

DEVICES = ["cpu", "cuda"]
FLOATS = [tt.float32, tt.float64, tt.float16, tt.bfloat16]
# Forward tolerance: a few ulp of the dtype (16-bit floats are computed in fp32 and rounded once).
TOL = {tt.float32: 1e-5, tt.float64: 1e-12, tt.float16: 1e-3, tt.bfloat16: 8e-3}
LN2, LN10 = math.log(2.0), math.log(10.0)
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


# name -> (float64 reference, derivative in x, input range)
OPS = {
    "abs": (np.abs, np.sign, (-3, 3)),
    "sign": (np.sign, None, (-3, 3)),
    "exp": (np.exp, np.exp, (-3, 3)),
    "exp2": (np.exp2, lambda a: np.exp2(a) * LN2, (-3, 3)),
    "expm1": (np.expm1, np.exp, (-3, 3)),
    "log": (np.log, lambda a: 1 / a, (0.2, 4)),
    "log2": (np.log2, lambda a: 1 / (a * LN2), (0.2, 4)),
    "log10": (np.log10, lambda a: 1 / (a * LN10), (0.2, 4)),
    "log1p": (np.log1p, lambda a: 1 / (1 + a), (-0.8, 3)),
    "sqrt": (np.sqrt, lambda a: 0.5 / np.sqrt(a), (0.2, 4)),
    "rsqrt": (lambda a: 1 / np.sqrt(a), lambda a: -0.5 * a ** -1.5, (0.2, 4)),
    "square": (np.square, lambda a: 2 * a, (-3, 3)),
    "reciprocal": (np.reciprocal, lambda a: -1 / (a * a), (0.3, 3)),
    "sin": (np.sin, np.cos, (-3, 3)),
    "cos": (np.cos, lambda a: -np.sin(a), (-3, 3)),
    "tan": (np.tan, lambda a: 1 + np.tan(a) ** 2, (-1.2, 1.2)),
    "asin": (np.arcsin, lambda a: 1 / np.sqrt(1 - a * a), (-0.95, 0.95)),
    "acos": (np.arccos, lambda a: -1 / np.sqrt(1 - a * a), (-0.95, 0.95)),
    "atan": (np.arctan, lambda a: 1 / (1 + a * a), (-4, 4)),
    "sinh": (np.sinh, np.cosh, (-3, 3)),
    "cosh": (np.cosh, np.sinh, (-3, 3)),
    "tanh": (np.tanh, lambda a: 1 - np.tanh(a) ** 2, (-3, 3)),
    "sigmoid": (_sigmoid, lambda a: _sigmoid(a) * (1 - _sigmoid(a)), (-4, 4)),
    "erf": (_erf, lambda a: 2 / math.sqrt(math.pi) * np.exp(-a * a), (-2, 2)),
    "floor": (np.floor, None, (-3, 3)),
    "ceil": (np.ceil, None, (-3, 3)),
    "round": (np.rint, None, (-3, 3)),
    "trunc": (np.trunc, None, (-3, 3)),
}
DIFFERENTIABLE = [name for name, (_, d, _) in OPS.items() if d is not None]
INT_KEEPING = ["abs", "sign", "square", "floor", "ceil", "round", "trunc"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _sample(rng, name, shape, np_dtype=np.float64):
    lo, hi = OPS[name][2]
    a = rng.uniform(lo, hi, shape)
    if name == "reciprocal":
        a *= rng.choice([-1, 1], shape)
    if name == "abs":  # keep away from the kink at 0, where finite differences are meaningless
        a = np.where(np.abs(a) < 0.1, 0.5, a)
    return a.astype(np_dtype)


# Every unary family's kernel table.
KERNEL_OPS = {**unary.OPS, **exponential.OPS, **trigonometric.OPS, **special.OPS}


def test_registry_covers_the_kernel_table():
    assert set(OPS) == set(KERNEL_OPS)
    for name in OPS:
        assert getattr(tt, name) is not None and hasattr(tt.Tensor, name) and hasattr(tt.Tensor, name + "_")
    assert tt.arcsin is tt.asin and tt.arccos is tt.acos and tt.arctan is tt.atan
    assert tt.fix is tt.trunc and tt.absolute is tt.abs


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(OPS))
def test_forward_all_float_dtypes_strided(rng, device, name):
    ref = OPS[name][0]
    for dtype in FLOATS:
        a = _sample(rng, name, (5, 3), dtype.np)
        t = tt.tensor(a, device=device).t()  # non-contiguous (3, 5)
        expected = ref(a.astype(np.float64).T)
        r = getattr(tt, name)(t)
        assert r.dtype is dtype and r.device == t.device and r.shape == (3, 5)
        tol = TOL[dtype]
        np.testing.assert_allclose(_np(r), expected, rtol=tol, atol=tol)
        # method and in-place forms give the same values; the in-place form writes through the strided view
        np.testing.assert_array_equal(_np(getattr(t, name)()), _np(r))
        v0 = t._version
        assert getattr(t, name + "_")() is t and t._version > v0
        np.testing.assert_array_equal(_np(t), _np(r))


@pytest.mark.parametrize("device", DEVICES)
def test_stride_zero_and_sliced_inputs(rng, device):
    a = rng.uniform(0.5, 2.0, (4,)).astype(np.float32)
    t = tt.tensor(a, device=device)
    e = t.unsqueeze(0).expand(3, 4)  # stride 0 along dim 0
    np.testing.assert_allclose(_np(tt.log(e)), np.log(np.broadcast_to(a.astype(np.float64), (3, 4))), rtol=1e-6)
    m = tt.tensor(rng.uniform(-2, 2, (6, 7)).astype(np.float32), device=device)
    s = m[1::2, ::3]
    np.testing.assert_allclose(_np(s.sin()), np.sin(_np(m)[1::2, ::3]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_zero_dim_and_empty(device):
    assert tt.exp(tt.tensor(1.0, device=device)).item() == pytest.approx(math.e, rel=1e-6)
    e = tt.sqrt(tt.zeros(0, 3, device=device))
    assert e.shape == (0, 3) and e.dtype is tt.float32


@pytest.mark.parametrize("device", DEVICES)
def test_special_values(device):
    vals = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, -1.0, 0.5, 1.5, 2.5, -0.5, -2.5]
    a = np.array(vals, np.float32)
    t = tt.tensor(a, device=device)
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, ref in [("sign", lambda x: np.where(np.isnan(x), 0, np.sign(x))), ("round", np.rint),
                          ("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("tanh", np.tanh),
                          ("sigmoid", _sigmoid), ("floor", np.floor), ("trunc", np.trunc), ("atan", np.arctan),
                          ("expm1", np.expm1), ("reciprocal", np.reciprocal)]:
            np.testing.assert_allclose(_np(getattr(tt, name)(t)), ref(a.astype(np.float64)), rtol=1e-6, atol=1e-7,
                                       err_msg=name)
    assert tt.round(t).tolist()[6:] == [0.0, 2.0, 2.0, -0.0, -2.0]  # half to even


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.int8, tt.uint8, tt.int32, tt.int64])
def test_integer_inputs_keep_dtype(device, dtype):
    a = np.array([[0, 1, 7], [3, 2, 5]] if dtype is tt.uint8 else [[-5, 0, 7], [3, -2, 11]], dtype.np)
    t = tt.tensor(a, device=device)
    for name in INT_KEEPING:
        r = getattr(tt, name)(t)
        assert r.dtype is dtype, name
        expected = {"abs": np.abs, "sign": np.sign, "square": np.square}.get(name, lambda x: x)(a)
        np.testing.assert_array_equal(r.cpu().numpy(), expected.astype(dtype.np), err_msg=name)
    c = t.clone()
    assert c.abs_() is c and c.cpu().numpy().tolist() == np.abs(a).tolist()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.int32, tt.int64, tt.uint8, tt.bool])
def test_integer_inputs_promote_to_default_float(device, dtype):
    a = np.array([0, 1, 1, 0] if dtype is tt.bool else [0, 1, 2, 3], dtype.np)
    t = tt.tensor(a, device=device)
    for name in ["exp", "sin", "sqrt", "sigmoid", "reciprocal", "log1p", "erf", "tanh"]:
        with np.errstate(divide="ignore" if name == "reciprocal" else "warn"):  # reciprocal(0) = inf on purpose
            r = getattr(tt, name)(t)
            expected = OPS[name][0](a.astype(np.float64))
        assert r.dtype is tt.float32, name
        np.testing.assert_allclose(_np(r), expected, rtol=1e-6, atol=1e-7)
    tt.set_default_dtype(tt.float64)
    try:
        assert tt.exp(t).dtype is tt.float64 and tt.exp(t).tolist()[1] == math.e
    finally:
        tt.set_default_dtype(tt.float32)
    with pytest.raises(RuntimeError, match="can't be cast"):
        t.clone().exp_()


@pytest.mark.parametrize("device", DEVICES)
def test_bool_inputs(device):
    b = tt.tensor([True, False, True], device=device)
    assert tt.abs(b).dtype is tt.bool and tt.abs(b).tolist() == [True, False, True]
    assert tt.sign(b).dtype is tt.bool and tt.sign(b).tolist() == [True, False, True]
    sq = tt.square(b)
    assert sq.dtype is tt.int64 and sq.tolist() == [1, 0, 1]  # pow(bool, 2) promotes to int64
    for name in ["floor", "ceil", "round", "trunc"]:
        with pytest.raises(RuntimeError, match=f'"{name}" not implemented for \'Bool\''):
            getattr(tt, name)(b)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16, tt.bfloat16])
def test_round_decimals(rng, device, dtype):
    a = (rng.standard_normal((3, 4)) * 300).astype(dtype.np)
    t = tt.tensor(a, device=device)
    op = np.float64 if dtype is tt.float64 else np.float32  # PyTorch's opmath
    x = a.astype(op)
    for d in (2, 1, -1, -2):
        p = op(10.0 ** abs(d))
        expected = (np.rint(x / p) * p if d < 0 else np.rint(x * p) / p).astype(dtype.np)
        r = tt.round(t, decimals=d)
        assert r.dtype is dtype
        np.testing.assert_array_equal(r.cpu().numpy(), expected)
    c = t.clone()
    assert c.round_(decimals=-1) is c and c.cpu().numpy().tolist() == tt.round(t, decimals=-1).cpu().numpy().tolist()
    g = t.clone().requires_grad_()
    r = tt.round(g, decimals=1)
    assert r.grad_fn.name() == "RoundBackward1"
    r.sum().backward()
    assert _np(g.grad).tolist() == [[0.0] * 4] * 3


def test_round_decimals_on_integers_fails():
    with pytest.raises(RuntimeError, match="round_decimals"):
        tt.round(tt.tensor([15, 25]), decimals=-1)
    assert tt.round(tt.tensor([15, 25]), decimals=0).tolist() == [15, 25]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(OPS))
def test_backward_matches_derivative(rng, device, name):
    ref, deriv, _ = OPS[name]
    for dtype in (tt.float32, tt.float64):
        a = _sample(rng, name, (4, 3), dtype.np)
        g = rng.standard_normal((3, 4)).astype(dtype.np)
        x = tt.tensor(a, device=device, requires_grad=True)
        y = getattr(tt, name)(x.t())  # non-contiguous input; the gradient flows back through the view
        y.backward(tt.tensor(g, device=device))
        expected = np.zeros_like(a, np.float64) if deriv is None else (g * deriv(a.astype(np.float64).T)).T
        tol = 1e-5 if dtype is tt.float32 else 1e-12
        assert x.grad.dtype is dtype and x.grad.device == x.device
        np.testing.assert_allclose(_np(x.grad), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_backward_16_bit_matches_reference(rng, device):
    """fp16/bf16 gradients: the kernel's NumPy backward reference, fed what the op saved (its input, or the
    rounded output the device produced)."""
    for dtype in (tt.float16, tt.bfloat16):
        for name in DIFFERENTIABLE:
            op = KERNEL_OPS[name]
            a = _sample(rng, name, (5,), dtype.np)
            g = rng.standard_normal(5).astype(dtype.np)
            x = tt.tensor(a, device=device, requires_grad=True)
            y = getattr(tt, name)(x)
            y.backward(tt.tensor(g, device=device))
            saved = y.detach().cpu().numpy() if op.saves == "output" else a
            (expected,) = op.backward_ref(g, saved)
            assert x.grad.dtype is dtype
            np.testing.assert_allclose(_np(x.grad), expected.astype(np.float64), rtol=TOL[dtype], atol=TOL[dtype],
                                       err_msg=f"{name} {dtype}")


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck_and_gradgradcheck(rng, name):
    x = tt.tensor(_sample(rng, name, (2, 3)), requires_grad=True)
    fn = getattr(tt, name)
    assert tt.autograd.gradcheck(fn, [x])
    assert tt.autograd.gradgradcheck(fn, [x])


@pytest.mark.parametrize("device", DEVICES)
def test_create_graph_backward_equals_fused_backward(rng, device):
    """The tensor-op backward (used with create_graph=True) gives the fused kernel's first derivative (every op
    on cpu; on cuda, where each tensor op is an interpreted launch, a set covering each kind of formula)."""
    names = DIFFERENTIABLE + ["sign", "floor"] if device == "cpu" else ["exp", "log2", "rsqrt", "asin", "erf", "abs"]
    for name in names:
        x = tt.tensor(_sample(rng, name, (2, 3)), device=device, requires_grad=True)
        g = tt.tensor(rng.standard_normal((2, 3)), device=device)
        fn = getattr(tt, name)
        (fused,) = tt.autograd.grad(fn(x), x, g)
        (graph,) = tt.autograd.grad(fn(x), x, g, create_graph=True)
        np.testing.assert_allclose(_np(graph), _np(fused), rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("device", DEVICES)
def test_second_derivatives(device):
    a = np.array([0.3, 0.9, 1.7])
    cases = [("exp", np.exp), ("sin", lambda v: -np.sin(v)), ("log", lambda v: -1 / v ** 2),
             ("tanh", lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
             ("sigmoid", lambda v: _sigmoid(v) * (1 - _sigmoid(v)) * (1 - 2 * _sigmoid(v))),
             ("sqrt", lambda v: -0.25 * v ** -1.5)]
    for name, second in cases if device == "cpu" else cases[2:5]:
        x = tt.tensor(a, device=device, requires_grad=True)
        (d1,) = tt.autograd.grad(getattr(tt, name)(x).sum(), x, create_graph=True)
        np.testing.assert_allclose(_np(d1), OPS[name][1](a), rtol=1e-12, err_msg=name)
        (d2,) = tt.autograd.grad(d1.sum(), x)
        np.testing.assert_allclose(_np(d2), second(a), rtol=1e-12, err_msg=name)


def test_node_names():
    x = tt.tensor([0.5, 0.7], requires_grad=True)
    names = {n: getattr(tt, n)(x).grad_fn.name() for n in ["exp", "log1p", "expm1", "exp2", "square", "asin",
                                                             "sigmoid", "round"]}
    assert names == {"exp": "ExpBackward0", "log1p": "Log1PBackward0", "expm1": "Expm1Backward0",
                     "exp2": "Exp2Backward0", "square": "PowBackward0", "asin": "AsinBackward0",
                     "sigmoid": "SigmoidBackward0", "round": "RoundBackward0"}


@pytest.mark.parametrize("device", DEVICES)
def test_in_place_on_non_leaf_backward(rng, device):
    a = rng.uniform(-1, 1, 5)
    for name in ["sin", "exp", "abs", "sqrt"]:  # sin/abs save their input, exp/sqrt their output
        v = np.abs(a) + 0.1 if name == "sqrt" else a
        x = tt.tensor(v, device=device, requires_grad=True)
        y = x * 1.0
        assert getattr(y, name + "_")() is y and y.grad_fn is not None
        y.backward(tt.ones(5, dtype=tt.float64, device=device))
        np.testing.assert_allclose(_np(x.grad), OPS[name][1](v), rtol=1e-12, err_msg=name)


def test_in_place_refuses_leaf_requiring_grad():
    x = tt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.exp_()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        tt.sin_(x)
    with tt.no_grad():
        assert x.exp_() is x
    assert x.tolist() == pytest.approx([math.e] * 3)


def test_version_counter_guards_saved_tensors():
    x = tt.tensor([0.5, 1.0], requires_grad=True)
    y = x * 2
    z = y.sin()  # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    e = (x * 2).exp()  # saves its output
    e.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        e.sum().backward()
    y2 = x * 2
    e2 = y2.exp()  # exp does not save its input: changing it afterwards is harmless
    y2.add_(1)
    e2.sum().backward()
    np.testing.assert_allclose(_np(x.grad), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_out_argument_and_builtin_abs():
    x = tt.tensor([-1.5, 2.0])
    o = tt.empty(2)
    assert tt.exp(x, out=o) is o and o.tolist() == pytest.approx(np.exp([-1.5, 2.0]).tolist())
    assert abs(x).tolist() == [1.5, 2.0]
    assert x.arcsin is not None and x.fix().tolist() == [-1.0, 2.0]


def test_errors():
    with pytest.raises(TypeError, match=r"exp\(\): argument 'input' \(position 1\) must be Tensor, not float"):
        tt.exp(1.0)
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        tt.round([1.5])
    with pytest.raises(RuntimeError, match="shape"):
        tt.exp(tt.ones(3), out=tt.empty(2))


def test_cuda_runs_the_triton_kernels(monkeypatch):
    launches = []

    def counting(run):  # the strided, flat and row map kernels alike
        def counting_run(*args, **kwargs):
            launches.append(kwargs["OP"].__name__)
            return run(*args, **kwargs)

        return counting_run

    x = tt.tensor([0.5, 1.5], device="cuda", requires_grad=True)
    g = tt.ones(2, device="cuda")
    for kernel in KE.MAP_KERNELS:
        monkeypatch.setattr(kernel, "run", counting(kernel.run))
    tt.exp(x).backward(g)
    tt.log(x.detach())
    assert launches[:2] == ["_exp", "_exp_backward"] and "_log" in launches


# ---------------------------------------------------------------- the hot path (ops/unary.run_unrecorded)
@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("op", ["exp", "sqrt", "sin", "sigmoid", "relu", "gelu", "leaky_relu", "hardtanh", "elu"])
def test_hot_path_is_the_functions_path(op, device):
    # A floating-point input that records no graph skips the autograd Function: the same values, dtype,
    # layout and a plain result, as the Function's forward gives (it runs for an input that requires grad).
    import tritensor.nn.functional as F

    fn = getattr(F, op, None) or getattr(tt, op)
    values = np.linspace(0.1 if op == "sqrt" else -2.5, 2.5, 12)  # (sqrt's NaN warns: an error in the interpreter)
    for dtype in (tt.float32, tt.float16, tt.float64):
        x = tt.tensor(values.reshape(3, 4), dtype=dtype, device=device)
        strided = tt.tensor(values.reshape(4, 3), dtype=dtype, device=device).t()
        for operand in (x, strided, x[1:, 1:]):
            fast = fn(operand)
            general = fn(operand.detach().requires_grad_())
            assert fast.grad_fn is None and not fast.requires_grad and general.grad_fn is not None
            assert fast.dtype is general.dtype and fast.shape == general.shape and fast.is_contiguous()
            np.testing.assert_array_equal(fast.cpu().numpy(), general.detach().cpu().numpy(), err_msg=str(dtype))
    with tt.no_grad():  # grad mode off: no graph for an input that requires grad either
        assert fn(x.detach().requires_grad_()).grad_fn is None


def test_cuda_hot_path_leaves_other_inputs_to_the_general_path():
    a = tt.tensor([1, 4, 9], device="cuda")
    assert tt.sqrt(a).dtype is tt.float32  # an integer input is promoted first
    with pytest.raises(RuntimeError, match="Boolean inputs not supported for relu"):
        tt.relu(tt.tensor([True], device="cuda"))
    with pytest.raises(NotImplementedError, match="exp is not implemented for complex tensors"):
        tt.exp(tt.tensor([1 + 1j], device="cuda"))
    with pytest.raises(TypeError, match=r"exp\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        tt.exp([1.0])
    out = tt.empty(3, device="cuda")
    assert tt.exp(tt.ones(3, device="cuda"), out=out) is out  # out= takes the general path
    np.testing.assert_allclose(out.cpu().numpy(), np.full(3, math.e, np.float32), rtol=1e-6)
