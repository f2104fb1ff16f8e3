"""The cpu references of relu, sigmoid and silu (kernels/activations_ref.py, kernels/special.py) against the
np.where selections they replace, bit for bit: random bit patterns (NaN payloads, denormals, infinities, -0.0),
odd sizes (SIMD tails), 0-d arrays, and one and two host threads."""

import warnings

import numpy as np
import pytest
from tritensor.kernels import activations as A
from tritensor.kernels import activations_ref as R
from tritensor.kernels import host_threads
from tritensor.kernels import special as S

_UINT = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}
_SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 5e-324, -5e-324, 1.0, -1.0, 3e-8, -3e-8,
            88.7, -88.7, 104.0, -104.0, 710.0, -750.0, 1e30, -1e30, 65504.0, -65504.0]


def _inputs(dt, n, seed=0):
    """Special values, normal values and random bit patterns (every class of float), n + 24 elements."""
    rng = np.random.default_rng(seed)
    ut = _UINT[dt]
    with np.errstate(over="ignore"):
        special = np.array(_SPECIAL).astype(dt)
    raw = rng.integers(0, np.iinfo(ut).max, n // 2, dtype=ut, endpoint=True).view(dt)
    return np.concatenate([special, (rng.standard_normal(n - n // 2) * 8).astype(dt), raw])


def _bits(a):
    a = np.asarray(a)
    return a.view(f"u{a.dtype.itemsize}")


def _where_sigmoid(a):
    """The select np_sigmoid replaced."""
    e = np.exp(-np.abs(a))
    r = 1 / (1 + e)
    return np.where(a >= 0, r, e * r), np.where(a >= 0, e * r, r)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request, monkeypatch):
    """One or two host threads, relu and silu splitting from 1024 elements (their own thresholds are larger)."""
    monkeypatch.setattr(R, "_RELU_MIN", 1 << 10)
    monkeypatch.setattr(R, "_SILU_MIN", 1 << 10)
    before = host_threads.get_num_threads()
    host_threads.set_num_threads(request.param)
    yield request.param
    host_threads.set_num_threads(before)


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 300, 1001, (1 << 18) + 37])
def test_relu_refs_are_the_where_bits(dt, n, threads):
    x = _inputs(dt, n)
    g = _inputs(dt, n, seed=1)
    with np.errstate(all="ignore"):
        want = np.where(x < 0, dt(0), x)
        want_g = np.where(want <= 0, dt(0), g)
    y = A.relu_ref(x)
    assert y.dtype == dt and np.array_equal(_bits(y), _bits(want))
    (gx,) = A.relu_backward_ref(g, y)
    assert gx.dtype == dt and np.array_equal(_bits(gx), _bits(want_g))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 232, 300, 1001])
def test_relu_host_fn_is_the_where_bits(dt, n):
    # F.relu's hot path calls relu_ref's declared host function alone (small inputs: a masked copy, not np.where)
    x = _inputs(dt, n)
    want = np.where(x < 0, dt(0), x)
    assert np.array_equal(_bits(R.relu_ref.host_fn(x)), _bits(want))
    assert np.array_equal(_bits(R.relu_ref.host_fn(np.array(x[1]))), _bits(np.array(want[1])))  # 0-d -0.0


def test_relu_known_values():
    x = np.array([-2.0, -0.0, 0.0, np.nan, 3.0, -np.inf, np.inf] * 100, np.float32)
    y = A.relu_ref(x)[:7]
    np.testing.assert_array_equal(y, [0.0, 0.0, 0.0, np.nan, 3.0, 0.0, np.inf])
    assert list(np.signbit(y)) == [False, True, False, False, False, False, False]  # relu(-0.0) = -0.0, as PyTorch
    (g,) = A.relu_backward_ref(np.full(700, 5.0, np.float32), A.relu_ref(x))
    np.testing.assert_array_equal(g[:7], [0.0, 0.0, 0.0, 5.0, 5.0, 0.0, 5.0])


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.int64])
def test_relu_integers_keep_their_dtype(dt):
    x = (np.random.default_rng(0).standard_normal(3001) * 60).astype(dt)
    y = A.relu_ref(x)
    assert y.dtype == dt
    np.testing.assert_array_equal(y, np.where(x < 0, 0, x))


