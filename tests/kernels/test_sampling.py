"""bernoulli / multinomial kernels in Triton's interpreter against their NumPy references: the same draws give
the same samples, bad probabilities are reported through the error word, and the references themselves
sample the right distributions."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import sampling as S

from tests.conftest import as_device

# Masked-off lanes compute on placeholder values in the interpreter (x / 0): NumPy warns for values never stored.

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float64, np.float16, BF16]


def word():
    return np.zeros(2, np.int64)


# ================================================================ bernoulli
@pytest.mark.parametrize("p_dt", FLOATS)
@pytest.mark.parametrize("out_dt", [np.float32, BF16, np.int64, np.bool_])
def test_bernoulli_tensor_p_strided_and_broadcast(rng, p_dt, out_dt):
    u = rng.random((6, 9), dtype=np.float32)
    p_rows = np.ascontiguousarray(rng.random((9, 6)).astype(p_dt)).T  # transposed probabilities
    p_bcast = np.broadcast_to(rng.random((1, 9)).astype(p_dt), (6, 9))  # stride 0
    for p in (p_rows, p_bcast):
        out = np.zeros((6, 9), out_dt)
        err = word()
        S.bernoulli(as_device(out), as_device(u), as_device(p), as_device(err), 7)
        np.testing.assert_array_equal(out, S.bernoulli_ref(u, p, out_dt))
        np.testing.assert_array_equal(out.astype(bool), u < p.astype(np.float64))
        assert err.tolist() == [0, 0]


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_bernoulli_number_p(rng, p):
    u = rng.random(1000, dtype=np.float32)
    out = np.zeros(1000, np.float16)
    S.bernoulli(as_device(out), as_device(u), p, as_device(word()), 0)
    np.testing.assert_array_equal(out, S.bernoulli_ref(u, p, np.float16))
    if p in (0.0, 1.0):  # p = 0 never draws, p = 1 always does (u < 1)
        assert np.all(out == p)


def test_bernoulli_reports_probabilities_outside_the_unit_interval():
    u = np.full(5, 0.5, np.float32)
    p = np.array([0.1, 1.5, 0.2, np.nan, -0.1], np.float32)
    err = word()
    S.bernoulli(as_device(np.zeros(5, np.float32)), as_device(u), as_device(p), as_device(err), 9)
    assert err[0] == 9 and err[1] in (1, 3, 4)
    assert S.bernoulli_invalid_ref(p) and not S.bernoulli_invalid_ref(np.array([0.0, 1.0], np.float16))


# ================================================================ multinomial: race
def _race_draws(rng, shape, dt):
    return np.maximum(rng.standard_exponential(shape, dtype=S.draw_dtype(dt)), np.finfo(S.draw_dtype(dt)).tiny)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("k", [1, 4])
def test_race_matches_reference(rng, dt, k):
    p = rng.random((3, 1100)).astype(dt)  # more categories than one loop step
    p[:, 5:50] = 0
    q = _race_draws(rng, p.shape, dt)
    out = np.zeros((3, k), np.int64)
    err = word()
    S.multinomial_race(as_device(out), as_device(p), as_device(q), as_device(err), 1, 2)
    np.testing.assert_array_equal(out, S.multinomial_race_ref(p, q, k))
    assert err.tolist() == [0, 0]


def test_race_without_replacement_all_categories_1d_strided(rng):
    p = rng.random(40)[::2]  # a strided 1-D row
    p[[3, 7]] = 0
    q = _race_draws(rng, (1, 20), np.float64)
    out = np.zeros(20, np.int64)
    S.multinomial_race(as_device(out), as_device(p), as_device(q), as_device(word()), 1, 2)
    np.testing.assert_array_equal(out, S.multinomial_race_ref(p, q, 20))
    assert sorted(out.tolist()) == list(range(20))  # distinct: a permutation
    assert set(out[-2:].tolist()) == {3, 7}  # zero-probability categories come last, lower index first
    assert out[-2] == 3


def test_race_ties_go_to_the_lower_index():
    p = np.ones((1, 6), np.float32)
    q = np.ones((1, 6), np.float32)
    out = np.zeros((1, 6), np.int64)
    S.multinomial_race(as_device(out), as_device(p), as_device(q), as_device(word()), 1, 2)
    assert out.tolist() == [[0, 1, 2, 3, 4, 5]] == S.multinomial_race_ref(p, q, 6).tolist()


@pytest.mark.parametrize("row,code", [([0.5, -1.0, 0.5], 1), ([0.5, np.inf, 0.5], 1), ([np.nan, 1.0, 1.0], 1),
                                      ([0.0, 0.0, 0.0], 2)])
def test_race_reports_bad_rows(row, code):
    p = np.array([[0.2, 0.3, 0.5], row], np.float32)
    err = word()
    S.multinomial_race(as_device(np.zeros((2, 1), np.int64)), as_device(p), as_device(np.ones_like(p)),
                       as_device(err), 1, 2)
    assert err[0] == code
    assert S.multinomial_invalid_ref(p, race=True) == ("zero" if code == 2 else "bad")


# ================================================================ multinomial: inverse CDF
@pytest.mark.parametrize("dt", FLOATS)
def test_cdf_matches_reference(rng, dt):
    p = rng.random((2, 1030)).astype(dt)
    p[:, 100:600] = 0
    p[:, -3:] = 0  # trailing zeros: the last positive category is the fallback at the total
    u = rng.random((2, 37), dtype=S.draw_dtype(dt))
    u[0, :3] = [0.0, np.nextafter(u.dtype.type(1), u.dtype.type(0)), 0.5]
    out = np.zeros((2, 37), np.int64)
    err = word()
    S.multinomial_cdf(as_device(out), as_device(p), as_device(u), as_device(err), 1, 2, 3)
    np.testing.assert_array_equal(out, S.multinomial_cdf_ref(p, u))
    assert err.tolist() == [0, 0]
    assert np.all(p[np.arange(2)[:, None], out] > 0)  # zero-probability categories are never drawn


def test_cdf_1d_and_transposed_probabilities(rng):
    p = np.ascontiguousarray(rng.random((5, 3))).T  # (3, 5) with strides (1, 3)
    u = rng.random((3, 20))
    out = np.zeros((20, 3), np.int64).T  # a transposed output
    S.multinomial_cdf(as_device(out), as_device(p), as_device(u), as_device(word()), 1, 2, 3)
    np.testing.assert_array_equal(out, S.multinomial_cdf_ref(p, u))
    out1 = np.zeros(20, np.int64)
    S.multinomial_cdf(as_device(out1), as_device(p[1]), as_device(u[1]), as_device(word()), 1, 2, 3)
    np.testing.assert_array_equal(out1, S.multinomial_cdf_ref(p[1], u[1]))


@pytest.mark.parametrize("row,code,kind", [([0.5, -1.0, np.inf], 1, "negative"), ([0.5, np.inf, -1.0], 2, "infinite"),
                                           ([np.nan, 1.0, 1.0], 1, "negative"), ([0.0, 0.0, 0.0], 3, "zero")])
def test_cdf_reports_bad_rows(row, code, kind):
    p = np.array([row], np.float32)
    err = word()
    with np.errstate(invalid="ignore"):
        S.multinomial_cdf(as_device(np.zeros((1, 2), np.int64)), as_device(p), as_device(np.zeros((1, 2), np.float32)),
                          as_device(err), 1, 2, 3)
    if np.isinf(row).any() and np.any(np.array(row) < 0):
        assert err[0] in (1, 2)  # both kinds in one row: either code (PyTorch's cpu names the first one met)
    else:
        assert err[0] == code
    assert S.multinomial_invalid_ref(p, race=False) == kind


# ================================================================ the references sample the right distributions
def test_references_draw_the_distribution(rng):
    p = np.array([0.1, 0.0, 0.2, 0.7])
    n = 20000
    cdf = S.multinomial_cdf_ref(p, rng.random((1, n)))
    race = np.concatenate([S.multinomial_race_ref(p, rng.standard_exponential((1, 4)), 1) for _ in range(4000)])
    for picks, count in ((cdf, n), (race, 4000)):
        freq = np.bincount(picks.ravel(), minlength=4) / count
        sigma = np.sqrt(p * (1 - p) / count)
        assert freq[1] == 0
        assert np.all(np.abs(freq - p) <= 5 * sigma + 1e-12)
    # without replacement, the first two of the race: P(first = 3) = 0.7, P(second = 3 | first = 2) = 0.7 / 0.8
    pairs = np.array([S.multinomial_race_ref(p, rng.standard_exponential((1, 4)), 2) for _ in range(4000)])
    assert np.all(pairs[:, 0] != pairs[:, 1]) and not np.any(pairs == 1)
    first2 = pairs[pairs[:, 0] == 2]
    share = np.mean(first2[:, 1] == 3)
    assert abs(share - 0.875) <= 5 * np.sqrt(0.875 * 0.125 / len(first2))


def test_the_width_rule_binds_steps_of_16_bytes_per_thread():
    """Multinomial configs are memory-bound where a row step gives each thread 16 bytes (long rows) and
    exempt where the row is shorter than that (a per-row race / search over a handful of categories)."""
    specs = {s.name: s for s in S.SPECS}
    race, cdf = specs["sampling.multinomial_race[fp32]"], specs["sampling.multinomial_cdf[fp32]"]
    assert race.bound_by_memory(dict(BLOCK=512, num_warps=4)) and not race.bound_by_memory(dict(BLOCK=256, num_warps=4))
    assert specs["sampling.multinomial_race[fp64]"].bound_by_memory(dict(BLOCK=256, num_warps=4))
    assert cdf.bound_by_memory(dict(BLOCK_N=128, BLOCK_K=64, num_warps=4))
    assert not cdf.bound_by_memory(dict(BLOCK_N=16, BLOCK_K=64, num_warps=4))
    assert specs["sampling.bernoulli[fp32:fp32:tensor]"].bound_by_memory(dict(BLOCK=1024, num_warps=4))
