"""Comparisons, logical and bitwise ops, where, clamp, isnan/isinf/isfinite, nan_to_num, isclose,
allclose and equal on cpu and interpreted cuda against NumPy: broadcasting, non-contiguous operands,
numbers on either side, type promotion, NaN; backward of where / clamp / nan_to_num on both devices;
gradcheck / gradgradcheck in float64."""

import math

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import elementwise as KE

import tritensor as tt
from tritensor.autograd import gradcheck, gradgradcheck
from tritensor.ops import comparison as C

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64) if t.dtype.is_floating_point else t.cpu().numpy()


def _strided_pair(rng, dtype, device):
    """a: a (4, 3) non-contiguous view; b: (3,), broadcast against it; with repeated values (ties)."""
    if dtype is tt.bool:
        a, b = rng.random((3, 4)) > 0.5, np.array([True, False, True])
    else:
        a = rng.integers(0, 6, (3, 4)).astype(np.float64) - (dtype.is_signed or dtype.is_floating_point) * 2
        b = np.array([1.0, 2.0, 0.0]) if not dtype.is_floating_point else np.array([1.0, 0.5, math.nan])
    a, b = a.astype(dtype.np), b.astype(dtype.np)
    ta = tt.tensor(a, device=device).t()
    assert not ta.is_contiguous()
    return ta, tt.tensor(b, device=device), a.T, b


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64, tt.int32, tt.uint8, tt.bool])
def test_comparisons(rng, device, dtype):
    ta, tb, a, b = _strided_pair(rng, dtype, device)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    # Tensor-tensor through the functions, tensor-number through the operators (numbers on both sides).
    cases = [(tt.eq, np.equal, lambda x: x == 1), (tt.ne, np.not_equal, lambda x: 1 != x),
             (tt.lt, np.less, lambda x: x < 1), (tt.le, np.less_equal, lambda x: 1 <= x),
             (tt.gt, np.greater, lambda x: 1 > x), (tt.ge, np.greater_equal, lambda x: x >= 1)]
    for fn, ref, op in cases:
        r = fn(ta, tb)
        assert r.dtype is tt.bool and r.shape == (4, 3) and not r.requires_grad
        np.testing.assert_array_equal(r.cpu().numpy(), ref(a64, b64))
        r = op(ta)
        assert r.dtype is tt.bool
        np.testing.assert_array_equal(r.cpu().numpy(), op(a64))


def test_comparison_aliases():
    a, b = tt.tensor([1, 2, 3]), tt.tensor([2, 2, 2])
    for alias, fn in ((tt.greater, tt.gt), (tt.greater_equal, tt.ge), (tt.less, tt.lt), (tt.less_equal, tt.le),
                      (tt.not_equal, tt.ne)):
        assert alias is fn
    assert a.greater(b).tolist() == [False, False, True] and a.less_equal(b).tolist() == [True, True, False]
    c = a.clone()
    c.lt_(b)
    assert c.dtype is tt.int64 and c.tolist() == [1, 0, 0]
    c.greater_equal_(1)
    assert c.tolist() == [1, 0, 0]
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.eq_(1.0)  # a 0/1 overwrite: no gradient flows to what y was
    assert y.tolist() == [1.0, 0.0] and y.grad_fn is None and not y.requires_grad


