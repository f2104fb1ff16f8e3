"""The split-R reduction path (kernels/reduction_split.py) in Triton's interpreter: results against the NumPy
references for every reduction kind (odd sizes, each float dtype, contiguous and strided rows), bit-identical
reruns, and the number of programs its first stage launches (>= 2 x SM count where the row kernel ran one)."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import extrema as EX
from tritensor.kernels import reduction as R
from tritensor.kernels import reduction_split as RS
from tritensor.kernels import statistics as ST
from tritensor.kernels import tuning
from tritensor.kernels.reduction_blocks import split_plan

import tritensor as tt
from tests.conftest import as_device
from tests.kernels.reduction_helpers import BF16, FLOATS, close
from tests.kernels.tuning_helpers import split_small_problems


@pytest.fixture(autouse=True)
def _split_small(monkeypatch):
    split_small_problems(monkeypatch)


@pytest.fixture
def sms(monkeypatch):
    """A 4-SM GPU: small inputs already split (the interpreter runs every program one after the other)."""
    monkeypatch.setattr(tuning, "_sm_count", 4)
    return 4


def _split_run(fn, x2, *out_dtypes, **params):
    """fn with the scratch the op layer would allocate; asserts the split path is taken."""
    n = RS.scratch_numel(as_device(x2))
    assert n > 0, "these sizes must split"
    outs = [np.zeros(x2.shape[0], d) for d in out_dtypes]
    fn(*[as_device(o) for o in outs], as_device(x2), scratch=as_device(np.zeros(n, np.int64)), **params)
    return outs if len(outs) > 1 else outs[0]


def _programs(fn, x2, *out_dtypes, **params) -> dict:
    """{tunable name: programs in the first grid dim x second} of every launch fn makes."""
    grids = {}

    def observe(record):
        cfg = record.config
        rows = record.sizes["M"]
        block = cfg["BLOCK_M"]
        chunks = record.sizes.get("C", 1) if record.tunable is RS.PARTIALS_TUNING else 1
        grids[record.tunable.name] = -(-rows // block) * chunks

    tuning.add_observer(observe)
    try:
        _split_run(fn, x2, *out_dtypes, **params)
    finally:
        tuning.remove_observer(observe)
    return grids


# (M, R) shapes: rows contiguous (one long row, a few odd-length ones) and strided (R an outer dim: dim 0).
SHAPES = [((1, 9001), False), ((3, 5000 + 7), False), ((9, 700), True)]


@pytest.mark.parametrize("shape,strided", SHAPES)
@pytest.mark.parametrize("dt", FLOATS)
def test_float_kinds_match_the_references(sms, rng, dt, shape, strided):
    m, r = shape
    base = rng.standard_normal((r, m) if strided else (m, r))
    x = base.astype(dt)
    x2 = x.T if strided else x
    close(_split_run(R.sum, x2, dt), R.sum_ref(x2, (1,), False), dt, scale=100)
    close(_split_run(R.mean, x2, dt), R.mean_ref(x2, (1,), False), dt)
    close(_split_run(ST.var, x2, dt, correction=1), ST.var_ref(x2, (1,), 1), dt)
    std, mean = _split_run(lambda o, a, x, **k: ST.std(o, x, 0, mean_out=a, **k), x2, dt, dt)
    close(std, ST.std_ref(x2, (1,), 0), dt)
    close(mean, R.mean_ref(x2, (1,), False), dt)
    close(_split_run(ST.logsumexp, x2, dt), ST.logsumexp_ref(x2, (1,), False), dt)
    for p in (2.0, 1.0, 3.0, float("inf")):
        close(_split_run(ST.norm, x2, dt, p=p), ST.norm_ref(x2, p, (1,), False), dt, scale=10)
    near_one = (1 + 1e-3 * (x2.T if strided else x2).astype(np.float64)).astype(dt)
    near_one = near_one.T if strided else near_one
    close(_split_run(R.prod, near_one, dt), R.prod_ref(near_one, (1,), False), dt, scale=10)
    v, i = _split_run(EX.max, x2, dt, np.int64)
    assert (v == EX.amax_ref(x2, (1,), False)).all() and (i == EX.argmax_ref(x2, 1, False)).all()
    assert (_split_run(EX.argmin, x2, np.int64) == EX.argmin_ref(x2, 1, False)).all()


def test_extremes_tie_break_and_nan_across_chunks(sms):
    x = np.zeros((2, 8192 + 5), np.float32)
    x[0, [100, 5000, 8196]] = 7.0  # ties in three chunks: the first occurrence wins
    x[1, 6000] = np.nan
    x[1, 10] = 9.0
    v, i = _split_run(EX.max, x, np.float32, np.int64)
    assert v[0] == 7.0 and i[0] == 100 and np.isnan(v[1]) and i[1] == 6000
    v, i = _split_run(EX.min, -x, np.float32, np.int64)
    assert v[0] == -7.0 and i[0] == 100 and i[1] == 6000


def test_integers_and_booleans_exact(sms, rng):
    x = rng.integers(-3, 4, (2, 9000)).astype(np.int32)
    assert _split_run(R.sum, x, np.int64).tolist() == R.sum_ref(x, (1,), False).tolist()
    assert _split_run(R.count_nonzero, x, np.int64).tolist() == R.count_nonzero_ref(x, (1,)).tolist()
    big = np.full((1, 9000), 2**40, np.int64)  # int64 partials: no float rounding
    assert _split_run(R.sum, big, np.int64).tolist() == [9000 * 2**40]
    v, i = _split_run(EX.max, x, np.int32, np.int64)
    assert v.tolist() == x.max(1).tolist() and i.tolist() == x.argmax(1).tolist()
    b = x != 0
    assert _split_run(R.all, b, np.bool_).tolist() == b.all(1).tolist()
    assert _split_run(R.any, np.zeros((1, 9000), np.bool_), np.bool_).tolist() == [False]
    assert _split_run(R.all, np.ones((1, 9000), np.bool_), np.bool_).tolist() == [True]


def test_variance_of_a_shifted_signal_is_stable(sms, rng):
    """Chan's combine: a large mean does not swamp the variance (a sum-of-squares combine would)."""
    x = (1e4 + rng.standard_normal((1, 20000))).astype(np.float32)
    got = _split_run(ST.var, x, np.float32, correction=0)
    np.testing.assert_allclose(got, np.var(x.astype(np.float64), 1), rtol=1e-3)


