"""The cpu hot paths of the unary ops and activations (tritensor/ops/unary.py's `host_ready` / `run_plain` /
`plain_inplace`, kernels/unary.py's `host_fn` marks and `forward_ref`): each gives the general path's bits, for every
dtype and layout it takes and the ones it declines, and leaves recording, in-place, out=, the op hook and autocast as
they were."""

import numpy as np
import pytest
from tritensor.kernels import activations as KA
from tritensor.kernels import exponential, special, special_erf, trigonometric, unary
from tritensor.kernels.quiet_numpy import quiet_call

import tritensor as tt
from tritensor.nn import functional as F
from tritensor.ops import activations as A
from tritensor.ops import exponential as OX
from tritensor.ops import special as OS
from tritensor.ops import special_erf as OSE
from tritensor.ops import trigonometric as OT
from tritensor.ops import unary as OU
from tritensor.ops.autocast import op_hook

# (kernels OPS, ops module's FUNCTIONS) of every family registered through ops/unary.py's public functions.
FAMILIES = [(unary.OPS, OU.FUNCTIONS), (exponential.OPS, OX.FUNCTIONS), (trigonometric.OPS, OT.FUNCTIONS),
            ({**special.OPS, **special.SPECIAL_OPS}, OS.FUNCTIONS), (special_erf.OPS, OSE.FUNCTIONS)]
OPS = {name: (op, functions[name]) for ops, functions in FAMILIES for name, op in ops.items()}
MARKED = sorted(name for name, (op, _) in OPS.items() if getattr(op.forward_ref, "host_fn", None) is not None)
SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 0.5, 1.0, -1.0, 1e30, -1e30, 1e-40, 0.9999]


def _public(name: str):
    return getattr(tt, name, None) or getattr(tt.special, name)


def _values(n: int, dtype, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal(n) * 3
    a[:min(n, len(SPECIALS))] = SPECIALS[:n]
    with np.errstate(over="ignore"):
        return a.astype(dtype)


def _same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(f"u{got.dtype.itemsize}"), want.view(f"u{want.dtype.itemsize}"))


def _old_forward_ref(fn, x) -> np.ndarray:
    """forward_ref as it was before its hot-path rewrite: the bits the rewrite must keep."""
    x = np.asarray(x)
    return np.asarray(quiet_call(fn, unary._opmath(x))).astype(x.dtype, copy=False)


def test_the_marked_references_cover_the_families():
    assert {"abs", "sqrt", "exp", "log", "sin", "tanh", "sigmoid", "erf", "erfc"} <= set(MARKED)
    assert "sign" in MARKED and "round" in MARKED


@pytest.mark.parametrize("name", MARKED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (12,), (3, 5), (0,), (300,), (64, 64)])
def test_hot_path_gives_the_general_paths_bits(name, dtype, shape):
    op, function = OPS[name]
    a = _values(int(np.prod(shape)), dtype).reshape(shape)
    x = tt.tensor(a)
    assert OU.host_ready(x)
    got = _public(name)(x)
    assert got.dtype is x.dtype and got.shape == x.shape and got.is_contiguous()
    _same_bits(got.numpy(), op.forward_ref(a))  # the reference as the general path runs it
    _same_bits(got.numpy(), function.apply(tt.tensor(a), (), False).numpy())  # the Function's own forward
    _same_bits(got.numpy(), _old_forward_ref(op.forward_ref.host_fn, a))
    _same_bits(x.numpy(), a)  # the input is left as it was


def _declined_inputs():
    a = _values(12, np.float32).reshape(3, 4)
    return {
        "0-d": tt.tensor(np.float32(0.75)),
        "transposed": tt.tensor(a).t(),
        "sliced": tt.tensor(_values(24, np.float64))[::2],
        "float16": tt.tensor(np.clip(a, -6e4, 6e4).astype(np.float16)),
        "bfloat16": tt.tensor(a).to(tt.bfloat16),
        "int64": tt.tensor(np.arange(-4, 8)),
        "cuda": tt.tensor(a, device="cuda"),
    }


@pytest.mark.parametrize("case", ["0-d", "transposed", "sliced", "float16", "bfloat16", "int64", "cuda"])
def test_host_ready_declines(case):
    assert not OU.host_ready(_declined_inputs()[case])


