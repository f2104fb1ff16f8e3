"""kernels/amp_scale.py in the interpreter against its NumPy references: the multi-tensor non-finite check and
unscale over many tensors of odd sizes (several chunks, masked tails, empty tensors) in every dtype, with inf
and NaN planted anywhere, found_inf left alone when everything is finite, aligned and unaligned tables; the
one-program scale update over PyTorch's cases; the references against hand-computed values."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import amp_scale as K
from tritensor.kernels import multi_tensor as M

from tests.conftest import as_device

SIZES = [0, 1, 7, 1023, 1025, 4097, 33, 0, 5]
DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16, np.float64]


def _group(arrays: list[np.ndarray], chunk_len: int = M.MIN_CHUNK):
    """A multi-tensor Group over host arrays (the table as tritensor/ops/foreach.py builds it)."""
    devs = [as_device(a) for a in arrays]
    sizes = [a.size for a in arrays]
    ctensor, cstart = M.build_table(sizes, chunk_len)
    table = [np.array([d.data_ptr() for d in devs], np.int64), np.array(sizes, np.int64), ctensor, cstart]
    keep = [as_device(t) for t in table]
    aligned = all(d.data_ptr() % 16 == 0 for d in devs)
    return M.Group(*keep, devs[0], sum(sizes), aligned, chunk_len), (devs, table)


def _arrays(rng, dtype, sizes=SIZES, offset: int = 0):
    """Random arrays (magnitudes up to ~1e3); offset > 0 starts each one element into its buffer (unaligned)."""
    out = []
    for n in sizes:
        buf = (rng.standard_normal(n + offset) * 300).astype(dtype)
        out.append(buf[offset:])
    return out


def _assert_matches(got: np.ndarray, want: np.ndarray) -> None:
    """Bit-equal, except bfloat16 within one ulp: Triton's interpreter truncates fp32 -> bf16 where a GPU
    rounds to nearest even (the reference's rounding)."""
    if got.dtype == ml_dtypes.bfloat16:
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=2.0**-7, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


def _run(arrays, found: float, inv: float):
    """The kernel over `arrays` in place and the reference over copies; returns (found, reference arrays, its
    found)."""
    want = [a.copy() for a in arrays]
    want_found = np.array([found], np.float32)
    K.non_finite_check_and_unscale_ref(want, want_found, np.array([inv], np.float32))
    group, _keep = _group(arrays)
    got_found = np.array([found], np.float32)
    K.non_finite_check_and_unscale(group, as_device(got_found), as_device(np.array([inv], np.float32)))
    return got_found[0], want, want_found[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inv", [2.0**-16, 0.375, 1.0])
def test_unscale_all_finite_matches_the_reference_and_leaves_found_inf(rng, dtype, inv):
    arrays = _arrays(rng, dtype)
    before = [a.copy() for a in arrays]
    got, want, want_found = _run(arrays, 0.0, inv)
    assert got == 0.0 and want_found == 0.0
    for a, w, b in zip(arrays, want, before):
        _assert_matches(a, w)  # the same fp32 (fp64) product, rounded the same way
        # inv has at most two significant bits, so the float64 product is exact and one rounding gives the answer
        np.testing.assert_array_equal(w, (b.astype(np.float64) * inv).astype(dtype))
    # A flag already set stays set (the op never resets it).
    got, _, _ = _run(_arrays(rng, dtype), 1.0, inv)
    assert got == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("where", [(0, 0), (2, 6), (4, 1024), (5, 4096), (5, 2000), (8, 4)])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_unscale_finds_a_planted_non_finite_value(rng, dtype, where, bad):
    # where: (tensor, element): the first element, a masked tail, a full block's tail lane, a second chunk, ...
    sizes = [3, 1, 7, 0, 1025, 4097, 33, 0, 5]
    arrays = _arrays(rng, dtype, sizes)
    arrays[where[0]][where[1]] = bad
    got, want, want_found = _run(arrays, 0.0, 0.25)
    assert got == 1.0 and want_found == 1.0
    for a, w in zip(arrays, want):
        _assert_matches(a, w)  # every tensor is still unscaled, the bad value kept (inf * 0.25 = inf)
    assert np.isnan(arrays[where[0]][where[1]]) == np.isnan(bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_unscale_unaligned_tables(rng, dtype):
    arrays = _arrays(rng, dtype, [1029, 3, 4100], offset=1)
    group, _keep = _group(arrays)
    assert not group.aligned
    arrays[2][4099] = np.inf
    got, want, _ = _run(arrays, 0.0, 0.5)
    assert got == 1.0
    for a, w in zip(arrays, want):
        _assert_matches(a, w)


def test_unscale_overflow_into_16_bit_and_inv_scale_of_one(rng):
    # Scaling up may overflow a float16 to inf: the check is on the value before scaling, so no flag.
    a = np.array([60000.0, -60000.0, 1.0], np.float16)
    with np.errstate(over="ignore"):  # the interpreter's NumPy cast warns of the overflow a GPU just rounds
        got, want, _ = _run([a], 0.0, 2.0)
    assert got == 0.0
    np.testing.assert_array_equal(a, [np.inf, -np.inf, 2.0])
    np.testing.assert_array_equal(a, want[0])
    b = np.array([np.nan, 1.5], np.float32)
    got, _, _ = _run([b], 0.0, 1.0)
    assert got == 1.0 and b[1] == 1.5


def test_unscale_reference_known_values():
    g32 = np.array([4.0, -8.0, 1e-3], np.float32)
    g16 = np.array([3.0, 65504.0], np.float16)
    gbf = np.array([1.0, 3.0], ml_dtypes.bfloat16)
    g64 = np.array([1.0 / 3.0], np.float64)
    found = np.zeros((), np.float32)
    K.non_finite_check_and_unscale_ref([g32, g16, gbf, g64], found, np.array(0.25, np.float32))
    assert found == 0.0
    np.testing.assert_array_equal(g32, np.array([1.0, -2.0, np.float32(1e-3) * np.float32(0.25)], np.float32))
    np.testing.assert_array_equal(g16, np.array([0.75, 16376.0], np.float16))
    np.testing.assert_array_equal(gbf.astype(np.float32), [0.25, 0.75])
    assert g64[0] == (1.0 / 3.0) * 0.25
    K.non_finite_check_and_unscale_ref([np.array([np.nan], np.float16)], found, np.array(0.25, np.float32))
    assert found == 1.0


# ---------------------------------------------------------------- the scale update
def _update(scale: float, tracker: int, found: float, growth: float, backoff: float, interval: int):
    """(kernel's (scale, tracker), reference's (scale, tracker))."""
    s, t, f = np.array([scale], np.float32), np.array([tracker], np.int32), np.array([found], np.float32)
    K.update_scale(as_device(s), as_device(t), as_device(f), growth, backoff, interval)
    rs, rt = np.array([scale], np.float32), np.array([tracker], np.int32)
    K.update_scale_ref(rs, rt, np.array([found], np.float32), growth, backoff, interval)
    return (s[0], int(t[0])), (rs[0], int(rt[0]))


@pytest.mark.parametrize("case,expected", [
    ((65536.0, 5, 1.0, 2.0, 0.5, 2000), (32768.0, 0)),  # found: back off, reset
    ((65536.0, 5, np.nan, 2.0, 0.5, 2000), (32768.0, 0)),  # NaN is nonzero: found
    ((65536.0, 5, 2.0, 2.0, 0.5, 2000), (32768.0, 0)),  # a sum of several flags
    ((65536.0, 5, 0.0, 2.0, 0.5, 2000), (65536.0, 6)),  # clean: count
    ((65536.0, 1999, 0.0, 2.0, 0.5, 2000), (131072.0, 0)),  # clean, interval reached: grow, reset
    ((3e38, 2, 0.0, 2.0, 0.5, 3), (3e38, 0)),  # growing would overflow to inf: kept, but reset
    ((2.0**127, 2, 0.0, 2 - 2.0**-24, 0.5, 3), (2.0**127, 0)),  # the product is fp32's tie to inf: kept
    ((2.0**127, 2, 0.0, 2 - 2.0**-24 - 2.0**-50, 0.5, 3), (np.finfo(np.float32).max, 0)),  # just below: max
    ((1.0, 0, 0.0, 2.0, 0.5, 1), (2.0, 0)),  # interval 1: grow every step
    ((1.0, 7, 0.0, 2.0, 0.5, 3), (1.0, 8)),  # past the interval (set_growth_interval lowered it): never equal
])
def test_update_scale_cases(case, expected):
    got, want = _update(*case)
    assert got == want
    assert want == (np.float32(expected[0]), expected[1])


def test_update_scale_products_in_float64_rounded_to_float32():
    # 1.1 and 0.3 are not fp32 numbers: PyTorch multiplies the fp32 scale by the double factor, then rounds.
    scale = np.float32(1000.0402)
    got, want = _update(float(scale), 2, 0.0, 1.1, 0.3, 3)
    assert got == want == (np.float32(np.float64(scale) * 1.1), 0)
    assert np.float32(np.float64(scale) * 1.1) != np.float32(scale) * np.float32(1.1)  # the case tells them apart
    got, want = _update(float(scale), 2, 1.0, 1.1, 0.3, 3)
    assert got == want == (np.float32(np.float64(scale) * 0.3), 0)