@pytest.mark.parametrize("dt", [np.float32, BF16])
def test_two_runs_are_bit_identical(sms, rng, dt):
    x = rng.standard_normal((2, 30011)).astype(dt)
    for fn, outs in ((R.sum, (dt,)), (ST.var, (dt,)), (ST.logsumexp, (dt,)), (EX.max, (dt, np.int64))):
        a, b = _split_run(fn, x, *outs), _split_run(fn, x, *outs)
        for u, v in zip(a if len(outs) > 1 else [a], b if len(outs) > 1 else [b]):
            assert np.asarray(u).tobytes() == np.asarray(v).tobytes(), fn.__name__


def test_the_first_stage_fills_the_gpu(sms):
    """A 64 K-element sum on a 4-SM GPU: the row kernel would run 1 program; stage 1 runs >= 2 x 4."""
    x = np.ones((1, 65536), np.float32)
    grids = _programs(R.sum, x, np.float32)
    assert grids[RS.PARTIALS_TUNING.name] >= 2 * sms and grids[RS.COMBINE_TUNING.name] == 1
    # Column sums (a bias gradient, dim 0 of (4096, 64)): 64 columns are one 64-wide row block; split along R.
    cols = np.ones((4096, 64), np.float32).T
    grids = _programs(R.sum, cols, np.float32)
    assert grids[RS.PARTIALS_TUNING.name] >= 2 * sms
    np.testing.assert_array_equal(_split_run(R.sum, cols, np.float32), np.full(64, 4096.0))


def test_a_sum_on_132_sms_runs_at_least_264_programs():
    """The real SM count (an H100's 132 under the interpreter): a 16 M-element sum's plan, and a tensor
    just big enough to launch it for real (264 granules of 1024)."""
    assert tuning.sm_count() == 132
    chunk, n_chunks = split_plan(1, 16 * 2**20, True)
    assert n_chunks >= 2 * 132 and chunk % 1024 == 0  # 16 M: ~4 x 132 chunks of whole granules
    chunk, n_chunks = split_plan(4096, 8192, False)  # sum(dim=0) of 8192 x 4096: 64 row blocks x n_chunks
    assert 64 * n_chunks >= 2 * 132
    x = np.ones((1, 264 * 1024), np.float32)
    grids = _programs(R.sum, x, np.float32)
    assert grids[RS.PARTIALS_TUNING.name] >= 264
    assert _split_run(R.sum, x, np.float32).tolist() == [264 * 1024.0]


def test_rows_that_fill_the_gpu_do_not_split(sms):
    x = np.ones((2048, 5000), np.float32)
    assert RS.scratch_numel(as_device(x)) == 0
    assert split_plan(1, 1000, True) is None  # too short to cut into two 1024-element chunks
    with pytest.raises(ValueError, match="scratch"):
        R.sum(as_device(np.zeros(1, np.float32)), as_device(np.ones((1, 9000), np.float32)),
              scratch=as_device(np.zeros(3, np.int64)))


def test_the_ops_split_a_full_reduction_on_cuda(sms, rng):
    """tt.sum / mean / norm / var / argmax of a whole tensor go through the split path (the op layer passes
    the scratch) and match the cpu results."""
    a = rng.standard_normal((37, 301)).astype(np.float32)
    seen = []
    tuning.add_observer(seen.append)
    try:
        x = tt.tensor(a, device="cuda")
        got = [x.sum(), x.mean(), x.norm(), x.var(),
               x.argmax(), x.sum(dim=0, keepdim=True)]
    finally:
        tuning.remove_observer(seen.append)
    assert RS.PARTIALS_TUNING in {r.tunable for r in seen}
    c = tt.tensor(a)
    want = [c.sum(), c.mean(), c.norm(), c.var(),
            c.argmax(), c.sum(dim=0, keepdim=True)]
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g.cpu().numpy().astype(np.float64), w.numpy().astype(np.float64), rtol=2e-5,
                                   atol=1e-4)