@pytest.mark.parametrize("case", ["0-d", "transposed", "sliced", "float16", "bfloat16"])
@pytest.mark.parametrize("name", ["exp", "sqrt", "sin", "tanh", "sigmoid", "erf", "abs", "round", "rsqrt"])
def test_declined_floats_keep_their_results(case, name):
    x = _declined_inputs()[case]
    op, function = OPS[name]
    got = _public(name)(x)
    assert got.dtype is x.dtype and got.shape == x.shape and got.is_contiguous()
    host = np.array(x.numpy(), order="C") if x.dtype is not tt.bfloat16 else x.float().numpy()
    if x.dtype is tt.bfloat16:  # computed in fp32 and rounded once
        want = tt.tensor(_old_forward_ref(op.forward_ref.host_fn, host)).to(tt.bfloat16)
        _same_bits(got.float().numpy(), want.float().numpy())
    else:
        _same_bits(got.numpy(), _old_forward_ref(op.forward_ref.host_fn, host))
    _same_bits(got.float().numpy(), function.apply(x, (), False).float().numpy())


@pytest.mark.parametrize("name", ["exp", "sqrt", "log1p", "sigmoid", "abs", "floor", "sign", "square"])
def test_integer_and_bool_inputs_follow_pytorch(name):
    x = tt.tensor(np.arange(-3, 5))
    got = _public(name)(x)
    keeps = OPS[name][0].keeps_int
    assert got.dtype is (tt.int64 if keeps else tt.float32)
    want = OPS[name][0].forward_ref(np.arange(-3, 5) if keeps else np.arange(-3, 5).astype(np.float32))
    _same_bits(got.numpy(), want)
    b = tt.tensor([True, False])
    if name in ("abs", "sign"):
        assert _public(name)(b).tolist() == [True, False]
    elif name == "square":
        assert _public(name)(b).dtype is tt.int64
    elif keeps:
        with pytest.raises(RuntimeError, match="not implemented for 'Bool'"):
            _public(name)(b)
    else:
        assert _public(name)(b).dtype is tt.float32


def _ref_cases() -> list:
    """(dtype, fn) pairs forward_ref is given: the Tensor layer promotes integers for float-only ops (exp,
    sigmoid) and copies bool for sign, so those pairs never reach it."""
    cases = []
    for dtype in (np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_):
        for fn in (np.abs, np.exp, np.square, unary._sign_np, special.np_sigmoid_one, np.rint):
            floating = np.dtype(dtype).kind == "f"
            if floating or not (fn in (np.exp, special.np_sigmoid_one) or (fn is unary._sign_np and dtype is np.bool_)):
                cases.append((dtype, fn))
    return cases


@pytest.mark.parametrize("layout", ["contiguous", "0-d", "strided", "empty"])
@pytest.mark.parametrize(("dtype", "fn"), _ref_cases())
def test_forward_ref_keeps_the_old_bits(dtype, layout, fn):
    if np.dtype(dtype).kind == "f":
        a = _values(16, dtype)
    else:
        a = (np.arange(16) % 2 if dtype is np.bool_ else np.arange(16) * 7 - 40).astype(dtype)
    a = {"contiguous": a, "0-d": a[3].reshape(()) if a.ndim else a, "strided": a[::3], "empty": a[:0]}[layout]
    got, want = unary.forward_ref(fn, a), _old_forward_ref(fn, a)
    assert type(got) is np.ndarray and got.shape == a.shape
    _same_bits(got, want)


@pytest.mark.parametrize("n", [1, 8, 255, 256, 257, 1000])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_one_is_the_first_side_of_np_sigmoid(n, dtype):
    a = _values(n, dtype, seed=n)
    with np.errstate(all="ignore"):
        _same_bits(special.np_sigmoid_one(a), special.np_sigmoid(a)[0])
        _same_bits(special.np_sigmoid_one(a[0].reshape(())), special.np_sigmoid(a[0].reshape(()))[0])


# ---------------------------------------------------------------- recording, in-place, out=, hooks
@pytest.mark.parametrize("name,node", [("exp", "ExpBackward0"), ("sin", "SinBackward0"), ("sqrt", "SqrtBackward0"),
                                       ("sigmoid", "SigmoidBackward0")])
