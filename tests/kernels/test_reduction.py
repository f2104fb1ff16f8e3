"""Row reductions in Triton's interpreter against their NumPy references; the references' gradients
against central finite differences in float64."""

import math

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import reduction as R

from tests.conftest import as_device

# The interpreter evaluates IEEE edge cases (log(0), 0/0, all-NaN max) in NumPy, which warns.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float16, BF16, np.float64]
TOL = {np.float32: 1e-5, np.float16: 2e-3, BF16: 1.6e-2, np.float64: 1e-12}


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _close(got, want, dt, scale=1.0):
    np.testing.assert_allclose(_f64(got), _f64(want), rtol=TOL[dt], atol=TOL[dt] * scale)


def _layout(x, axis):
    """The (M, R) view reducing `axis` of a 2-d array: the array itself or its (strided) transpose."""
    return x if axis == 1 else x.T


def _run(fn, x2, *out_dtypes, **params):
    outs = [np.zeros(x2.shape[0], d) for d in out_dtypes]
    fn(*[as_device(o) for o in outs], as_device(x2), **params)
    return outs if len(outs) > 1 else outs[0]


# ---------------------------------------------------------------- forward, floating point
FLOAT_OPS = {
    "sum": (R.sum, lambda x, a: R.sum_ref(x, (a,), False)),
    "mean": (R.mean, lambda x, a: R.mean_ref(x, (a,), False)),
    "prod": (R.prod, lambda x, a: R.prod_ref(x, (a,), False)),
    "amax": (R.amax, lambda x, a: R.amax_ref(x, (a,), False)),
    "amin": (R.amin, lambda x, a: R.amin_ref(x, (a,), False)),
    "logsumexp": (R.logsumexp, lambda x, a: R.logsumexp_ref(x, (a,), False)),
    "var": (R.var, lambda x, a: R.var_ref(x, (a,), 1)),
    "std": (R.std, lambda x, a: R.std_ref(x, (a,), 1)),
}


@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("op", list(FLOAT_OPS))
def test_float_ops(rng, op, dt, axis):
    fn, ref = FLOAT_OPS[op]
    base = rng.standard_normal((6, 37))
    x = (1 + 0.05 * base if op == "prod" else base).astype(dt)  # products stay near 1
    x2 = _layout(x, axis)
    got = _run(fn, x2, dt)
    _close(got, ref(x, axis), dt, scale=6.0)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_long_rows_cross_chunks(rng, dt):
    x = rng.standard_normal((2, 5000)).astype(dt) + 3.0  # R = 5000: five BLOCK_R chunks, one kernel
    x[1, 4321] = 40.0
    _close(_run(R.sum, x, dt), R.sum_ref(x, (1,), False), dt, scale=100)
    _close(_run(R.var, x, dt, correction=0), R.var_ref(x, (1,), 0), dt)
    _close(_run(R.logsumexp, x, dt), R.logsumexp_ref(x, (1,), False), dt)
    v, i = _run(R.max, x, dt, np.int64)
    assert i.tolist() == R.argmax_ref(x, 1, False).tolist() and i[1] == 4321
    _close(v, R.amax_ref(x, (1,), False), dt)


def test_broadcast_and_strided_output(rng):
    row = rng.standard_normal(7).astype(np.float32)
    x2 = np.broadcast_to(row, (5, 7))  # stride-0 rows
    out = np.zeros((5, 2), np.float32)
    R.sum(as_device(out[:, 1]), as_device(x2))  # a strided output
    np.testing.assert_allclose(out[:, 1], np.full(5, row.sum()), rtol=1e-6)
    assert (out[:, 0] == 0).all()
    col = np.broadcast_to(rng.standard_normal((4, 1)).astype(np.float64), (4, 9))  # stride-0 along R
    np.testing.assert_allclose(_run(R.var, col, np.float64), np.zeros(4), atol=1e-12)


def test_sliced_input(rng):
    x = rng.standard_normal((9, 40)).astype(np.float32)[1::2, 3::3]  # both strides non-unit
    _close(_run(R.mean, x, np.float32), R.mean_ref(x, (1,), False), np.float32)
    _close(_run(R.norm, x, np.float32, p=3.0), R.norm_ref(x, 3.0, (1,), False), np.float32)