def test_keep_where_matches_np_where_for_broadcast_and_odd_dtypes():
    import ml_dtypes
    keep = np.random.default_rng(0).random((5, 300)) < 0.5
    for v in (np.arange(1500, dtype=np.float32).reshape(5, 300) - 700, np.ones((5, 300), ml_dtypes.bfloat16),
              np.broadcast_to(np.float64(-3.5), (5, 300)), np.arange(300, dtype=np.float32)):
        want = np.where(keep, v, v.dtype.type(0))
        got = R.keep_where(v, keep)
        assert got.dtype == want.dtype and np.array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 5, 64, 1001, 70000])
def test_np_sigmoid_is_the_select_bit_for_bit(dt, n):
    x = _inputs(dt, n)
    with np.errstate(all="ignore"):
        want = _where_sigmoid(x)
        got = S.np_sigmoid(x)
        one = S.np_sigmoid_one(x)
    for w, v in zip(want, got):
        assert v.dtype == dt and np.array_equal(_bits(v), _bits(w))
    assert np.array_equal(_bits(one), _bits(want[0]))


def test_np_sigmoid_zero_dim_and_strided():
    with np.errstate(all="ignore"):
        for x in (np.array(-3.0, np.float32), np.array(0.25), _inputs(np.float32, 400)[::3]):
            want, got = _where_sigmoid(x), S.np_sigmoid(x)
            assert all(np.array_equal(_bits(v), _bits(w)) for v, w in zip(got, want))
            assert np.array_equal(_bits(S.np_sigmoid_one(x)), _bits(want[0]))


def test_sigmoid_saturates_quietly():
    x = np.array([-1e4, -200.0, -89.0, 0.0, 89.0, 200.0, 1e4, -np.inf, np.inf], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = S.sigmoid_ref(x)
        s, t = S.np_sigmoid(x.astype(np.float64))
    np.testing.assert_array_equal(y[[0, 1, 3, 5, 6, 7, 8]], [0.0, 0.0, 0.5, 1.0, 1.0, 0.0, 1.0])
    assert 0 < y[2] < 1e-38  # a denormal, not flushed: e * r, not 1 - r
    np.testing.assert_array_equal(s + t, np.where(np.abs(x) < 40, 1.0, s + t))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", [7, 1001, (1 << 16) + 3])
def test_sigmoid_and_silu_refs_match_their_formulas(dt, n, threads):
    x = _inputs(dt, n)
    g = _inputs(dt, n, seed=2)
    with np.errstate(all="ignore"):
        s, t = _where_sigmoid(x)
        y = S.sigmoid_ref(x)
        want = {"sigmoid": s, "sigmoid_b": g * (y * (1 - y)), "silu": x * s, "silu_b": g * (s * (1 + x * t))}
        got = {"sigmoid": y, "sigmoid_b": S.sigmoid_backward_ref(g, y)[0], "silu": A.silu_ref(x),
               "silu_b": A.silu_backward_ref(g, x)[0]}
    for k in want:  # NaN inputs give NaN (payloads aside: NumPy's loops pick one NaN operand or another)
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        finite = ~np.isnan(want[k])
        assert np.array_equal(_bits(got[k])[finite], _bits(want[k])[finite]), k


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 1 << 16), (2 * (1 << 16) + 5,), (257, 300)], ids=["3blocks", "tail", "2d"])
def test_silu_refs_in_blocks_match_their_formulas(dt, shape):
    # silu's references run over blocks of 2^16 elements: block boundaries, a 2-D result, and the broadcast (strided)
    # gradient .sum().backward() hands in (multiplied once at the end) give the formulas' bits.
    n = int(np.prod(shape))
    x = _inputs(dt, n - 24).reshape(shape)
    g = _inputs(dt, n - 24, seed=3).reshape(shape)
    ones = np.broadcast_to(dt(1.5), shape)
    with np.errstate(all="ignore"):
        s, t = _where_sigmoid(x)
        want = {"silu": x * s, "silu_b": g * (s * (1 + x * t)), "silu_b1": ones * (s * (1 + x * t))}
        got = {"silu": A.silu_ref(x), "silu_b": A.silu_backward_ref(g, x)[0],
               "silu_b1": A.silu_backward_ref(ones, x)[0]}
    for k in want:
        assert got[k].shape == shape and got[k].dtype == dt, k
        finite = ~np.isnan(want[k])
        assert np.array_equal(np.isnan(got[k]), ~finite), k
        assert np.array_equal(_bits(got[k])[finite], _bits(want[k])[finite]), k