def test_scratch_encoding_round_trips_bf16_accumulators(sms):
    x = np.full((1, 9000), 0.5, ml_dtypes.bfloat16)
    # 4500 exactly in the fp32 partials (stored as fp64 bits), cast once to bf16 at the end: as the row kernel.
    row = np.zeros(1, ml_dtypes.bfloat16)
    R.sum(as_device(row), as_device(x))
    assert _split_run(R.sum, x, ml_dtypes.bfloat16).tobytes() == row.tobytes() and abs(float(row[0]) - 4500) <= 32


class _GridRecorder:
    """Stands in for a @triton.jit kernel: records each launch's grid, then launches the real kernel."""

    def __init__(self, kernel):
        self.kernel, self.grids = kernel, []

    def __getitem__(self, grid):
        self.grids.append(grid)
        return self.kernel[grid]


@pytest.mark.parametrize("strided", [False, True])
def test_the_backward_of_few_long_rows_fills_the_gpu(sms, rng, monkeypatch, strided):
    """sum/mean/norm/logsumexp backward of one long row (or of a few strided columns) cut along R: >= 2 x SM
    programs, the same values as the references; var's backward needs the row's mean, so it stays whole."""
    recorder = _GridRecorder(R.reduce_backward_kernel)
    monkeypatch.setattr(R, "reduce_backward_kernel", recorder)
    x = rng.standard_normal((3, 9001) if not strided else (9001, 3)).astype(np.float32)
    x2 = x if not strided else x.T  # (M, R) with R strided
    axis = (1,) if not strided else (0,)
    xr = x if not strided else x.T
    grad = rng.standard_normal(3).astype(np.float32)
    y_norm = np.sqrt((xr.astype(np.float64) ** 2).sum(axis=1)).astype(np.float32)
    y_lse = np.log(np.exp(xr.astype(np.float64)).sum(axis=1)).astype(np.float32)
    cases = [
        (lambda gx: R.sum_backward(gx, as_device(grad)), R.sum_backward_ref(grad, x, axis, False)[0]),
        (lambda gx: R.mean_backward(gx, as_device(grad)), R.mean_backward_ref(grad, x, axis, False)[0]),
        (lambda gx: ST.norm_backward(gx, as_device(grad), as_device(x2), as_device(y_norm), 2.0),
         ST.norm_backward_ref(grad, x, y_norm, 2.0, axis, False)[0]),
        (lambda gx: ST.logsumexp_backward(gx, as_device(grad), as_device(x2), as_device(y_lse)),
         ST.logsumexp_backward_ref(grad, x, y_lse, axis, False)[0]),
    ]
    for launch, want in cases:
        recorder.grids.clear()
        gx = np.zeros_like(x)
        launch(as_device(gx if not strided else gx.T))
        rows, chunks = recorder.grids[-1]
        assert rows * chunks >= 2 * sms
        np.testing.assert_allclose(gx, want, rtol=1e-5, atol=1e-6)
    recorder.grids.clear()
    gx = np.zeros_like(x)
    ST.var_backward(as_device(gx if not strided else gx.T), as_device(grad), as_device(x2))
    assert recorder.grids[-1][1] == 1
    np.testing.assert_allclose(gx, ST.var_backward_ref(grad, x, axis)[0], rtol=1e-5, atol=1e-6)


def test_one_byte_partials_ship_the_heuristics_16_element_configs():
    """Stage 1 over bool rows reads 16 elements per thread (128-bit loads), contiguous or strided; the
    all[i1] spec ships both configs, and the spaces hold them."""
    spec = next(s for s in RS.SPECS if s.name == "reduction_split.partials[all:i1]")
    for contiguous in (True, False):
        key = ("add", "nonzero", "bool", 1, 1 << 20, contiguous)
        config = RS.PARTIALS_TUNING.heuristic(key)
        assert config["BLOCK_M"] * config["BLOCK_R"] // (32 * config["num_warps"]) == 16
        assert config in spec.configs and config in RS.PARTIALS_TUNING.configs(key, "max")
        assert RS.PARTIALS_TUNING.heuristic(("add", "id", "float32", 1, 1 << 20, contiguous)) in \
            next(s for s in RS.SPECS if s.name == "reduction_split.partials[sum:fp32]").configs


def test_split_all_of_bools_with_the_wide_blocks(sms, rng):
    """Bool rows on the 16-element blocks, contiguous and strided (R an outer dim), odd lengths."""
    x = rng.random((5003, 3)) < 0.9995
    x[4001, 1] = False
    for x2 in (x.T, np.ascontiguousarray(x.T)):
        assert _split_run(R.all, x2, np.bool_).tolist() == x2.all(1).tolist()
        assert _split_run(R.any, ~x2, np.bool_).tolist() == (~x2).any(1).tolist()