# ---------------------------------------------------------------- integers and bool
INTS = [np.int8, np.uint8, np.int32, np.int64, np.bool_]


@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("dt", INTS)
def test_integer_ops(rng, dt, axis):
    lo, hi = (0, 2) if dt == np.bool_ else (0 if dt == np.uint8 else -3, 4)
    x = rng.integers(lo, hi, (5, 23)).astype(dt)
    x[2] = 1  # a row without zeros
    x2 = _layout(x, axis)
    assert _run(R.sum, x2, np.int64).tolist() == R.sum_ref(x, (axis,), False).tolist()
    assert _run(R.prod, x2, np.int64).tolist() == R.prod_ref(x, (axis,), False).tolist()
    v, i = _run(R.max, x2, dt, np.int64)
    assert v.tolist() == R.amax_ref(x, (axis,), False).tolist()
    assert i.tolist() == R.argmax_ref(x, axis, False).tolist()
    assert _run(R.argmin, x2, np.int64).tolist() == R.argmin_ref(x, axis, False).tolist()
    assert _run(R.amin, x2, dt).tolist() == R.amin_ref(x, (axis,), False).tolist()
    assert _run(R.all, x2, np.bool_).tolist() == R.all_ref(x, (axis,), False).tolist()
    assert _run(R.any, x2, np.bool_).tolist() == R.any_ref(x, (axis,), False).tolist()
    assert _run(R.count_nonzero, x2, np.int64).tolist() == R.count_nonzero_ref(x, (axis,)).tolist()


def test_int64_sum_and_extremes_exact():
    big = np.array([[2**62, 2**62 - 1, -(2**63), 5], [-(2**63), 7, 2**63 - 1, 2**63 - 1]], np.int64)
    assert _run(R.amax, big, np.int64).tolist() == [2**62, 2**63 - 1]
    assert _run(R.argmin, big, np.int64).tolist() == [2, 0]
    assert _run(R.argmax, big, np.int64).tolist() == [0, 2]
    small = np.array([[2**31 - 1, 2**31 - 1, 5]], np.int32)  # int32 inputs sum in int64
    assert _run(R.sum, small, np.int64).tolist() == [2**32 + 3]


# ---------------------------------------------------------------- NaN and ties
@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16])
def test_max_min_nan_and_ties(dt, contiguous):
    nan, inf = np.nan, np.inf
    rows = [
        [1, 3, 3, 2, 3, 0],  # ties: first occurrence
        [1, nan, 5, nan, 2, 9],  # NaN is the max and the min, first NaN's index
        [nan, 1, 2, 3, 4, 5],  # NaN first (the lanes' starting value)
        [-inf, -inf, -inf, -inf, -inf, -inf],
        [nan, nan, nan, nan, nan, nan],
        [-1, -5, -5, 0, -0.0, 0],
    ]
    x = np.array(rows, np.float64).astype(dt)
    x2 = x if contiguous else np.asfortranarray(x)  # strided rows use the other config
    for fn, ref in ((R.max, R.max_ref), (R.min, R.min_ref)):
        v, i = _run(fn, x2, dt, np.int64)
        rv, ri = ref(x, 1, False)
        np.testing.assert_array_equal(_f64(v), _f64(rv))  # NaN == NaN here
        assert i.tolist() == ri.tolist()
    assert _run(R.argmax, x2, np.int64).tolist() == R.argmax_ref(x, 1, False).tolist()
    assert _run(R.argmin, x2, np.int64).tolist() == R.argmin_ref(x, 1, False).tolist()
    np.testing.assert_array_equal(_f64(_run(R.amax, x2, dt)), _f64(R.amax_ref(x, (1,), False)))


def test_argmax_ties_across_chunks():
    x = np.zeros((2, 2600), np.float32)
    x[0, [1500, 100, 2599]] = 7.0  # the first occurrence sits in an earlier chunk than the others
    x[1, [2599, 1024]] = np.nan
    v, i = _run(R.max, x, np.float32, np.int64)
    assert i.tolist() == [100, 1024] and v[0] == 7 and np.isnan(v[1])
    xt = np.ascontiguousarray(x.T).T  # the same rows, strided
    assert _run(R.argmax, xt, np.int64).tolist() == [100, 1024]