@pytest.mark.parametrize("device", DEVICES)
def test_comparison_promotion_nan_and_autograd(device):
    i = tt.tensor([1, 2, 3], dtype=tt.int32, device=device)
    assert (i < 2.5).tolist() == [True, True, False]  # compared in float, not against int(2.5)
    assert (i == 2.0).tolist() == [False, True, False]
    u = tt.tensor([200, 1], dtype=tt.uint8, device=device)
    s = tt.tensor([-1, 1], dtype=tt.int8, device=device)
    assert (u > s).tolist() == [True, False]  # in int16: 200 > -1
    h = tt.tensor([0.1, 1.0], dtype=tt.float16, device=device)
    assert (h == 0.1).tolist() == [True, False]  # the number is rounded to the tensor's dtype
    n = tt.tensor([math.nan, 1.0], device=device)
    assert (n == n).tolist() == [False, True] and (n != n).tolist() == [True, False]
    assert (n < math.inf).tolist() == [False, True]
    x = tt.tensor([1.0, -1.0], device=device, requires_grad=True)
    r = x > 0
    assert r.dtype is tt.bool and not r.requires_grad and r.grad_fn is None
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert len({x, r, x}) == 2 and {x: 1}[x] == 1  # tensors stay hashable by identity
    with pytest.raises(TypeError):
        _ = x < None
    with pytest.raises(RuntimeError, match="must match the size"):
        _ = x == tt.ones(3, device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_logical_ops(device):
    a = tt.tensor([[0.0, 1.5, math.nan], [0.0, -2.0, 0.0]], device=device).t()
    b = tt.tensor([3, 0], dtype=tt.int64, device=device)
    na, nb = a.cpu().numpy(), b.cpu().numpy()
    for fn, ref in ((tt.logical_and, np.logical_and), (tt.logical_or, np.logical_or),
                    (tt.logical_xor, np.logical_xor)):
        r = fn(a, b)
        assert r.dtype is tt.bool
        np.testing.assert_array_equal(r.cpu().numpy(), ref(na, nb))
    np.testing.assert_array_equal(tt.logical_not(a).cpu().numpy(), np.logical_not(na))
    bt = tt.tensor([True, False], device=device)
    np.testing.assert_array_equal(bt.logical_not().cpu().numpy(), [False, True])
    y = tt.tensor([2.0, 0.0, 1.0], device=device)
    y.logical_and_(tt.tensor([1, 1, 0], device=device))
    assert y.dtype is tt.float32 and y.tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.logical_and(a, 1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.int32, tt.uint8, tt.int8, tt.int64, tt.bool])