def test_recording_still_records_the_node(name, node):
    a = np.linspace(0.5, 2.0, 6)
    p = tt.tensor(a, requires_grad=True)
    y = _public(name)(p)
    assert y.requires_grad and y.grad_fn.name() == node
    y.sum().backward()
    d = {"exp": np.exp(a), "sin": np.cos(a), "sqrt": 0.5 / np.sqrt(a), "sigmoid": np.exp(-a) / (1 + np.exp(-a)) ** 2}
    np.testing.assert_allclose(p.grad.numpy(), d[name], rtol=1e-12)
    with tt.no_grad():
        assert not _public(name)(p).requires_grad
    assert not _public(name)(p.detach()).requires_grad


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "rsqrt", "abs"])
def test_inplace_writes_bumps_and_returns_self(name):
    a = np.linspace(0.25, 3.0, 10, dtype=np.float32)
    x = tt.tensor(a)
    version = x._version
    assert getattr(tt, name + "_")(x) is x
    _same_bits(x.numpy(), OPS[name][0].forward_ref(a))
    assert x._version == version + 1
    y = tt.tensor(a)
    assert getattr(y, name + "_")() is y and np.array_equal(y.numpy(), x.numpy())


def test_inplace_on_a_saved_tensor_fails_its_backward():
    p, x = tt.ones(3, requires_grad=True), tt.tensor([1.0, 2.0, 3.0])
    y = p * x
    x.exp_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_refusals_and_views_take_the_general_path():
    leaf = tt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        leaf.exp_()
    with tt.no_grad():
        leaf.exp_()
    np.testing.assert_allclose(leaf.detach().numpy(), np.full(3, np.e, np.float32), rtol=1e-6)
    base = tt.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    row = base[1]
    assert not OU.plain_inplace(row)
    row.sqrt_()
    _same_bits(base.numpy()[1], np.sqrt(np.arange(3, 6, dtype=np.float32)))
    p = tt.tensor([0.5, 1.5], requires_grad=True)
    h = p * 2
    h.exp_()  # recorded: the history moves onto h
    h.sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), 2 * np.exp([1.0, 3.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="can't be cast"):
        tt.tensor([1, 2]).exp_()


def test_out_writes_into_out():
    a = np.linspace(-2, 2, 8)
    x, out = tt.tensor(a), tt.empty(8, dtype=tt.float64)
    assert tt.exp(x, out=out) is out
    _same_bits(out.numpy(), np.exp(a))
    assert tt.sigmoid(x.float(), out=tt.empty(8)).dtype is tt.float32
    with pytest.raises(RuntimeError, match="out has shape"):
        tt.exp(x, out=tt.empty(3, dtype=tt.float64))


def test_op_hook_sees_the_hot_calls():
    seen = []

    def trace(name, call, args, kwargs):
        seen.append(name)
        return call(*args, **kwargs)

    a = tt.ones(4)
    previous = op_hook.install(trace)
    try:
        tt.exp(a)
        a.sigmoid()
        tt.sqrt(a)
        F.relu(a)
        tt.exp_(a)
    finally:
        op_hook.restore(trace, previous)
    assert seen == ["exp", "sigmoid", "sqrt", "F.relu", "exp_"]


def test_autocast_still_casts_and_the_cpu_region_computes_the_same():
    a = np.linspace(-1, 1, 5, dtype=np.float32)
    with tt.autocast("cpu"):
        _same_bits(tt.exp(tt.tensor(a)).numpy(), np.exp(a))
    with tt.autocast("cuda"):
        assert tt.exp(tt.tensor(a, device="cuda").half()).dtype is tt.float32  # exp is an fp32 op on cuda


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("call,args", [(F.relu, ()), (F.leaky_relu, (0.2,)), (F.hardtanh, (-0.5, 0.5)),
                                       (F.elu, (0.7,)), (F.selu, ()), (F.silu, ()), (F.hardsigmoid, ()),
                                       (F.hardswish, ()), (F.mish, ())])
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16])
def test_activation_inplace_equals_out_of_place(call, args, dtype):
    a = np.clip(_values(20, np.float64), -6e4, 6e4)  # (float16's range)
    want = call(tt.tensor(a, dtype=dtype), *args)
    x = tt.tensor(a, dtype=dtype)
    version = x._version
    assert call(x, *args, inplace=True) is x
    assert x._version == version + 1
    _same_bits(x.float().numpy(), want.float().numpy())