def test_nan_propagates_through_reductions():
    x = np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]], np.float32)
    for fn in (R.sum, R.mean, R.prod, R.logsumexp, R.var, R.std, R.norm):
        got = _run(fn, x, np.float32)
        assert np.isnan(got[0]) and not np.isnan(got[1]), fn.__name__


# ---------------------------------------------------------------- norm, var, logsumexp details
@pytest.mark.parametrize("p", [0, 1, 2, math.inf, -math.inf, 0.5, 3.0, -1.5])
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
def test_norm(rng, p, dt):
    x = rng.standard_normal((4, 29)).astype(dt)
    x[0, :5] = 0
    x[3] = 0  # an all-zero row
    for x2, axis in ((x, 1), (x.T, 0)):
        got = _run(R.norm, x2, dt, p=p)
        _close(got, R.norm_ref(x, p, (axis,), False), dt, scale=10)


@pytest.mark.parametrize("correction", [0, 1, 2.5])
def test_var_correction_and_mean_out(rng, correction):
    x = rng.standard_normal((3, 11)).astype(np.float64) * 1e3 + 1e6  # large mean: two-pass stays exact
    var = np.zeros(3)
    mean = np.zeros(3)
    R.var(as_device(var), as_device(x), correction=correction, mean_out=as_device(mean))
    np.testing.assert_allclose(var, R.var_ref(x, (1,), correction), rtol=1e-10)
    np.testing.assert_allclose(mean, x.mean(1), rtol=1e-14)
    std = _run(R.std, x.T.copy().T, np.float64, correction=correction)
    np.testing.assert_allclose(std, R.std_ref(x, (1,), correction), rtol=1e-10)


def test_var_of_single_element_is_nan():
    x = np.array([[3.0], [4.0]], np.float32)
    assert np.isnan(_run(R.var, x, np.float32)).all()
    assert (_run(R.var, x, np.float32, correction=0) == 0).all()


def test_logsumexp_infinities():
    inf = np.inf
    x = np.array([[-inf, -inf, -inf], [1.0, inf, 2.0], [-inf, 0.0, -inf], [1e3, 1e3, -1e3]], np.float32)
    got = _run(R.logsumexp, x, np.float32)
    np.testing.assert_allclose(got, [-inf, inf, 0.0, 1000.0 + np.log(2.0)], rtol=1e-6)
    np.testing.assert_allclose(got, R.logsumexp_ref(x, (1,), False), rtol=1e-6)


def test_empty_rows():
    x = np.zeros((3, 0), np.float32)
    assert (_run(R.sum, x, np.float32) == 0).all()
    assert (_run(R.prod, x, np.float32) == 1).all()
    assert np.isnan(_run(R.mean, x, np.float32)).all()
    assert (_run(R.logsumexp, x, np.float32) == -np.inf).all()
    assert _run(R.all, x, np.bool_).all() and not _run(R.any, x, np.bool_).any()
    assert (_run(R.norm, x, np.float32, p=2) == 0).all()
    with pytest.raises(ValueError):
        _run(R.max, x, np.float32, np.int64)


# ---------------------------------------------------------------- backward kernels vs references
def _backward(fn, x2, grad, *saved, **params):
    gx = np.full(x2.shape, 123, x2.dtype)  # garbage: every element must be written
    fn(as_device(gx), as_device(grad), *[as_device(s) for s in saved], **params)
    return gx


