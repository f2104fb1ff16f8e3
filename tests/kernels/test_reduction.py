"""Row reductions in Triton's interpreter against their NumPy references: the generic forward and backward
kernels of kernels/reduction.py across every family (sum, mean, prod, all/any/count_nonzero here; var/std,
norm, logsumexp from statistics; max/min, amax/amin, argmax/argmin from extrema): every dtype, strided and
broadcast layouts, long rows, empty rows, NaN; and the backward references against finite differences."""

import math

import numpy as np
import pytest
from tritensor.kernels import extrema as EX
from tritensor.kernels import reduction as R
from tritensor.kernels import statistics as ST
from tritensor.kernels import tuning

from tests.conftest import as_device
from tests.kernels.reduction_helpers import BF16, FLOATS, backward, close, fd, layout, run
from tests.kernels.tuning_helpers import every_config

# The interpreter evaluates IEEE edge cases (log(0), 0/0, all-NaN max) in NumPy, which warns.


FLOAT_OPS = {
    "sum": (R.sum, lambda x, a: R.sum_ref(x, (a,), False)),
    "mean": (R.mean, lambda x, a: R.mean_ref(x, (a,), False)),
    "prod": (R.prod, lambda x, a: R.prod_ref(x, (a,), False)),
    "amax": (EX.amax, lambda x, a: EX.amax_ref(x, (a,), False)),
    "amin": (EX.amin, lambda x, a: EX.amin_ref(x, (a,), False)),
    "logsumexp": (ST.logsumexp, lambda x, a: ST.logsumexp_ref(x, (a,), False)),
    "var": (ST.var, lambda x, a: ST.var_ref(x, (a,), 1)),
    "std": (ST.std, lambda x, a: ST.std_ref(x, (a,), 1)),
}


@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("op", list(FLOAT_OPS))
def test_float_ops(rng, op, dt, axis):
    fn, ref = FLOAT_OPS[op]
    base = rng.standard_normal((6, 37))
    x = (1 + 0.05 * base if op == "prod" else base).astype(dt)  # products stay near 1
    x2 = layout(x, axis)
    got = run(fn, x2, dt)
    close(got, ref(x, axis), dt, scale=6.0)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_long_rows_cross_chunks(rng, dt):
    x = rng.standard_normal((2, 5000)).astype(dt) + 3.0  # R = 5000: five BLOCK_R chunks, one kernel
    x[1, 4321] = 40.0
    close(run(R.sum, x, dt), R.sum_ref(x, (1,), False), dt, scale=100)
    close(run(ST.var, x, dt, correction=0), ST.var_ref(x, (1,), 0), dt)
    close(run(ST.logsumexp, x, dt), ST.logsumexp_ref(x, (1,), False), dt)
    v, i = run(EX.max, x, dt, np.int64)
    assert i.tolist() == EX.argmax_ref(x, 1, False).tolist() and i[1] == 4321
    close(v, EX.amax_ref(x, (1,), False), dt)


def test_broadcast_and_strided_output(rng):
    row = rng.standard_normal(7).astype(np.float32)
    x2 = np.broadcast_to(row, (5, 7))  # stride-0 rows
    out = np.zeros((5, 2), np.float32)
    R.sum(as_device(out[:, 1]), as_device(x2))  # a strided output
    np.testing.assert_allclose(out[:, 1], np.full(5, row.sum()), rtol=1e-6)
    assert (out[:, 0] == 0).all()
    col = np.broadcast_to(rng.standard_normal((4, 1)).astype(np.float64), (4, 9))  # stride-0 along R
    np.testing.assert_allclose(run(ST.var, col, np.float64), np.zeros(4), atol=1e-12)


def test_sliced_input(rng):
    x = rng.standard_normal((9, 40)).astype(np.float32)[1::2, 3::3]  # both strides non-unit
    close(run(R.mean, x, np.float32), R.mean_ref(x, (1,), False), np.float32)
    close(run(ST.norm, x, np.float32, p=3.0), ST.norm_ref(x, 3.0, (1,), False), np.float32)


INTS = [np.int8, np.uint8, np.int32, np.int64, np.bool_]


