"""Comparisons (eq/ne/lt/le/gt/ge and aliases, isclose, allclose, equal) on cpu and interpreted cuda against
NumPy: promotion, NaN, numbers on either side; and, for every comparison family (where, clamp, nan_to_num too),
gradcheck/gradgradcheck and the kernels-not-NumPy check on cuda."""

import math

import numpy as np
import pytest
from tritensor.kernels import clamp as KCL
from tritensor.kernels import comparison as KC
from tritensor.kernels import elementwise as KE
from tritensor.kernels import where as KW

import tritensor as tt
from tests.ops.comparison_helpers import DEVICES, _strided_pair
from tritensor.autograd import gradcheck, gradgradcheck


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
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16, tt.bfloat16])
def test_isclose_allclose(device, dtype):
    a_vals = [1.0, 1.0, math.nan, math.inf, -math.inf, 100.0, 0.0]
    b_vals = [1.0 + 1e-6, 1.1, math.nan, math.inf, math.inf, 100.001, 1e-9]
    a = tt.tensor(a_vals, dtype=dtype, device=device)
    b = tt.tensor(b_vals, dtype=dtype, device=device)
    an, bn = (np.array(v, dtype.np).astype(np.float64) for v in (a_vals, b_vals))
    if dtype in (tt.float32, tt.float64):  # NumPy's isclose computes in float64: the same for these
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(tt.isclose(a, b).cpu().numpy(), np.isclose(an, bn, 1e-5, 1e-8))
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(tt.isclose(a, b, rtol=0.2, equal_nan=True).cpu().numpy(),
                                          np.isclose(an, bn, 0.2, 1e-8, equal_nan=True))
    with np.errstate(invalid="ignore"):
        r = tt.isclose(a, b, rtol=1e-2).tolist()
    assert r[:3] == [True, False, False] and r[3] and not r[4]
    with np.errstate(invalid="ignore"):
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

    def counting(run):  # the strided, flat and row map kernels alike
        def counting_run(*args, **kwargs):
            launches.append(kwargs.get("OP").__name__)
            return run(*args, **kwargs)

        return counting_run

    def forbidden(*args, **kwargs):
        raise AssertionError("the NumPy path ran for a cuda tensor")

    x = tt.tensor([[1.0, -2.0], [3.0, 4.0]], device="cuda", requires_grad=True)
    for kernel in KE.MAP_KERNELS:
        monkeypatch.setattr(kernel, "run", counting(kernel.run))
    for module in (KC, KCL, KW):
        for name in dir(module):
            if name.endswith("_ref"):
                monkeypatch.setattr(module, name, forbidden)
    out = tt.where(x > 0, x.clamp(max=3.0), 0.0)
    assert out.tolist() == [[1.0, 0.0], [3.0, 3.0]]
    assert launches == ["_gt_scalar", "_clamp_max_scalar", "_where_scalar_b"]
    assert (x == 1).tolist() == [[True, False], [False, False]] and launches[-1] == "_eq_scalar"