def test_bitwise_ops(rng, device, dtype):
    if dtype is tt.bool:
        a, b = rng.random((3, 4)) > 0.5, np.array([True, False, True])
    else:
        info = np.iinfo(dtype.np)
        a = rng.integers(max(info.min, -100), min(info.max, 100), (3, 4)).astype(dtype.np)
        b = np.array([5, 12, 0]).astype(dtype.np)
    ta, tb, a = tt.tensor(a, device=device).t(), tt.tensor(b, device=device), a.T
    for r, expected in ((ta & tb, a & b), (ta | tb, a | b), (ta ^ tb, a ^ b), (~ta, ~a),
                        (tt.bitwise_and(ta, True if dtype is tt.bool else 6), a & (True if dtype is tt.bool else 6)),
                        (tt.bitwise_xor(ta, tb), a ^ b), (tt.bitwise_not(ta), ~a)):
        assert r.dtype is dtype
        np.testing.assert_array_equal(r.cpu().numpy(), expected)
    if dtype is not tt.bool:
        np.testing.assert_array_equal((3 | ta).cpu().numpy(), a | np.array(3, dtype.np))
        np.testing.assert_array_equal((ta << 2).cpu().numpy(), (a.astype(np.int64) << 2).astype(dtype.np))
        np.testing.assert_array_equal((ta >> 1).cpu().numpy(), a >> 1)
        np.testing.assert_array_equal(tt.bitwise_right_shift(ta, tb).cpu().numpy(), a >> b)
        c = ta.clone()
        c &= tb
        c |= 1
        c ^= tb
        c <<= 1
        c >>= 1
        expected = ((((a & b) | 1) ^ b).astype(np.int64) << 1).astype(dtype.np) >> 1
        np.testing.assert_array_equal(c.cpu().numpy(), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_shifts_out_of_range_and_promotion(device):
    x = tt.tensor([1, -8, 5, 3], dtype=tt.int32, device=device)
    s = tt.tensor([31, 2, 32, -1], dtype=tt.int32, device=device)
    assert (x << s).tolist() == [-2 ** 31, -32, 0, 0]
    assert (x >> s).tolist() == [0, -2, 0, 0]  # out of range: the sign fill
    assert (tt.tensor([-8], device=device) >> 70).tolist() == [-1]
    assert (1 << tt.tensor([0, 3], dtype=tt.uint8, device=device)).tolist() == [1, 8]
    u = tt.tensor([0xF0], dtype=tt.uint8, device=device)
    i8 = tt.tensor([-1], dtype=tt.int8, device=device)
    r = u & i8
    assert r.dtype is tt.int16 and r.tolist() == [0xF0]
    assert (tt.tensor([True, False], device=device) | 2).dtype is tt.int64


@pytest.mark.parametrize("device", DEVICES)
def test_bitwise_errors(device):
    f = tt.tensor([1.0], device=device)
    b = tt.tensor([True], device=device)
    i = tt.tensor([1], device=device)
    with pytest.raises(RuntimeError, match=f"\"bitwise_and_{device}\" not implemented for 'Float'"):
        f & i
    with pytest.raises(RuntimeError, match=f"bitwise_not_{device}.*Float"):
        ~f
    with pytest.raises(RuntimeError, match="lshift.*Bool"):
        b << b
    with pytest.raises(RuntimeError, match="rshift.*Float"):
        i >> 1.5


# ---------------------------------------------------------------- where
@pytest.mark.parametrize("device", DEVICES)
def test_where(rng, device):
    cond_np = rng.random((3, 4)) > 0.5
    cond = tt.tensor(cond_np, device=device).t()  # non-contiguous (4, 3)
    a = tt.tensor(np.arange(3.0), dtype=tt.float32, device=device)
    b = tt.tensor(rng.standard_normal((4, 1)), dtype=tt.float32, device=device)
    c, na, nb = cond_np.T, _np(a), _np(b)
    r = tt.where(cond, a, b)
    assert r.dtype is tt.float32 and r.shape == (4, 3)
    np.testing.assert_array_equal(_np(r), np.where(c, na, nb))
    np.testing.assert_array_equal(_np(tt.where(cond, a, -1.5)), np.where(c, na, -1.5))
    np.testing.assert_array_equal(_np(tt.where(cond, 2, b)), np.where(c, 2.0, nb))
    both = tt.where(cond, 1.0, 0.0)
    assert both.dtype is tt.float32 and both.device == cond.device
    np.testing.assert_array_equal(_np(both), c.astype(np.float64))
    ints = tt.where(cond, 7, tt.tensor([1, 2, 3], dtype=tt.int32, device=device))
    assert ints.dtype is tt.int32 and ints.cpu().numpy().tolist() == np.where(c, 7, [1, 2, 3]).tolist()
    mixed = tt.where(cond, tt.tensor([1, 2, 3], device=device), 0.5)
    assert mixed.dtype is tt.float32
    half = tt.where(cond, a.half(), b)
    assert half.dtype is tt.float32
    np.testing.assert_array_equal(_np(a.where(cond, b)), np.where(c, na, nb))
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor.*Float"):
        tt.where(a, a, b)
    with pytest.raises(RuntimeError, match="must match the size"):
        tt.where(cond, a, tt.ones(2, device=device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_where_backward(rng, device, create_graph):
    cond_np = np.array([[True, False, True], [False, False, True]])
    cond = tt.tensor(cond_np, device=device)
    a = tt.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    b = tt.tensor([[4.0], [5.0]], device=device, requires_grad=True)
    g = rng.standard_normal((2, 3)).astype(np.float32)
    tt.where(cond, a, b).backward(tt.tensor(g, device=device), create_graph=create_graph)
    np.testing.assert_allclose(_np(a.grad), np.where(cond_np, g, 0).sum(0), rtol=1e-6)
    np.testing.assert_allclose(_np(b.grad), np.where(cond_np, 0, g).sum(1, keepdims=True), rtol=1e-6)
    x = tt.tensor([1.0, 2.0], device=device, requires_grad=True)
    tt.where(cond[0, :2], x, 0.0).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0]
    y = tt.tensor([1.0, 2.0], dtype=tt.float16, device=device, requires_grad=True)
    z = tt.tensor([3.0, 4.0], dtype=tt.float32, device=device, requires_grad=True)
    tt.where(cond[0, 1:], y, z).sum().backward()  # promoted to float32: y's gradient comes back float16
    assert y.grad.dtype is tt.float16 and y.grad.tolist() == [0.0, 1.0] and z.grad.tolist() == [1.0, 0.0]


# ---------------------------------------------------------------- clamp
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64, tt.int32, tt.uint8])
def test_clamp_values(rng, device, dtype):
    x = rng.standard_normal((3, 4)) * 4
    x = (np.abs(x) if dtype is tt.uint8 else x).astype(dtype.np)
    tx, n = tt.tensor(x, device=device).t(), x.T.astype(np.float64)
    lo, hi = 1, 5
    np.testing.assert_array_equal(_np(tx.clamp(lo, hi)), np.clip(n, lo, hi))
    np.testing.assert_array_equal(_np(tt.clamp(tx, min=lo)), np.maximum(n, lo))
    np.testing.assert_array_equal(_np(tt.clip(tx, max=hi)), np.minimum(n, hi))
    np.testing.assert_array_equal(_np(tt.clamp_min(tx, lo)), np.maximum(n, lo))
    np.testing.assert_array_equal(_np(tt.clamp_max(tx, hi)), np.minimum(n, hi))
    np.testing.assert_array_equal(_np(tx.clamp(hi, lo)), np.full_like(n, lo))  # min > max gives max
    tlo = tt.tensor(np.array([0, 2, 3], dtype=dtype.np), device=device)
    thi = tt.tensor(np.array([[4], [6], [9], [5]], dtype=dtype.np), device=device)
    r = tt.clamp(tx, tlo, thi)
    assert r.dtype is dtype and r.shape == (4, 3)
    np.testing.assert_array_equal(_np(r), np.minimum(np.maximum(n, [0, 2, 3]), [[4], [6], [9], [5]]))
    np.testing.assert_array_equal(_np(tx.clamp(min=tlo)), np.maximum(n, [0, 2, 3]))
    y = tx.clone()
    y.clamp_(lo, hi)
    np.testing.assert_array_equal(_np(y), np.clip(n, lo, hi))
    y.clip_(max=2).clamp_min_(2).clamp_max_(1)
    assert (_np(y) == 1).all()


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_nan_promotion_and_errors(device):
    x = tt.tensor([math.nan, -3.0, 0.5, 7.0], device=device)
    r = x.clamp(-1.0, 1.0).cpu().numpy()
    assert math.isnan(r[0]) and r[1:].tolist() == [-1.0, 0.5, 1.0]
    assert all(math.isnan(v) for v in x.clamp(min=math.nan).tolist())
    bounds = tt.tensor([0.0, math.nan, 0.0, 0.0], device=device)
    r = tt.clamp(x, min=bounds).cpu().numpy()
    assert math.isnan(r[0]) and math.isnan(r[1]) and r[2:].tolist() == [0.5, 7.0]
    i = tt.tensor([1, 2, 3], device=device)
    f = i.clamp(min=1.5)
    assert f.dtype is tt.float32 and f.tolist() == [1.5, 2.0, 3.0]
    assert i.clamp(2, 2).dtype is tt.int64
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.clamp_(min=1.5)
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        tt.clamp(x)
    with pytest.raises(TypeError, match="both Tensors"):
        tt.clamp(x, min=bounds, max=1.0)
    with pytest.raises(RuntimeError, match="Bool"):
        tt.clamp(tt.tensor([True], device=device), min=False)
    with pytest.raises(RuntimeError, match="must match the size"):
        tt.clamp(x, min=tt.zeros(3, device=device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_clamp_backward(device, create_graph):
    x = tt.tensor([[-2.0, -1.0, 0.0, 1.0, 2.0], [0.5, 3.0, -3.0, 1.0, -1.0]], device=device, requires_grad=True)
    g = tt.tensor(np.arange(1.0, 11.0).reshape(2, 5), dtype=tt.float32, device=device)
    x.clamp(-1.0, 1.0).backward(g, create_graph=create_graph)
    # Bounds included: x == min or x == max passes the gradient.
    assert x.grad.tolist() == [[0.0, 2.0, 3.0, 4.0, 0.0], [6.0, 0.0, 0.0, 9.0, 10.0]]
    x.grad = None
    lo = tt.tensor([-1.0, -1.0, 0.5, 2.0, 0.0], device=device, requires_grad=True)
    hi = tt.tensor([[1.0], [0.0]], device=device, requires_grad=True)
    tt.clamp(x, lo, hi).backward(g, create_graph=create_graph)
    xn, ln, hn, gn = _np(x), _np(lo), _np(hi), _np(g)
    passes = (xn >= ln) & (xn <= hn)
    min_takes = (xn < ln) & (ln < hn)
    max_takes = (xn > hn) | (hn < ln)
    np.testing.assert_array_equal(_np(x.grad), np.where(passes, gn, 0))
    np.testing.assert_array_equal(_np(lo.grad), np.where(min_takes, gn, 0).sum(0))
    np.testing.assert_array_equal(_np(hi.grad), np.where(max_takes, gn, 0).sum(1, keepdims=True))
    x.grad = None
    tt.clamp(x, max=hi).sum().backward()
    assert _np(x.grad).tolist() == (xn <= hn).astype(float).tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_in_place_autograd(device):
    x = tt.tensor([-2.0, 0.5, 3.0], device=device, requires_grad=True)
    y = x * 2
    y.clamp_(-1.0, 2.0)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 0.0]


# ---------------------------------------------------------------- isnan, isinf, isfinite, nan_to_num
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64])
def test_predicates_and_nan_to_num(device, dtype):
    values = [math.nan, math.inf, -math.inf, 1.0, -0.0, 2.5]
    x = tt.tensor([values, values[::-1]], dtype=dtype, device=device).t()
    n = np.array([values, values[::-1]], dtype=np.float64).T
    for fn, ref in ((tt.isnan, np.isnan), (tt.isinf, np.isinf), (tt.isfinite, np.isfinite),
                    (tt.isposinf, np.isposinf), (tt.isneginf, np.isneginf)):
        r = fn(x)
        assert r.dtype is tt.bool
        np.testing.assert_array_equal(r.cpu().numpy(), ref(n))
    top = float(ml_dtypes.finfo(dtype.np).max)
    r = _np(tt.nan_to_num(x))
    np.testing.assert_array_equal(r, np.nan_to_num(n, nan=0.0, posinf=top, neginf=-top))
    r = _np(x.nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0))
    np.testing.assert_array_equal(r, np.nan_to_num(n, nan=1.0, posinf=2.0, neginf=-3.0))
    r = _np(tt.nan_to_num(x, posinf=4.0))
    np.testing.assert_array_equal(r, np.nan_to_num(n, nan=0.0, posinf=4.0, neginf=-top))
    y = x.clone()
    y.nan_to_num_(nan=5.0, posinf=6.0, neginf=7.0)
    np.testing.assert_array_equal(_np(y), np.nan_to_num(n, nan=5.0, posinf=6.0, neginf=7.0))


