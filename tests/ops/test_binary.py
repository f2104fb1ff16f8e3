"""Binary arithmetic ops (div and its rounding modes, floor_divide, remainder, fmod) and, for every binary
family (pow, maximum/minimum, atan2, lerp too), on cpu and interpreted cuda against NumPy: broadcasting,
non-contiguous operands, numbers on either side, type promotion, zero divisors; backward on both devices
(fused and tensor-op paths); gradcheck / gradgradcheck in float64."""

import math

import numpy as np
import pytest
from tritensor.kernels import elementwise as KE
from tritensor.kernels.map_ops import BinaryOp

import tritensor as tt
from tests.ops.binary_helpers import DEVICES, FLOATS, _check, _np, _operands
from tritensor.autograd import gradcheck, gradgradcheck
from tritensor.ops import binary as B
from tritensor.ops import maximum as MX
from tritensor.ops import pow as P


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_float_ops_broadcast_and_strided(rng, device, dtype):
    ta, tb, a, b = _operands(rng, dtype, device)
    _check(ta / tb, a / b, dtype)
    _check(tt.div(ta, tb, rounding_mode="trunc"), np.trunc(a / b), dtype)
    _check(tt.div(ta, tb, rounding_mode="floor"), np.floor_divide(a, b), dtype)
    _check(ta // tb, np.floor_divide(a, b), dtype)
    _check(tt.remainder(ta, tb), np.remainder(a, b), dtype, scale=40)
    _check(tt.fmod(ta, tb), np.fmod(a, b), dtype, scale=40)
    _check(tt.maximum(ta, tb), np.maximum(a, b), dtype)
    _check(tt.minimum(tb, ta), np.minimum(a, b), dtype)
    _check(tt.atan2(ta, tb), np.arctan2(a, b), dtype)
    _check(tt.lerp(ta, tb.expand(4, 3), 0.3), a + 0.3 * (b - a), dtype)
    w = tt.tensor(np.linspace(-0.5, 1.5, 3).astype(dtype.np), device=device)
    _check(tt.lerp(ta, tb, w), a + _np(w) * (b - a), dtype, scale=8)
    pa, pb, a, b = _operands(rng, dtype, device, positive=True)
    _check(pa ** pb, a ** b, dtype, scale=8)
    _check(pa ** 2, a * a, dtype)
    _check(pa ** 0.5, np.sqrt(a), dtype)
    _check(pa ** -1, 1 / a, dtype)
    _check(pa ** 1.7, a ** 1.7, dtype, scale=8)
    _check(1.5 ** pb, 1.5 ** b, dtype, scale=8)
    assert (ta / tb).device == ta.device


@pytest.mark.parametrize("device", DEVICES)
def test_numbers_on_either_side_and_operators(device):
    x = tt.tensor([[1.0, -2.0, 4.0], [0.5, 3.0, -8.0]], device=device)
    n = x.cpu().numpy().astype(np.float64)
    np.testing.assert_allclose(_np(x / 2), n / 2)
    np.testing.assert_allclose(_np(2 / x), 2 / n)
    np.testing.assert_allclose(_np(x // 3), np.floor_divide(n, 3))
    np.testing.assert_allclose(_np(7 // x), np.floor_divide(7, n))
    np.testing.assert_allclose(_np(x % 3), np.remainder(n, 3))
    np.testing.assert_allclose(_np(-7 % x), np.remainder(-7, n))
    np.testing.assert_allclose(_np(x ** 3), n ** 3)
    np.testing.assert_allclose(_np(2 ** x), 2.0 ** n)
    np.testing.assert_allclose(_np(tt.pow(x, x[0])), n ** n[0])
    np.testing.assert_allclose(_np(tt.true_divide(x, 4)), n / 4)
    np.testing.assert_allclose(_np(x.divide(4, rounding_mode="trunc")), np.trunc(n / 4))
    np.testing.assert_allclose(_np(x.fmod(-3)), np.fmod(n, -3))
    np.testing.assert_allclose(_np(tt.arctan2(x, -x)), np.arctan2(n, -n), rtol=1e-6)
    y = x.clone()
    y /= 2
    y //= 0.5
    y %= 3
    y **= 2
    y.pow_(0.5).div_(2).remainder_(5).fmod_(2).floor_divide_(0.25).true_divide_(2)
    f = n.astype(np.float32)  # every step is exact on these values
    expected = np.remainder(np.floor_divide(f / 2, 0.5), 3) ** 2
    expected = np.floor_divide(np.fmod(np.remainder(np.sqrt(expected) / 2, 5), 2), 0.25) / 2
    np.testing.assert_array_equal(y.cpu().numpy(), expected)
    z = x.clone().lerp_(tt.zeros(3, device=device), 0.25)
    np.testing.assert_allclose(_np(z), 0.75 * n)
    assert x.__truediv__("a") is NotImplemented and x.__pow__(2, 5) is NotImplemented


@pytest.mark.parametrize("device", DEVICES)
def test_type_promotion(device):
    i = tt.tensor([7, -7, 6], dtype=tt.int32, device=device)
    j = tt.tensor([2, 2, -4], dtype=tt.int64, device=device)
    r = i / j
    assert r.dtype is tt.float32 and r.tolist() == [3.5, -3.5, -1.5]
    assert (i / 2).dtype is tt.float32
    assert (i // j).dtype is tt.int64 and (i // j).tolist() == [3, -4, -2]
    assert (i // 2).dtype is tt.int32 and (i % 4).tolist() == [3, 1, 2]
    assert (i // 2.0).dtype is tt.float32 and (i // 2.0).tolist() == [3.0, -4.0, 3.0]
    assert (i ** 2).dtype is tt.int32 and (i ** 2).tolist() == [49, 49, 36]
    with np.errstate(invalid="ignore"):
        assert (i ** 0.5).dtype is tt.float32
    assert (2 ** i).dtype is tt.int32 and (2 ** tt.tensor([3, 0, -1], device=device)).tolist() == [8, 1, 0]
    assert (2.0 ** i).dtype is tt.float32
    assert tt.atan2(i, j).dtype is tt.float32
    assert tt.maximum(i, j).dtype is tt.int64 and tt.maximum(i, j).tolist() == [7, 2, 6]
    u = tt.tensor([200, 9, 0], dtype=tt.uint8, device=device)
    s = tt.tensor([-1, 2, -3], dtype=tt.int8, device=device)
    q = tt.div(u, s, rounding_mode="floor")
    assert q.dtype is tt.int16 and q.tolist() == [-200, 4, 0]
    assert tt.remainder(u, s).tolist() == [0, 1, 0] and tt.fmod(u, 7).dtype is tt.uint8
    assert tt.minimum(u, s).dtype is tt.int16 and tt.minimum(u, s).tolist() == [-1, 2, -3]
    bt = tt.tensor([True, False, True], device=device)
    bf = tt.tensor([True, True, False], device=device)
    with np.errstate(divide="ignore"):
        assert (bt / bf).dtype is tt.float32 and (bt / bf).tolist()[:2] == [1.0, 0.0]
    assert tt.maximum(bt, bf).dtype is tt.bool and tt.maximum(bt, bf).tolist() == [True, True, True]
    assert tt.minimum(bt, bf).tolist() == [True, False, False]
    assert (bt ** 2).dtype is tt.int64 and (bt ** 2).tolist() == [1, 0, 1]
    h = tt.tensor([1.0, 2.0, 3.0], dtype=tt.float16, device=device)
    assert (h / 2.5).dtype is tt.float16 and (i / h).dtype is tt.float16
    assert (h ** 2).dtype is tt.float16 and (h / tt.tensor(2.0, dtype=tt.float64, device=device)).dtype is tt.float16
    assert (h / tt.tensor([2.0], dtype=tt.bfloat16, device=device)).dtype is tt.float32


@pytest.mark.parametrize("device", DEVICES)
def test_rounding_modes_with_negative_operands_and_zero_divisors(device):
    a = [-7.0, -6.5, 7.0, 6.5, -0.5, 5.0, -5.0, 0.0, math.inf, 3.0]
    b = [2.0, -2.0, -2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 2.0, math.inf]
    ta, tb = tt.tensor(a, device=device), tt.tensor(b, device=device)
    na, nb = np.array(a, np.float32), np.array(b, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = {
            None: na / nb, "trunc": np.trunc(na / nb), "floor": np.floor_divide(na, nb),
        }
        rem, fm = np.remainder(na, nb), np.fmod(na, nb)
    for mode, exp in expected.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            np.testing.assert_array_equal(tt.div(ta, tb, rounding_mode=mode).cpu().numpy(), exp)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (ta // tb).cpu().numpy()
    np.testing.assert_array_equal(r, expected["floor"])
    assert np.signbit(r[4]) and r[5] == math.inf and r[6] == -math.inf and np.isnan(r[7])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(tt.remainder(ta, tb).cpu().numpy(), rem)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(tt.fmod(ta, tb).cpu().numpy(), fm)

    ia = [-7, 7, -7, 7, 0, 5, -1, -8]
    ib = [2, 2, -2, -2, 3, -3, 4, 3]
    ti, tj = tt.tensor(ia, device=device), tt.tensor(ib, device=device)
    assert tt.div(ti, tj, rounding_mode="trunc").tolist() == [int(x / y) for x, y in zip(ia, ib)]
    assert tt.div(ti, tj, rounding_mode="floor").tolist() == [x // y for x, y in zip(ia, ib)]
    assert tt.floor_divide(ti, tj).tolist() == [x // y for x, y in zip(ia, ib)]
    assert tt.remainder(ti, tj).tolist() == [x % y for x, y in zip(ia, ib)]
    assert tt.fmod(ti, tj).tolist() == [int(math.fmod(x, y)) for x, y in zip(ia, ib)]
    assert (ti / tj).tolist() == pytest.approx([x / y for x, y in zip(ia, ib)])


def test_integer_division_by_zero_raises_on_cpu():
    x = tt.tensor([4, 5, 6])
    zero = tt.tensor([1, 0, 1])
    for fn in (lambda: x // 0, lambda: x % 0, lambda: tt.fmod(x, zero), lambda: tt.remainder(x, zero),
               lambda: tt.div(x, zero, rounding_mode="trunc"), lambda: tt.div(x, 0, rounding_mode="floor"),
               lambda: tt.floor_divide(x, zero), lambda: 3 // tt.tensor([0])):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            fn()
    assert (x / 0).tolist() == [math.inf] * 3  # true division goes through floats


def _backward_cases(rng):
    a = np.abs(rng.standard_normal((3, 4))) + 0.5
    b = np.abs(rng.standard_normal(4)) + 0.5
    b[1] = a[0, 1]  # a tie for maximum/minimum
    w = rng.random(4)
    return a, b, w


def _expected_grads(name, a, b, w, g):
    """NumPy gradients of sum(g * op(a, b)) w.r.t. a (3, 4) and b (4,)."""
    def red(x):
        return x.sum(0)

    if name == "div":
        return g / b, red(-g * a / b ** 2)
    if name == "remainder":
        return g, red(-g * np.floor_divide(a, b))
    if name == "fmod":
        return g, red(-g * np.trunc(a / b))
    if name == "pow":
        return g * b * a ** (b - 1), red(g * a ** b * np.log(a))
    if name in ("maximum", "minimum"):
        first = a > b if name == "maximum" else a < b
        share = np.where(a == b, 0.5, np.where(first, 1.0, 0.0))
        return g * share, red(g * (1 - share))
    if name == "atan2":
        r = a * a + b * b
        return g * b / r, red(-g * a / r)
    if name == "lerp":
        return g * (1 - w), red(g * w)
    if name == "pow_scalar":
        return g * 2.5 * a ** 1.5, None
    if name == "rpow":
        return None, red(g * 1.5 ** b * np.log(1.5))
    raise AssertionError(name)


OPS = {
    "div": lambda a, b, w: a / b,
    "remainder": lambda a, b, w: a % b,
    "fmod": lambda a, b, w: tt.fmod(a, b),
    "pow": lambda a, b, w: a ** b,
    "maximum": lambda a, b, w: tt.maximum(a, b),
    "minimum": lambda a, b, w: tt.minimum(b, a),
    "atan2": lambda a, b, w: tt.atan2(a, b),
    "lerp": lambda a, b, w: tt.lerp(a, b, w),
    "pow_scalar": lambda a, b, w: a ** 2.5,
    "rpow": lambda a, b, w: 1.5 ** b.expand(3, 4),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", list(OPS))
def test_backward_matches_numpy(rng, device, name, create_graph):
    a, b, w = _backward_cases(rng)
    g = rng.standard_normal((3, 4))
    ta = tt.tensor(a, dtype=tt.float32, device=device, requires_grad=True)
    tb = tt.tensor(b, dtype=tt.float32, device=device, requires_grad=True)
    tw = tt.tensor(w, dtype=tt.float32, device=device)
    tg = tt.tensor(g, dtype=tt.float32, device=device)
    a, b, w, g = (t.detach().cpu().numpy().astype(np.float64) for t in (ta, tb, tw, tg))
    out = OPS[name](ta, tb, tw)
    names = {"pow": "PowBackward1", "pow_scalar": "PowBackward0", "rpow": "PowBackward2", "lerp": "LerpBackward0"}
    assert out.grad_fn.name() in (names.get(name), f"{name.capitalize()}Backward0")
    out.backward(tg, create_graph=create_graph)
    ga, gb = _expected_grads(name, a, b, w, g)
    for t, expected in ((ta, ga), (tb, gb)):
        if expected is None:
            assert t.grad is None
        else:
            assert t.grad.dtype is tt.float32 and t.grad.device == t.device
            np.testing.assert_allclose(_np(t.grad), expected, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_rounding_mode_gradients_are_zero(device):
    a = tt.tensor([[1.5, -2.5, 3.0]], device=device, requires_grad=True)
    b = tt.tensor([2.0, 2.0, -1.0], device=device, requires_grad=True)
    (tt.div(a, b, rounding_mode="trunc") + a // b).sum().backward()
    assert a.grad.tolist() == [[0.0, 0.0, 0.0]] and b.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("device", DEVICES)
def test_backward_through_promotion_and_in_place(device):
    x = tt.tensor([1.0, 2.0, 4.0], device=device, requires_grad=True)
    d = tt.tensor([2.0, 2.0, 2.0], dtype=tt.float64, device=device, requires_grad=True)
    r = x / d
    assert r.dtype is tt.float64
    r.sum().backward()
    assert x.grad.dtype is tt.float32 and x.grad.tolist() == [0.5, 0.5, 0.5]
    assert d.grad.tolist() == [-0.25, -0.5, -1.0]
    x.grad = None
    y = x * 1
    y.pow_(2)
    y /= 2
    y.lerp_(tt.zeros(3, device=device), 0.5)
    y.sum().backward()  # y = x^2 / 4
    assert x.grad.tolist() == [0.5, 1.0, 2.0]
    x.grad = None
    p = x * 1
    q = p / 2 + p % 3  # by a number: neither op saves p, so changing p afterwards is fine (as PyTorch)
    p.add_(1)
    q.sum().backward()
    assert x.grad.tolist() == [1.5, 1.5, 1.5]


def test_gradcheck_float64():
    rng = np.random.default_rng(1)
    a = tt.tensor(rng.random((2, 3)) + 0.5, dtype=tt.float64, requires_grad=True)
    b = tt.tensor(rng.random(3) + 0.5, dtype=tt.float64, requires_grad=True)
    w = tt.tensor(rng.random(3), dtype=tt.float64, requires_grad=True)
    assert gradcheck(lambda x, y: x / y, (a, b))
    assert gradcheck(lambda x, y: 3 / x - y / 2, (a, b))
    assert gradcheck(lambda x, y: tt.div(x, y, rounding_mode="floor") + x // y, (a, b))
    assert gradcheck(lambda x, y: tt.remainder(x * 3, y), (a, b))
    assert gradcheck(lambda x, y: tt.fmod(x * 3, y), (a, b))
    assert gradcheck(lambda x, y: x ** y, (a, b))
    assert gradcheck(lambda x, y: x ** 2.5 + x ** -1 + 1.5 ** y + x ** 0.5, (a, b))
    assert gradcheck(lambda x, y: tt.maximum(x, y) + tt.minimum(y, x), (a, b))
    assert gradcheck(lambda x, y: tt.atan2(x - 1, y - 0.7), (a, b))
    assert gradcheck(lambda x, y, z: tt.lerp(x, y, z), (a, b, w))
    assert gradcheck(lambda x, y: tt.lerp(x, y, 0.3), (a, b))


def test_gradgradcheck_float64():
    rng = np.random.default_rng(2)
    a = tt.tensor(rng.random((2, 3)) + 0.5, dtype=tt.float64, requires_grad=True)
    b = tt.tensor(rng.random(3) + 0.5, dtype=tt.float64, requires_grad=True)
    assert gradgradcheck(lambda x, y: x * y, (a, b))
    assert gradgradcheck(lambda x, y: x / y, (a, b))
    assert gradgradcheck(lambda x, y: x ** y, (a, b))
    assert gradgradcheck(lambda x, y: x ** 3 + 2 ** y, (a, b))
    assert gradgradcheck(lambda x, y: tt.maximum(x, y * 1.3), (a, b))
    assert gradgradcheck(lambda x, y: tt.atan2(x, y) + tt.lerp(x, y, y), (a, b))


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    x = tt.tensor([1.0, 2.0, 3.0], device=device)
    i = tt.tensor([1, 2, 3], device=device)
    bt = tt.tensor([True, False], device=device)
    with pytest.raises(RuntimeError, match="rounding_mode"):
        tt.div(x, x, rounding_mode="round")
    with pytest.raises(RuntimeError, match="must match the size"):
        x / tt.ones(2, device=device)
    with pytest.raises(RuntimeError, match=r"Integers to negative integer powers"):
        i ** -1
    with pytest.raises(RuntimeError, match="can't be cast"):
        i /= 2
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.div_(tt.ones(2, 3, device=device))
    with pytest.raises(RuntimeError, match=f"div_floor_{device}.*Bool"):
        bt // bt
    with pytest.raises(RuntimeError, match="remainder.*Bool"):
        bt % bt
    with pytest.raises(RuntimeError, match='"pow" not implemented'):
        bt ** bt
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.maximum(x, 2)
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.atan2(x, 1.0)
    with pytest.raises(RuntimeError, match="expected dtype .* for `end`"):
        tt.lerp(x, x.double(), 0.5)
    with pytest.raises(RuntimeError, match="expected dtype .* for `weight`"):
        tt.lerp(x, x, x.half())
    with pytest.raises(RuntimeError, match="lerp_kernel_scalar.*Long"):
        tt.lerp(i, i, 0.5)
    with pytest.raises(TypeError):
        x / "a"
    other = "cuda" if device == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match="same device"):
        x / tt.ones(3, device=other)
    with pytest.raises(RuntimeError, match="same device"):
        tt.maximum(x, tt.ones(3, device=other))


def test_cuda_runs_triton_kernels_not_numpy(monkeypatch):
    launches = []

    def counting(run):  # the strided, flat and row map kernels alike
        def counting_run(*args, **kwargs):
            launches.append(kwargs.get("OP").__name__)
            return run(*args, **kwargs)

        return counting_run

    def forbidden(*args, **kwargs):
        raise AssertionError("the NumPy path ran for a cuda tensor")

    x = tt.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda", requires_grad=True)
    y = tt.tensor([0.5, 3.0], device="cuda", requires_grad=True)
    for kernel in KE.MAP_KERNELS:
        monkeypatch.setattr(kernel, "run", counting(kernel.run))
    for cls in (B.Div, P.PowScalar, MX.Maximum):
        monkeypatch.setattr(cls, "op", BinaryOp(cls.op.forward, cls.op.backward, forbidden, forbidden))
    out = tt.maximum(x / y, x ** 2)
    assert out.tolist() == [[2.0, 4.0], [9.0, 16.0]]
    assert launches == ["_div_true", "_square", "_maximum"]
    launches.clear()
    out.sum().backward()
    assert {"_div_backward", "_maximum_backward", "_pow_scalar_backward"} <= set(launches)
    assert y.grad.tolist() == [-4.0, 0.0]