@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("dt", INTS)
def test_integer_ops(rng, dt, axis):
    lo, hi = (0, 2) if dt == np.bool_ else (0 if dt == np.uint8 else -3, 4)
    x = rng.integers(lo, hi, (5, 23)).astype(dt)
    x[2] = 1  # a row without zeros
    x2 = layout(x, axis)
    assert run(R.sum, x2, np.int64).tolist() == R.sum_ref(x, (axis,), False).tolist()
    assert run(R.prod, x2, np.int64).tolist() == R.prod_ref(x, (axis,), False).tolist()
    v, i = run(EX.max, x2, dt, np.int64)
    assert v.tolist() == EX.amax_ref(x, (axis,), False).tolist()
    assert i.tolist() == EX.argmax_ref(x, axis, False).tolist()
    assert run(EX.argmin, x2, np.int64).tolist() == EX.argmin_ref(x, axis, False).tolist()
    assert run(EX.amin, x2, dt).tolist() == EX.amin_ref(x, (axis,), False).tolist()
    assert run(R.all, x2, np.bool_).tolist() == R.all_ref(x, (axis,), False).tolist()
    assert run(R.any, x2, np.bool_).tolist() == R.any_ref(x, (axis,), False).tolist()
    assert run(R.count_nonzero, x2, np.int64).tolist() == R.count_nonzero_ref(x, (axis,)).tolist()


def test_int64_sum_and_extremes_exact():
    big = np.array([[2**62, 2**62 - 1, -(2**63), 5], [-(2**63), 7, 2**63 - 1, 2**63 - 1]], np.int64)
    assert run(EX.amax, big, np.int64).tolist() == [2**62, 2**63 - 1]
    assert run(EX.argmin, big, np.int64).tolist() == [2, 0]
    assert run(EX.argmax, big, np.int64).tolist() == [0, 2]
    small = np.array([[2**31 - 1, 2**31 - 1, 5]], np.int32)  # int32 inputs sum in int64
    assert run(R.sum, small, np.int64).tolist() == [2**32 + 3]


def test_nan_propagates_through_reductions():
    x = np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]], np.float32)
    for fn in (R.sum, R.mean, R.prod, ST.logsumexp, ST.var, ST.std, ST.norm):
        got = run(fn, x, np.float32)
        assert np.isnan(got[0]) and not np.isnan(got[1]), fn.__name__


def test_empty_rows():
    x = np.zeros((3, 0), np.float32)
    assert (run(R.sum, x, np.float32) == 0).all()
    assert (run(R.prod, x, np.float32) == 1).all()
    with np.errstate(invalid="ignore"):
        assert np.isnan(run(R.mean, x, np.float32)).all()
    with np.errstate(divide="ignore"):
        assert (run(ST.logsumexp, x, np.float32) == -np.inf).all()
    assert run(R.all, x, np.bool_).all() and not run(R.any, x, np.bool_).any()
    assert (run(ST.norm, x, np.float32, p=2) == 0).all()
    with pytest.raises(ValueError):
        run(EX.max, x, np.float32, np.int64)


@pytest.mark.parametrize("dt,axis", [(np.float32, 1), (np.float32, 0), (np.float64, 0), (BF16, 1)])
def test_backward_kernels(rng, dt, axis):
    x = rng.standard_normal((5, 13)).astype(dt)
    x2 = layout(x, axis)
    g = rng.standard_normal(x2.shape[0]).astype(dt)
    ax = (axis,)

    close(backward(R.sum_backward, x2, g), layout(R.sum_backward_ref(g, x, ax, False)[0], axis), dt)
    close(backward(R.mean_backward, x2, g), layout(R.mean_backward_ref(g, x, ax, False)[0], axis), dt)
    for fn, ref, fwd in ((R.prod_backward, R.prod_backward_ref, R.prod),
                         (ST.logsumexp_backward, ST.logsumexp_backward_ref, ST.logsumexp),
                         (EX.amax_backward, EX.amax_backward_ref, EX.amax)):
        y = run(fwd, x2, dt)
        close(backward(fn, x2, g, x2, y), layout(ref(g, x, y, ax, False)[0], axis), dt, scale=4)
    for corr in (0, 1):
        close(backward(ST.var_backward, x2, g, x2, correction=corr),
               layout(ST.var_backward_ref(g, x, ax, corr)[0], axis), dt, scale=4)
        y = run(ST.std, x2, dt, correction=corr)
        close(backward(ST.std_backward, x2, g, x2, y, correction=corr),
               layout(ST.std_backward_ref(g, x, y, ax, corr)[0], axis), dt, scale=4)
    v, i = run(EX.max, x2, dt, np.int64)
    ref = EX.max_backward_ref(g, x, i, axis, False)[0]
    close(backward(EX.max_backward, x2, g, i), layout(ref, axis), dt)