@pytest.mark.parametrize("device", DEVICES)
def test_predicates_on_integers(device):
    i = tt.tensor([[1, -2], [3, 0]], dtype=tt.int32, device=device)
    for fn in (tt.isnan, tt.isinf, tt.isposinf, tt.isneginf):
        r = fn(i)
        assert r.dtype is tt.bool and r.tolist() == [[False, False], [False, False]]
    assert tt.isfinite(i).tolist() == [[True, True], [True, True]]
    c = tt.nan_to_num(i)
    assert c.dtype is tt.int32 and c.tolist() == [[1, -2], [3, 0]] and c.data_ptr() != i.data_ptr()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_nan_to_num_backward(device, create_graph):
    x = tt.tensor([math.nan, 1.0, math.inf, -2.0], device=device, requires_grad=True)
    g = tt.tensor([1.0, 2.0, math.inf, 4.0], device=device)
    tt.nan_to_num(x, posinf=9.0).backward(g, create_graph=create_graph)
    r = x.grad.tolist()
    assert r[0] == 0.0 and r[1] == 2.0 and math.isnan(r[2]) and r[3] == 4.0  # grad * isfinite(x)


# ---------------------------------------------------------------- isclose, allclose, equal
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16, tt.bfloat16])
def test_isclose_allclose(device, dtype):
    a_vals = [1.0, 1.0, math.nan, math.inf, -math.inf, 100.0, 0.0]
    b_vals = [1.0 + 1e-6, 1.1, math.nan, math.inf, math.inf, 100.001, 1e-9]
    a = tt.tensor(a_vals, dtype=dtype, device=device)
    b = tt.tensor(b_vals, dtype=dtype, device=device)
    an, bn = (np.array(v, dtype.np).astype(np.float64) for v in (a_vals, b_vals))
    if dtype in (tt.float32, tt.float64):  # NumPy's isclose computes in float64: the same for these
        np.testing.assert_array_equal(tt.isclose(a, b).cpu().numpy(), np.isclose(an, bn, 1e-5, 1e-8))
        np.testing.assert_array_equal(tt.isclose(a, b, rtol=0.2, equal_nan=True).cpu().numpy(),
                                      np.isclose(an, bn, 0.2, 1e-8, equal_nan=True))
    r = tt.isclose(a, b, rtol=1e-2).tolist()
    assert r[:3] == [True, False, False] and r[3] and not r[4]
    assert tt.isclose(a, b, rtol=0.2, equal_nan=True).tolist()[:3] == [True, True, True]
    assert not tt.allclose(a, b) and tt.allclose(a[:1], b[:1])
    assert tt.allclose(a[2:3], b[2:3], equal_nan=True) and a.allclose(a, equal_nan=True)
    row = tt.tensor([[1.0], [2.0]], dtype=dtype, device=device)
    assert tt.isclose(row, tt.tensor([1.0, 2.0], dtype=dtype, device=device)).tolist() == [[True, False],
                                                                                             [False, True]]


