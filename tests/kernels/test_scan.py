"""cumsum / cumprod in Triton's interpreter against their NumPy references; the references'
gradients against central finite differences in float64."""


import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import scan as S
from tritensor.kernels import tuning

from tests.conftest import as_device
from tests.kernels.tuning_helpers import every_config, split_small_problems


@pytest.fixture(autouse=True)
def _split_small(monkeypatch):
    split_small_problems(monkeypatch)

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float16, BF16, np.float64]
TOL = {np.float32: 1e-5, np.float16: 2e-3, BF16: 1.6e-2, np.float64: 1e-12}


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _close(got, want, dt, scale=1.0):
    np.testing.assert_allclose(_f64(got), _f64(want), rtol=TOL[dt], atol=TOL[dt] * scale)


def _scan(fn, x2, out_dtype, out=None):
    out = np.full(x2.shape, 77, out_dtype) if out is None else out
    fn(as_device(out), as_device(x2))
    return out


@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("dt", FLOATS)
def test_float_scans(rng, dt, axis):
    x = rng.standard_normal((5, 29))
    x2 = (x if axis == 1 else x.T).astype(dt)  # axis 0: a column scan over a strided view
    _close(_scan(S.cumsum, x2, dt), S.cumsum_ref(x2, 1), dt, scale=8)
    xp = (1 + 0.05 * x if axis == 1 else 1 + 0.05 * x.T).astype(dt)
    _close(_scan(S.cumprod, xp, dt), S.cumprod_ref(xp, 1), dt, scale=2)


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.int64, np.bool_])
def test_integer_scans_give_int64(rng, dt):
    x = rng.integers(0 if dt in (np.uint8, np.bool_) else -3, 2 if dt == np.bool_ else 4, (3, 21)).astype(dt)
    assert _scan(S.cumsum, x, np.int64).tolist() == S.cumsum_ref(x, 1).tolist()
    assert _scan(S.cumprod, x.T, np.int64).tolist() == S.cumprod_ref(x.T, 1).tolist()


def test_int8_cumsum_does_not_overflow():
    x = np.full((1, 300), 100, np.int8)
    assert _scan(S.cumsum, x, np.int64)[0, -1] == 30000


def test_long_rows_carry_between_chunks(rng):
    x = rng.standard_normal((2, 2500))  # three BLOCK_R chunks
    _close(_scan(S.cumsum, x, np.float64), S.cumsum_ref(x, 1), np.float64, scale=100)
    xp = 1 + 1e-3 * x
    _close(_scan(S.cumprod, xp, np.float64), S.cumprod_ref(xp, 1), np.float64)
    g = rng.standard_normal((2, 2500))
    gx = np.zeros_like(g)
    S.cumsum_backward(as_device(gx), as_device(g))
    _close(gx, S.cumsum_backward_ref(g, x, 1)[0], np.float64, scale=100)


def test_broadcast_input_and_strided_output(rng):
    row = rng.standard_normal(9).astype(np.float32)
    x2 = np.broadcast_to(row, (4, 9))
    out = np.zeros((9, 4), np.float32).T  # transposed output
    _scan(S.cumsum, x2, np.float32, out=out)
    np.testing.assert_allclose(out, np.broadcast_to(np.cumsum(row), (4, 9)), rtol=1e-6)


def test_nan_and_inf_propagate():
    x = np.array([[1.0, np.nan, 2.0, 3.0], [1.0, np.inf, 0.0, 2.0]], np.float32)
    s = _scan(S.cumsum, x, np.float32)
    with np.errstate(invalid="ignore"):
        p = _scan(S.cumprod, x, np.float32)
    np.testing.assert_array_equal(s, S.cumsum_ref(x, 1))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(p, S.cumprod_ref(x, 1))  # inf * 0 = NaN, then NaN onwards


# ---------------------------------------------------------------- backward
@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("dt", [np.float32, np.float64, BF16])
def test_backward_kernels(rng, dt, axis):
    x = (rng.standard_normal((4, 23)) + 2.0)
    x[1, 5] = 0  # one zero
    x[2, [3, 9]] = 0  # two zeros
    x[3, 0] = 0  # a zero first
    x = x.astype(dt)
    x2 = x if axis == 1 else np.asfortranarray(x)  # same values, strided rows
    g = rng.standard_normal(x.shape).astype(dt)
    gx = np.full(x.shape, 5, dt)
    S.cumsum_backward(as_device(gx), as_device(g))
    _close(gx, S.cumsum_backward_ref(g, x, 1)[0], dt, scale=8)
    y = _scan(S.cumprod, x2, dt)
    gx = np.full(x.shape, 5, dt)
    S.cumprod_backward(as_device(gx), as_device(g), as_device(x2), as_device(y))
    ref = S.cumprod_backward_ref(g, x, y, 1)[0]
    scale = np.abs(_f64(ref)).max()
    _close(gx, ref, dt, scale=scale)