def test_prod_backward_with_zeros(rng):
    x = rng.standard_normal((4, 6)) + 2.0
    x[1, 2] = 0  # one zero: only it gets a gradient
    x[2, [0, 4]] = 0  # two zeros: no gradient at all
    x[3, 5] = 0
    g = rng.standard_normal(4)
    y = run(R.prod, x, np.float64)
    gx = backward(R.prod_backward, x, g, x, y)
    ref = R.prod_backward_ref(g, x, y, (1,), False)[0]
    np.testing.assert_allclose(gx, ref, rtol=1e-12, atol=1e-12)
    assert (gx[1] != 0).tolist() == [False, False, True, False, False, False] and (gx[2] == 0).all()
    np.testing.assert_allclose(gx[1, 2], g[1] * np.prod(np.delete(x[1], 2)), rtol=1e-12)


@pytest.mark.parametrize("keepdims", [False, True])
def test_backward_refs_vs_finite_differences(rng, keepdims):
    x = rng.standard_normal((3, 4, 5)) + 0.1  # distinct values, no zeros
    axis = (0, 2)
    g = rng.standard_normal(R.sum_ref(x, axis, keepdims).shape)

    def check(fwd, grad_x):
        np.testing.assert_allclose(grad_x, fd(fwd, x, g), rtol=1e-6, atol=1e-7)

    check(lambda a: R.sum_ref(a, axis, keepdims), R.sum_backward_ref(g, x, axis, keepdims)[0])
    check(lambda a: R.mean_ref(a, axis, keepdims), R.mean_backward_ref(g, x, axis, keepdims)[0])
    for fwd_ref, bwd_ref in ((R.prod_ref, R.prod_backward_ref), (EX.amax_ref, EX.amax_backward_ref),
                             (EX.amin_ref, EX.amin_backward_ref), (ST.logsumexp_ref, ST.logsumexp_backward_ref)):
        y = fwd_ref(x, axis, keepdims)
        check(lambda a, f=fwd_ref: f(a, axis, keepdims), bwd_ref(g, x, y, axis, keepdims)[0])
    for corr in (0, 1):
        check(lambda a, c=corr: ST.var_ref(a, axis, c, keepdims),
              ST.var_backward_ref(g, x, axis, corr, keepdims)[0])
        y = ST.std_ref(x, axis, corr, keepdims)
        check(lambda a, c=corr: ST.std_ref(a, axis, c, keepdims),
              ST.std_backward_ref(g, x, y, axis, corr, keepdims)[0])
    for p in (1, 2, math.inf, -math.inf, 0.5, 3.0, -1.5):
        y = ST.norm_ref(x, p, axis, keepdims)
        check(lambda a, p=p: ST.norm_ref(a, p, axis, keepdims),
              ST.norm_backward_ref(g, x, y, p, axis, keepdims)[0])
    g1 = rng.standard_normal(EX.amax_ref(x, (1,), keepdims).shape)
    v, i = EX.max_ref(x, 1, keepdims)
    np.testing.assert_allclose(EX.max_backward_ref(g1, x, i, 1, keepdims)[0],
                               fd(lambda a: EX.amax_ref(a, (1,), keepdims), x, g1), rtol=1e-6, atol=1e-7)


def test_prod_backward_ref_with_zeros_vs_finite_differences(rng):
    x = rng.standard_normal((4, 5)) + 2.0
    x[1, 3] = 0
    x[2, [1, 2]] = 0
    g = rng.standard_normal(4)
    y = R.prod_ref(x, (1,), False)
    np.testing.assert_allclose(R.prod_backward_ref(g, x, y, (1,), False)[0],
                               fd(lambda a: R.prod_ref(a, (1,), False), x, g), rtol=1e-6, atol=1e-7)


def test_long_rows_share_one_config_short_rows_a_row_block():
    """Sums over rows of 1000 and 50000 elements use one config (a 1024-wide block; Triton's runtime
    specialisation makes that two binaries: 50000 is divisible by 16); rows of 10 run 64 rows per program in
    16-wide blocks, rows of 32 32 rows in 32-wide ones: no 1024-wide block of idle lanes."""
    from triton._C.libtriton import native_specialize_impl
    from triton.backends.nvidia.compiler import CUDABackend

    def key(n):
        seen = []
        tuning.add_observer(seen.append)
        try:
            R.sum(as_device(np.zeros(4, np.float32)), as_device(np.ones((4, n), np.float32)))
        finally:
            tuning.remove_observer(seen.append)
        assert [r.tunable for r in seen] == [R.REDUCE_TUNING]
        cfg = seen[0].config
        args = (4, n, n, 1, 1)  # M, R, stride_xm, stride_xr, stride_out as the wrapper passes them
        return cfg, tuple(native_specialize_impl(CUDABackend, a, False, True, True) for a in args)

    (c10, _), (c32, _), (c1000, s1000), (c50000, s50000) = [key(n) for n in (10, 32, 1000, 50000)]
    assert c1000 == c50000 == dict(BLOCK_M=1, BLOCK_R=1024, num_warps=4) and s1000 != s50000
    assert c10 == dict(BLOCK_M=64, BLOCK_R=16, num_warps=4) and c32 == dict(BLOCK_M=32, BLOCK_R=32, num_warps=4)


