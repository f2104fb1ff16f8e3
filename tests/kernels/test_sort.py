"""sort / argsort / topk in Triton's interpreter against their NumPy references; the scatter
backward against its reference and the reference against central finite differences."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import sort as S

from tests.conftest import as_device

BF16 = ml_dtypes.bfloat16
ALL = [np.float32, np.float16, BF16, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_]


def _values(dt, shape, rng):
    if dt == np.bool_:
        return rng.integers(0, 2, shape).astype(dt)
    if np.dtype(dt).kind in "iu":
        lo = 0 if dt == np.uint8 else -4
        return rng.integers(lo, 5, shape).astype(dt)  # many ties
    x = rng.integers(-4, 5, shape).astype(np.float64) / 2  # ties, exactly representable
    x.flat[::7] = -0.0
    x.flat[3::11] = np.nan
    x.flat[5::13] = np.inf
    x.flat[6::17] = -np.inf
    return x.astype(dt)


def _same(a, b):
    np.testing.assert_array_equal(np.asarray(a).astype(np.float64), np.asarray(b).astype(np.float64))


def _sort(x2, descending):
    v = np.zeros(x2.shape, x2.dtype)
    i = np.full(x2.shape, -1, np.int64)
    S.sort(as_device(v), as_device(i), as_device(x2), descending=descending)
    return v, i


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dt", ALL)
def test_sort_stable_with_nan_ties_and_signed_zero(rng, dt, descending):
    x = _values(dt, (4, 37), rng)
    v, i = _sort(x, descending)
    rv, ri = S.sort_ref(x, -1, descending)
    assert i.tolist() == ri.tolist()  # stable: equal keys keep their input order
    _same(v, rv)
    assert np.signbit(v.astype(np.float64)).sum() == np.signbit(x.astype(np.float64)).sum()  # exact bits


def test_nan_placement_matches_pytorch():
    x = np.array([[np.nan, 1.0, np.inf, -np.inf, np.nan, 0.0]], np.float32)
    v, i = _sort(x, False)
    assert i.tolist() == [[3, 5, 1, 2, 0, 4]]  # NaNs last ascending, after +inf
    v, i = _sort(x, True)
    assert i.tolist() == [[0, 4, 2, 1, 5, 3]]  # and first descending


def test_strided_rows_and_columns(rng):
    x = rng.standard_normal((31, 6)).astype(np.float32)
    xt = x.T  # sort along the strided axis
    v, i = _sort(xt, False)
    rv, ri = S.sort_ref(x, 0, False)
    assert i.tolist() == ri.T.tolist()
    _same(v, rv.T)
    b = np.broadcast_to(rng.standard_normal(9).astype(np.float64), (3, 9))  # stride-0 rows
    v, i = _sort(b, True)
    assert (i == S.argsort_ref(b, -1, True)).all()


@pytest.mark.parametrize("n", [1, 2, 3, 700, 3000])
def test_lengths_and_padding(rng, n):
    x = rng.standard_normal((1, n)).astype(np.float32)
    x[0, -1] = np.float32(np.finfo(np.float32).max)  # real values at the top of the key range
    x[0, 0] = np.nan
    v, i = _sort(x, False)
    assert i.tolist() == S.argsort_ref(x).tolist()


@pytest.mark.parametrize("n", [2, 3, 700, 2100])
def test_padding_key_as_real_data(n):
    xi = np.full((1, n), np.iinfo(np.int64).max, np.int64)  # the padding key itself, as real data
    xi[0, n // 2] = np.iinfo(np.int64).min
    for desc in (False, True):
        v, i = _sort(xi, desc)
        assert i.tolist() == S.argsort_ref(xi, -1, desc).tolist()
        _same(v, S.sort_ref(xi, -1, desc)[0])


def test_rows_too_long_raise():
    x = np.zeros((1, S.MAX_SORT_R + 1), np.float32)
    with pytest.raises(ValueError):
        _sort(x, False)
    with pytest.raises(ValueError):
        v, i = np.zeros((1, 3), np.float32), np.zeros((1, 3), np.int64)
        S.topk(as_device(v), as_device(i), as_device(x), 3)


@pytest.mark.parametrize("dt", [np.float32, BF16, np.int32])
def test_argsort(rng, dt):
    x = _values(dt, (3, 50), rng)
    for desc in (False, True):
        i = np.zeros(x.shape, np.int64)
        S.argsort(as_device(i), as_device(x), descending=desc)
        assert i.tolist() == S.argsort_ref(x, -1, desc).tolist()


@pytest.mark.parametrize("k", [1, 5, 40])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int64])
def test_topk(rng, dt, largest, k):
    x = _values(dt, (3, 40), rng)
    v = np.zeros((3, k), dt)
    i = np.zeros((3, k), np.int64)
    S.topk(as_device(v), as_device(i), as_device(x), k, largest=largest)
    rv, ri = S.topk_ref(x, k, -1, largest)
    _same(v, rv)
    assert i.tolist() == ri.tolist()
    np.testing.assert_array_equal(np.take_along_axis(x, i, 1).astype(np.float64), v.astype(np.float64))


# ---------------------------------------------------------------- backward
@pytest.mark.parametrize("dt", [np.float32, np.float64, BF16])
def test_sort_and_topk_backward(rng, dt):
    x = rng.standard_normal((3, 21)).astype(dt)
    v, i = _sort(x, True)
    g = rng.standard_normal(x.shape).astype(dt)
    gx = np.full(x.shape, 9, dt)
    S.sort_backward(as_device(gx), as_device(g), as_device(i))
    _same(gx, S.sort_backward_ref(g, x, i)[0])
    k = 4
    tv, ti = np.zeros((3, k), dt), np.zeros((3, k), np.int64)
    S.topk(as_device(tv), as_device(ti), as_device(x), k)
    gk = rng.standard_normal((3, k)).astype(dt)
    gx = np.full(x.T.shape, 9, dt).T  # garbage everywhere, strided: the scatter must zero the rest
    S.topk_backward(as_device(gx), as_device(gk), as_device(ti))
    _same(gx, S.topk_backward_ref(gk, x, ti)[0])
    assert (gx != 0).sum() == 3 * k


def test_backward_refs_vs_finite_differences(rng):
    x = rng.standard_normal((3, 7))  # distinct values: sort is locally a permutation
    g = rng.standard_normal(x.shape)
    eps = 1e-6
    for axis in (0, 1):
        for desc in (False, True):
            _, i = S.sort_ref(x, axis, desc)
            fd = np.zeros_like(x)
            for idx in np.ndindex(x.shape):
                xp, xm = x.copy(), x.copy()
                xp[idx] += eps
                xm[idx] -= eps
                diff = S.sort_ref(xp, axis, desc)[0] - S.sort_ref(xm, axis, desc)[0]
                fd[idx] = np.sum(diff * g) / (2 * eps)
            np.testing.assert_allclose(S.sort_backward_ref(g, x, i, axis)[0], fd, rtol=1e-6, atol=1e-8)
    gk = rng.standard_normal((3, 2))
    _, ti = S.topk_ref(x, 2, -1, False)
    fd = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        fd[idx] = np.sum((S.topk_ref(xp, 2, -1, False)[0] - S.topk_ref(xm, 2, -1, False)[0]) * gk) / (2 * eps)
    np.testing.assert_allclose(S.topk_backward_ref(gk, x, ti)[0], fd, rtol=1e-6, atol=1e-8)


def test_tuning_spaces_keep_the_row_block():
    """The sort network needs exactly next_pow2(R) slots: every candidate keeps the key's BLOCK (only the
    warps vary), starts with the heuristic and is compiled by the AOT check."""
    for n in range(1, 13):
        key = (False, True, "float32", 64, 2**n)
        configs = S.SORT_TUNING.configs(key, "max")
        assert configs[0] == S.SORT_TUNING.heuristic(key) == S._block_config(2**n) and len(configs) >= 2
        assert all(c["BLOCK"] == 2**n and c["N_DIMS"] == n for c in configs)
        assert all(c in S.SPECS[0].space for c in configs)
    assert S.SCATTER_TUNING.all_configs()[0] == S.SCATTER and len(S.SCATTER_TUNING.all_configs()) >= 2


def test_the_width_rule_binds_rows_of_16_bytes_per_thread():
    """A sort config is memory-bound (its aligned build must reach 128-bit accesses) exactly when its row
    gives each thread 16 bytes: short rows are the network's work, not traffic."""
    specs = {s.name: s for s in S.SPECS}
    assert not specs["sort.sort[fp32]"].bound_by_memory(S._block_config(128))
    assert specs["sort.sort[fp32:desc]"].bound_by_memory(S._block_config(1024))
    assert specs["sort.sort[bf16]"].bound_by_memory(S._block_config(2048))
    assert not specs["sort.sort[bf16]"].bound_by_memory(S._block_config(64))
    assert not specs["sort.sort[u8:desc]"].bound_by_memory(S._block_config(16))
    assert specs["sort.sort[i64]"].bound_by_memory(S._block_config(4096))