def test_cumprod_backward_zero_rules(rng):
    x = np.array([[2.0, 3.0, 0.0, 4.0, 5.0, 0.0, 7.0]])
    g = rng.standard_normal(x.shape)
    y = _scan(S.cumprod, x, np.float64)
    gx = np.zeros_like(x)
    S.cumprod_backward(as_device(gx), as_device(g), as_device(x), as_device(y))
    assert (gx[0, 3:] == 0).all()  # after the first zero: every later output holds that zero
    # At the first zero: d/dx2 of sum_j g_j y_j = 2*3 * (g2 + g3*4 + g4*4*5).
    np.testing.assert_allclose(gx[0, 2], 6 * (g[0, 2] + 4 * g[0, 3] + 20 * g[0, 4]), rtol=1e-12)
    np.testing.assert_allclose(gx, S.cumprod_backward_ref(g, x, y, 1)[0], rtol=1e-12)


def _fd(f, x, g, eps=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        grad[idx] = np.sum((f(xp) - f(xm)) * g) / (2 * eps)
    return grad


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_backward_refs_vs_finite_differences(rng, axis):
    x = rng.standard_normal((4, 3, 5)) + 1.5
    x[1, 2, 3] = 0
    x[2, 0, 1] = 0
    x[0, 1, :2] = 0
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(S.cumsum_backward_ref(g, x, axis)[0],
                               _fd(lambda a: S.cumsum_ref(a, axis), x, g), rtol=1e-6, atol=1e-7)
    y = S.cumprod_ref(x, axis)
    np.testing.assert_allclose(S.cumprod_backward_ref(g, x, y, axis)[0],
                               _fd(lambda a: S.cumprod_ref(a, axis), x, g), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape,axis", [((4, 300), 1), ((3, 2500), 1), ((40, 7), 0)])
def test_every_config_in_the_space_matches_the_reference(rng, shape, axis):
    """Every candidate the tuner may time (chunks carried across, rows side by side) scans alike."""
    x = (rng.standard_normal(shape) * 0.1 + 1.0).astype(np.float32)
    x[0, 3] = 0
    x2 = x if axis == 1 else np.asfortranarray(x)
    g = rng.standard_normal(shape).astype(np.float32)
    y = S.cumprod_ref(x, 1)
    for i in range(6):
        with every_config(i):
            _close(_scan(S.cumsum, x2, np.float32), S.cumsum_ref(x, 1), np.float32, scale=8)
            _close(_scan(S.cumprod, x2, np.float32), y, np.float32, scale=np.abs(y).max())
            gx = np.full(shape, 5, np.float32)
            S.cumprod_backward(as_device(gx), as_device(g), as_device(x2), as_device(y))
            ref = S.cumprod_backward_ref(g, x, y, 1)[0]
            _close(gx, ref, np.float32, scale=np.abs(ref).max())
    for key in [(np.float32, 64, rb, contiguous) for rb in (1, 16, 256, 4096) for contiguous in (False, True)]:
        for tunable, spec in ((S.SCAN_TUNING, "scan.cumsum[fp32]"), (S.CUMPROD_BACKWARD_TUNING,
                                                                    "scan.cumprod_backward[fp32]")):
            configs = tunable.configs(key, "max")
            assert configs[0] == tunable.heuristic(key) and len(configs) >= 2
            space = next(s.space for s in S.SPECS if s.name == spec)  # what the AOT check's --full compiles
            assert all(c in space for c in configs)


# ---------------------------------------------------------------- the split (reduce-then-scan) path
def _split_scan(fn, x2, out_dtype):
    """fn with the scratch the op layer would allocate; asserts the rows are split."""
    n = S.scratch_numel(as_device(x2))
    assert n > 0, "these sizes must split"
    out = np.full(x2.shape, 77, out_dtype)
    fn(as_device(out), as_device(x2), scratch=as_device(np.zeros(n, np.int64)))
    return out


# Forward error of a prefix computed in floating point: |got - exact| <= depth * u * sum_{j<=i} |x_j| to first
# order, where depth is the longest chain of roundings into it. Here: the carry scan over <= 4 x 132 chunk
# totals (a tree of depth <= 10 per 256-chunk step, a chain across steps), each total a tree over its chunk
# (<= 10 levels + one chain link per 1024-block), and the in-chunk scan (<= 10 levels + one link per block):
# well under 200 for 100 k elements, so 200 * u bounds the relative error against |x|'s prefix sums.
U = {np.float64: 2.0**-53, np.float32: 2.0**-24}


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_long_1d_cumsum_matches_numpy(rng, dt):
    x = rng.standard_normal((1, 100_000)).astype(dt)
    got = _split_scan(S.cumsum, x, dt)
    want = np.cumsum(x.astype(np.float64), axis=1)
    bound = 200 * U[dt] * np.cumsum(np.abs(x.astype(np.float64)), axis=1)
    assert (np.abs(got.astype(np.float64) - want) <= bound).all()
    rev = _split_scan(S.cumsum_backward, x, dt)
    want_rev = np.flip(np.cumsum(np.flip(x.astype(np.float64), 1), 1), 1)
    bound_rev = 200 * U[dt] * np.flip(np.cumsum(np.flip(np.abs(x.astype(np.float64)), 1), 1), 1)
    assert (np.abs(rev.astype(np.float64) - want_rev) <= bound_rev).all()


@pytest.fixture
def sms(monkeypatch):
    """A 4-SM GPU: small inputs already split (the interpreter runs every program one after the other)."""
    monkeypatch.setattr(tuning, "_sm_count", 4)
    return 4


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape,axis", [((2, 5000 + 3), 1), ((3, 700), 0)])
def test_split_scans_match_the_references(sms, rng, dt, shape, axis):
    x = rng.standard_normal(shape)
    x2 = (x if axis == 1 else x.T.copy().T).astype(dt)  # axis 0: (3, 700) rows read with stride 3
    _close(_split_scan(S.cumsum, x2, dt), S.cumsum_ref(x2, 1), dt, scale=100)
    _close(_split_scan(S.cumsum_backward, x2, dt), S.cumsum_backward_ref(x2, x2, 1)[0], dt, scale=100)
    xp = (1 + 1e-3 * x2.astype(np.float64)).astype(dt)
    _close(_split_scan(S.cumprod, xp, dt), S.cumprod_ref(xp, 1), dt, scale=10)


def test_split_integer_scans_are_exact(sms, rng):
    x = rng.integers(-5, 6, (2, 7000)).astype(np.int32)
    assert (_split_scan(S.cumsum, x, np.int64) == np.cumsum(x.astype(np.int64), 1)).all()
    b = rng.integers(0, 2, (1, 7000)).astype(np.bool_)
    assert (_split_scan(S.cumsum, b, np.int64) == np.cumsum(b, 1)).all()
    signs = np.where(rng.integers(0, 2, (1, 5000)) > 0, 1, -1).astype(np.int64)
    assert (_split_scan(S.cumprod, signs, np.int64) == np.cumprod(signs, 1)).all()


def test_split_scans_are_deterministic_and_fill_the_gpu(sms, rng):
    x = rng.standard_normal((1, 65536)).astype(np.float32)
    a, b = _split_scan(S.cumsum, x, np.float32), _split_scan(S.cumsum, x, np.float32)
    assert a.tobytes() == b.tobytes()
    grids = {}

    def observe(record):
        chunks = record.sizes.get("C", 1) if record.tunable is S.SCAN_TOTALS_TUNING else 1
        grids[record.tunable.name] = -(-record.sizes["M"] // record.config["BLOCK_M"]) * chunks

    tuning.add_observer(observe)
    try:
        _split_scan(S.cumsum, x, np.float32)
    finally:
        tuning.remove_observer(observe)
    assert grids[S.SCAN_TOTALS_TUNING.name] >= 2 * sms and grids[S.SCAN_CARRY_TUNING.name] == 1
    assert S.scratch_numel(as_device(np.ones((4096, 300), np.float32))) == 0  # many rows: the row kernel alone


def test_split_spaces_start_with_the_heuristic_and_are_compiled():
    for key in [("sum", False, "float32", 1, rb, c) for rb in (2048, 2**20) for c in (False, True)]:
        configs = S.SCAN_TOTALS_TUNING.configs(key, "max")
        assert configs[0] == S.SCAN_TOTALS_TUNING.heuristic(key) and len(configs) >= 2
        assert all(c in _spec("scan.totals[sum:fp32]").space for c in configs)
    for key in [("sum", "float32", m, c) for m in (1, 64) for c in (4, 512)]:
        configs = S.SCAN_CARRY_TUNING.configs(key, "max")
        assert configs[0] == S.SCAN_CARRY_TUNING.heuristic(key) and len(configs) >= 2
        assert all(c in _spec("scan.carry[sum:fp32]").space for c in configs)


def _spec(name):
    (spec,) = [s for s in S.SPECS if s.name == name]
    return spec


def test_half_precision_cumprod_backward_ships_its_doubled_tiles():
    """16-bit inputs take tiles of twice the elements (8 per thread: 128-bit accesses on 8 warps); every
    tile the heuristic picks for them is a shipped (AOT-checked) config of the bf16 spec."""
    spec = _spec("scan.cumprod_backward[bf16]")
    for rb in (1, 16, 64, 256, 1024, 4096):
        for contiguous in (False, True):
            key = ("bfloat16", 64, rb, contiguous)
            config = S.CUMPROD_BACKWARD_TUNING.heuristic(key)
            assert config in spec.configs and config["BLOCK_M"] * config["BLOCK_R"] == 2048
            assert S.CUMPROD_BACKWARD_TUNING.configs(key, "max")[0] == config
    assert S.CUMPROD_BACKWARD_TUNING.heuristic(("float32", 64, 256, True)) in \
        _spec("scan.cumprod_backward[fp32]").configs