@pytest.mark.parametrize("dt,axis", [(np.float32, 1), (np.float32, 0), (np.float64, 0), (BF16, 1)])
def test_backward_kernels(rng, dt, axis):
    x = rng.standard_normal((5, 13)).astype(dt)
    x2 = _layout(x, axis)
    g = rng.standard_normal(x2.shape[0]).astype(dt)
    ax = (axis,)

    _close(_backward(R.sum_backward, x2, g), _layout(R.sum_backward_ref(g, x, ax, False)[0], axis), dt)
    _close(_backward(R.mean_backward, x2, g), _layout(R.mean_backward_ref(g, x, ax, False)[0], axis), dt)
    for fn, ref, fwd in ((R.prod_backward, R.prod_backward_ref, R.prod),
                         (R.logsumexp_backward, R.logsumexp_backward_ref, R.logsumexp),
                         (R.amax_backward, R.amax_backward_ref, R.amax)):
        y = _run(fwd, x2, dt)
        _close(_backward(fn, x2, g, x2, y), _layout(ref(g, x, y, ax, False)[0], axis), dt, scale=4)
    for corr in (0, 1):
        _close(_backward(R.var_backward, x2, g, x2, correction=corr),
               _layout(R.var_backward_ref(g, x, ax, corr)[0], axis), dt, scale=4)
        y = _run(R.std, x2, dt, correction=corr)
        _close(_backward(R.std_backward, x2, g, x2, y, correction=corr),
               _layout(R.std_backward_ref(g, x, y, ax, corr)[0], axis), dt, scale=4)
    v, i = _run(R.max, x2, dt, np.int64)
    ref = R.max_backward_ref(g, x, i, axis, False)[0]
    _close(_backward(R.max_backward, x2, g, i), _layout(ref, axis), dt)


@pytest.mark.parametrize("dt,axis", [(np.float32, 1), (np.float64, 0), (BF16, 1)])
def test_norm_backward_kernels(rng, dt, axis):
    x = rng.standard_normal((5, 13)).astype(dt)
    x[1, 3] = 0
    x2 = _layout(x, axis)
    g = rng.standard_normal(x2.shape[0]).astype(dt)
    for p in (0, 1, 2, math.inf, -math.inf, 0.5, 3.0):
        y = _run(R.norm, x2, dt, p=p)
        _close(_backward(R.norm_backward, x2, g, x2, y, p=p),
               _layout(R.norm_backward_ref(g, x, y, p, (axis,), False)[0], axis), dt, scale=4)


def test_prod_backward_with_zeros(rng):
    x = rng.standard_normal((4, 6)) + 2.0
    x[1, 2] = 0  # one zero: only it gets a gradient
    x[2, [0, 4]] = 0  # two zeros: no gradient at all
    x[3, 5] = 0
    g = rng.standard_normal(4)
    y = _run(R.prod, x, np.float64)
    gx = _backward(R.prod_backward, x, g, x, y)
    ref = R.prod_backward_ref(g, x, y, (1,), False)[0]
    np.testing.assert_allclose(gx, ref, rtol=1e-12, atol=1e-12)
    assert (gx[1] != 0).tolist() == [False, False, True, False, False, False] and (gx[2] == 0).all()
    np.testing.assert_allclose(gx[1, 2], g[1] * np.prod(np.delete(x[1], 2)), rtol=1e-12)


def test_amax_backward_splits_ties_and_nan():
    x = np.array([[1.0, 4.0, 4.0, 4.0, 0.0], [np.nan, 1.0, np.nan, 2.0, 3.0]], np.float32)
    g = np.array([3.0, 2.0], np.float32)
    y = _run(R.amax, x, np.float32)
    gx = _backward(R.amax_backward, x, g, x, y)
    np.testing.assert_allclose(gx, [[0, 1, 1, 1, 0], [1, 0, 1, 0, 0]], rtol=1e-6)
    np.testing.assert_allclose(gx, R.amax_backward_ref(g, x, y, (1,), False)[0])


def test_norm_inf_backward_ties_and_zero_norm():
    x = np.array([[-3.0, 1.0, 3.0], [0.0, 0.0, 0.0]], np.float64)
    g = np.array([2.0, 5.0])
    y = _run(R.norm, x, np.float64, p=math.inf)
    # Split among the ties, times sign(x): an all-zero row gets sign(0) = 0, as PyTorch's sgn().
    np.testing.assert_allclose(_backward(R.norm_backward, x, g, x, y, p=math.inf), [[-1, 0, 1], [0, 0, 0]])
    y2 = _run(R.norm, x, np.float64, p=2)
    assert (_backward(R.norm_backward, x, g, x, y2, p=2)[1] == 0).all()  # zero norm: zero gradient