@pytest.mark.parametrize("device", DEVICES)
def test_isclose_integers_and_errors(device):
    i = tt.tensor([1, 100, -5], device=device)
    j = tt.tensor([1, 101, -5], device=device)
    assert tt.isclose(i, j).tolist() == [True, False, True]
    assert tt.isclose(i, j, rtol=0.01).tolist() == [True, True, True]
    assert tt.isclose(i, j, atol=1.0, rtol=0).tolist() == [True, True, True]
    with pytest.raises(RuntimeError, match="Long did not match Float"):
        tt.isclose(i, i.float())
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero"):
        tt.isclose(i, j, rtol=-1.0)
    with pytest.raises(RuntimeError, match="atol must be greater than or equal to zero"):
        tt.allclose(i, j, atol=-1.0)


@pytest.mark.parametrize("device", DEVICES)
def test_equal(device):
    a = tt.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert tt.equal(a, a.clone()) is True and a.equal(a.t().t())
    assert tt.equal(a, tt.tensor([[1, 2], [3, 4]], device=device)) is True  # compared after promotion
    assert tt.equal(a, a.t()) is False
    assert tt.equal(a, a.reshape(4)) is False
    n = tt.tensor([math.nan], device=device)
    assert tt.equal(n, n) is False
    other = "cuda" if device == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match="different devices"):
        tt.equal(a, a.to(other))