def test_activation_inplace_refusals_and_integers():
    leaf = tt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.relu_(leaf)
    x = tt.tensor([-2, 0, 3])
    assert F.relu(x, inplace=True) is x and x.tolist() == [0, 0, 3]
    with pytest.raises(RuntimeError, match="Boolean inputs not supported for relu"):
        F.relu_(tt.tensor([True]))
    p = tt.tensor([-1.0, 2.0], requires_grad=True)
    h = p * 1
    F.relu_(h)
    assert h.grad_fn.name() == "ReluBackward0"
    h.sum().backward()
    assert p.grad.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("name", list(KA.OPS))
def test_activation_results_keep_the_functions_bits(name):
    a = _values(40, np.float32).reshape(5, 8)
    params = {"leaky_relu": (0.01,), "hardtanh": (-1.0, 1.0), "elu": (1.0,), "softplus": (1.0, 20.0),
              "gelu": ("none",)}.get(name, ())
    got = A._run(name, tt.tensor(a), params)
    want = A.FUNCTIONS[name].apply(tt.tensor(a), params, False)
    assert got.dtype is tt.float32 and got.is_contiguous()
    _same_bits(got.numpy(), want.numpy())


def _node_state(y: tt.Tensor) -> tuple:
    node = y.grad_fn
    saved = tuple(None if t is None else (t.shape, t.dtype, t.detach().numpy().tobytes()) for t in node._saved or ())
    return (type(node), node.needs_input_grad, node._edges, getattr(node, "params", None), saved,
            node._saved_versions, y.requires_grad, y.dtype, y.detach().numpy().tobytes())


@pytest.mark.parametrize("name,params", [("exp", ()), ("sqrt", ()), ("sin", ()), ("sign", ()), ("sigmoid", ()),
                                         ("floor", ()), ("abs", ()), ("relu", ()), ("silu", ()), ("leaky_relu", (0.2,)),
                                         ("hardtanh", (-0.5, 0.5)), ("elu", (0.7,)), ("gelu", ("tanh",)),
                                         ("gelu", ("none",)), ("softplus", (2.0, 3.0))])
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16])
def test_recording_hot_path_records_what_apply_records(name, params, dtype):
    a = np.linspace(0.3, 2.5, 12).reshape(3, 4) * np.array([1, -1, 1, -1])
    base = tt.tensor(a, dtype=dtype, requires_grad=True)
    x = base * 1  # a non-leaf: its edge is a node, not AccumulateGrad
    if name in KA.OPS:
        function = A.FUNCTIONS[name]
        hot = A._run(name, x, params)
    else:
        function = OPS[name][1]
        hot = _public(name)(x)
    general = function.apply(x, params, False)
    assert _node_state(hot) == _node_state(general)
    grads = []
    for y in (hot, general):
        base.grad = None
        y.backward(tt.ones_like(y), retain_graph=True)  # (x = base * 1 is shared)
        grads.append(base.grad.numpy())
    _same_bits(*grads)


def test_recording_hot_path_supports_create_graph_and_version_checks():
    p = tt.tensor([0.5, 1.0, 2.0], dtype=tt.float64, requires_grad=True)
    (g,) = tt.autograd.grad(tt.exp(p).sum(), p, create_graph=True)
    (gg,) = tt.autograd.grad(g.sum(), p)
    np.testing.assert_allclose(gg.numpy(), np.exp([0.5, 1.0, 2.0]), rtol=1e-15)
    q = tt.tensor([0.5, 1.0], requires_grad=True)
    x = q * 2
    y = tt.sin(x)  # saves x
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("layout", ["transposed", "0-d", "sliced"])
@pytest.mark.parametrize("name,params", [("exp", ()), ("sin", ()), ("relu", ()), ("hardtanh", (-0.5, 0.5))])
def test_recording_of_declined_layouts_records_what_apply_records(layout, name, params):
    a = np.linspace(-1.5, 2.5, 12).reshape(3, 4)
    base = tt.tensor(a, requires_grad=True)
    x = {"transposed": base.t(), "0-d": base[1, 2], "sliced": base[:, ::2]}[layout]
    assert not OU.host_ready(x)
    function = A.FUNCTIONS[name] if name in KA.OPS else OPS[name][1]
    hot = A._run(name, x, params) if name in KA.OPS else _public(name)(x)
    assert _node_state(hot) == _node_state(function.apply(x, params, False))