# ---------------------------------------------------------------- references vs finite differences
def _fd(f, x, g, eps=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        grad[idx] = np.sum((f(xp) - f(xm)) * g) / (2 * eps)
    return grad


@pytest.mark.parametrize("keepdims", [False, True])
def test_backward_refs_vs_finite_differences(rng, keepdims):
    x = rng.standard_normal((3, 4, 5)) + 0.1  # distinct values, no zeros
    axis = (0, 2)
    g = rng.standard_normal(R.sum_ref(x, axis, keepdims).shape)

    def check(fwd, grad_x):
        np.testing.assert_allclose(grad_x, _fd(fwd, x, g), rtol=1e-6, atol=1e-7)

    check(lambda a: R.sum_ref(a, axis, keepdims), R.sum_backward_ref(g, x, axis, keepdims)[0])
    check(lambda a: R.mean_ref(a, axis, keepdims), R.mean_backward_ref(g, x, axis, keepdims)[0])
    for fwd_ref, bwd_ref in ((R.prod_ref, R.prod_backward_ref), (R.amax_ref, R.amax_backward_ref),
                             (R.amin_ref, R.amin_backward_ref), (R.logsumexp_ref, R.logsumexp_backward_ref)):
        y = fwd_ref(x, axis, keepdims)
        check(lambda a, f=fwd_ref: f(a, axis, keepdims), bwd_ref(g, x, y, axis, keepdims)[0])
    for corr in (0, 1):
        check(lambda a, c=corr: R.var_ref(a, axis, c, keepdims),
              R.var_backward_ref(g, x, axis, corr, keepdims)[0])
        y = R.std_ref(x, axis, corr, keepdims)
        check(lambda a, c=corr: R.std_ref(a, axis, c, keepdims),
              R.std_backward_ref(g, x, y, axis, corr, keepdims)[0])
    for p in (1, 2, math.inf, -math.inf, 0.5, 3.0, -1.5):
        y = R.norm_ref(x, p, axis, keepdims)
        check(lambda a, p=p: R.norm_ref(a, p, axis, keepdims),
              R.norm_backward_ref(g, x, y, p, axis, keepdims)[0])
    g1 = rng.standard_normal(R.amax_ref(x, (1,), keepdims).shape)
    v, i = R.max_ref(x, 1, keepdims)
    np.testing.assert_allclose(R.max_backward_ref(g1, x, i, 1, keepdims)[0],
                               _fd(lambda a: R.amax_ref(a, (1,), keepdims), x, g1), rtol=1e-6, atol=1e-7)


def test_prod_backward_ref_with_zeros_vs_finite_differences(rng):
    x = rng.standard_normal((4, 5)) + 2.0
    x[1, 3] = 0
    x[2, [1, 2]] = 0
    g = rng.standard_normal(4)
    y = R.prod_ref(x, (1,), False)
    np.testing.assert_allclose(R.prod_backward_ref(g, x, y, (1,), False)[0],
                               _fd(lambda a: R.prod_ref(a, (1,), False), x, g), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- one compiled kernel for every row length
def test_rows_of_any_length_share_one_config():
    """A sum over rows of 10, 1000 and 50000 elements uses one config; Triton's runtime specialisation
    (integers divisible by 16 get an alignment hint) makes that two binaries: {10, 1000} and {50000}."""
    from triton._C.libtriton import native_specialize_impl
    from triton.backends.nvidia.compiler import CUDABackend

    def key(n):
        x = np.zeros((4, n), np.float32)
        view = as_device(x)
        cfg = R.reduce_config(view)
        args = (4, n, n, 1, 1)  # M, R, stride_xm, stride_xr, stride_out as the wrapper passes them
        return tuple(sorted(cfg.items())), tuple(native_specialize_impl(CUDABackend, a, False, True, True)
                                                 for a in args)

    keys = [key(n) for n in (10, 1000, 50000)]
    assert len({k[0] for k in keys}) == 1
    assert len(set(keys)) == 2 and keys[0] == keys[1]


def test_ops_table_is_complete():
    for name, op in R.OPS.items():
        assert callable(op.forward) and callable(op.ref), name
        assert (op.backward is None) == (op.backward_ref is None), name