# ---------------------------------------------------------------- gradcheck
def test_gradcheck_and_gradgradcheck_float64():
    rng = np.random.default_rng(3)
    x = tt.tensor(rng.standard_normal((2, 3)), dtype=tt.float64, requires_grad=True)
    y = tt.tensor(rng.standard_normal(3), dtype=tt.float64, requires_grad=True)
    lo = tt.tensor([-0.5, -0.3, 0.1], dtype=tt.float64, requires_grad=True)
    hi = tt.tensor([[0.4], [0.9]], dtype=tt.float64, requires_grad=True)
    cond = tt.tensor([[True, False, True], [False, True, True]])
    where = lambda a, b: tt.where(cond, a * a, b * 3) + tt.where(cond, 1.0, b)  # noqa: E731
    clamp = lambda a, b, c: tt.clamp(a * a, b, c) * a  # noqa: E731
    assert gradcheck(where, (x, y)) and gradgradcheck(where, (x, y))
    assert gradcheck(clamp, (x, lo, hi)) and gradgradcheck(clamp, (x, lo, hi))
    assert gradcheck(lambda a: a.clamp(-0.6, 0.7) * a, (x,)) and gradgradcheck(lambda a: a.clamp(min=0.2) * a, (x,))
    assert gradcheck(lambda a: tt.nan_to_num(a * a, posinf=1.0), (x,))


def test_cuda_runs_triton_kernels_not_numpy(monkeypatch):
    launches = []
    original = KE.map_kernel.run

    def counting_run(*args, **kwargs):
        launches.append(kwargs.get("OP").__name__)
        return original(*args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("the NumPy path ran for a cuda tensor")

    x = tt.tensor([[1.0, -2.0], [3.0, 4.0]], device="cuda", requires_grad=True)
    monkeypatch.setattr(KE.map_kernel, "run", counting_run)
    for name in dir(C.K):
        if name.endswith("_ref"):
            monkeypatch.setattr(C.K, name, forbidden)
    out = tt.where(x > 0, x.clamp(max=3.0), 0.0)
    assert out.tolist() == [[1.0, 0.0], [3.0, 3.0]]
    assert launches == ["_gt_scalar", "_clamp_max_scalar", "_where_scalar_b"]
    assert (x == 1).tolist() == [[True, False], [False, False]] and launches[-1] == "_eq_scalar"