def test_ops_table_is_complete():
    for name, op in {**R.OPS, **ST.OPS, **EX.OPS}.items():
        assert callable(op.forward) and callable(op.ref), name
        assert (op.backward is None) == (op.backward_ref is None), name


@pytest.mark.parametrize("transposed", [False, True])
def test_every_config_in_the_space_matches_the_reference(rng, transposed):
    """Every candidate the tuner may time (contiguous and strided rows, short and long) gives the same result."""
    for m, r in ((6, 300), (3, 2500), (40, 5)):
        x = rng.standard_normal((r, m) if transposed else (m, r)).astype(np.float32)
        x2 = x.T if transposed else x
        g = rng.standard_normal(m).astype(np.float32)
        for i in range(6):
            with every_config(i):
                close(run(R.sum, x2, np.float32), R.sum_ref(x2, (1,), False), np.float32)
                v, idx = run(EX.OPS["max"].forward, x2, np.float32, np.int64)
                assert (v == x2.max(1)).all() and (idx == x2.argmax(1)).all()
                close(run(ST.OPS["var"].forward, x2, np.float32, correction=1), np.var(x2, 1, ddof=1), np.float32)
                y = R.prod_ref(x2, (1,), False)
                close(backward(R.prod_backward, x2, g, x2, y), R.prod_backward_ref(g, x2, y, (1,), False)[0],
                      np.float32)


def test_spaces_start_with_the_heuristic_and_are_compiled():
    """Every config a key's space holds is in its spec's space, the heuristic's first and shipped; 1-byte rows
    (bool max/all) take the tiles of 16 elements per thread."""
    by_name = {s.name: s for s in R.SPECS}
    cases = [(R.REDUCE_TUNING, by_name["reduction.sum[fp32]"], ("add", "id", "id", True, False) + ("float32",) * 3),
             (R.REDUCE_TUNING, by_name["reduction.max[i1]"], ("max", "id", "id", True, True, "bool", "bool", "int64")),
             (R.REDUCE_BACKWARD_TUNING, R.SPECS[-1], ("lse", "float32", "float32"))]
    for rb in [0] + [2**k for k in range(15)]:
        for contiguous in (False, True):
            for tunable, spec, head in cases:
                key = (*head, 64, rb, contiguous)
                assert tunable.heuristic(key) in spec.configs
                for space in ("default", "max"):
                    configs = tunable.configs(key, space)
                    assert configs[0] == tunable.heuristic(key) and len(configs) >= 2
                    assert all(c in spec.space for c in configs)
    wide = R.REDUCE_TUNING.heuristic(("max", "id", "id", True, True, "bool", "bool", "int64", 64, 1024, True))
    assert wide["BLOCK_M"] * wide["BLOCK_R"] >= 16 * 32 * wide["num_warps"]


def test_tiny_problems_are_not_split():
    """An MLP's bias gradient (64 rows summed over dim 0) stays one launch; a 64K-element sum splits."""
    from tritensor.kernels import reduction_blocks as RB

    assert RB.split_plan(64, 128, False) is None and RB.split_plan(64, 16, False) is None
    chunk, n_chunks = RB.split_plan(1, 1 << 16, True)
    assert n_chunks >= 2 and chunk * n_chunks >= 1 << 16


@pytest.mark.parametrize("shape", [(0, 3), (5,), (4, 7, 3)])
def test_any_all_of_bool_inputs_as_of_their_truth(rng, shape):
    # bool inputs skip the `!= 0` pass: the same results, every axis, keepdims either way, empty slices included
    x = rng.random(shape) > 0.7
    x.reshape(-1)[:2] = True  # (a row of all True next to mixed ones)
    for axis in [tuple(range(len(shape))), *((d,) for d in range(len(shape)))]:
        for keepdims in (False, True):
            for ref, want in ((R.any_ref, np.any), (R.all_ref, np.all)):
                got = np.asarray(ref(x, axis, keepdims))
                expected = np.asarray(want(x.astype(np.int8) != 0, axis=axis, keepdims=keepdims))
                assert got.dtype == np.bool_ and got.shape == expected.shape and np.array_equal(got, expected)
