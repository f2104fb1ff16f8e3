"""kernels/norm_rows.py and norm_rows_group.py in Triton's interpreter against their NumPy references: layer_norm,
rms_norm and group_norm forward and backward (dx and the fixed-order weight/bias partial sums), one-pass and
looping rows, odd lengths, strided rows, several row blocks per persistent program, every float dtype; the
references' backward against float64 central differences."""

import numpy as np
import pytest
from tritensor.kernels import norm_rows as K
from tritensor.kernels import norm_rows_group as KG
from tritensor.kernels import norm_rows_split as KS
from tritensor.kernels import tuning

from tests.conftest import as_device

TOL = {np.float32: 2e-5, np.float64: 1e-12, np.float16: 4e-3}  # bfloat16: 3.2e-2


def _dtypes():
    from tritensor import dtypes
    return [np.float32, np.float64, np.float16, dtypes.bfloat16.np]


def _tol(dtype) -> float:
    return TOL.get(dtype, 3.2e-2)


def _close(got, want, dtype=np.float32, scale=1.0):
    tol = _tol(dtype) * scale
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=tol, atol=tol)


def _ln_forward(x, w, b, eps, rms):
    M, R = x.shape
    acc = K.acc_dtype(x.dtype)
    y = np.zeros(x.shape, x.dtype)
    mean, rstd = np.full(M, 7.0, acc), np.zeros(M, acc)
    K.layer_norm(as_device(y), as_device(x), None if w is None else as_device(w), None if b is None else as_device(b),
                 None if rms else as_device(mean), as_device(rstd), eps, rms)
    return y, mean, rstd


def _ln_backward(dy, x, w, mean, rstd, rms, need=(True, True)):
    M, R = x.shape
    acc = K.acc_dtype(x.dtype)
    P = K.partial_rows(M)
    dwp, dbp = np.full((P, R), np.nan, acc), np.full((P, R), np.nan, acc)
    dx = np.zeros(x.shape, x.dtype)
    used = K.layer_norm_backward(as_device(dx), as_device(dy), as_device(x), None if w is None else as_device(w),
                                 None if rms else as_device(mean), as_device(rstd),
                                 as_device(dwp) if need[0] else None, as_device(dbp) if need[1] else None, rms)
    dw, db = np.zeros(R, acc), np.zeros(R, acc)
    K.col_sum(as_device(dw), as_device(dwp[:used]))
    K.col_sum(as_device(db), as_device(dbp[:used]))
    return dx, dw, db


SHAPES = [(1, 1), (3, 7), (5, 33), (2, 1000), (4, 1025), (2, 9000)]  # 9000: the looping path both ways


@pytest.mark.parametrize("M,R", SHAPES)
@pytest.mark.parametrize("rms", [False, True])
def test_forward_and_backward_fp32(rng, M, R, rms):
    x = (rng.standard_normal((M, R)) * 3 + 1.5).astype(np.float32)
    w = rng.standard_normal(R).astype(np.float32)
    b = None if rms else rng.standard_normal(R).astype(np.float32)
    y, mean, rstd = _ln_forward(x, w, b, 1e-5, rms)
    want_y, want_mean, want_rstd = K.layer_norm_ref(x, w, b, 1e-5, rms)
    _close(y, want_y)
    _close(rstd, want_rstd)
    if not rms:
        _close(mean, want_mean)
    dy = rng.standard_normal((M, R)).astype(np.float32)
    dx, dw, db = _ln_backward(dy, x, w, mean, rstd, rms)
    want_dx, want_dw, want_db = K.layer_norm_backward_ref(dy, x, w, want_mean, want_rstd, rms)
    _close(dx, want_dx, scale=4)
    _close(dw, want_dw, scale=4)
    _close(db, want_db, scale=4)


@pytest.mark.parametrize("M,R", [(6, 33), (2, 5000)])
def test_without_affine(rng, M, R):
    x = rng.standard_normal((M, R)).astype(np.float32)
    y, mean, rstd = _ln_forward(x, None, None, 1e-3, False)
    want_y, want_mean, want_rstd = K.layer_norm_ref(x, None, None, 1e-3)
    _close(y, want_y)
    dy = rng.standard_normal((M, R)).astype(np.float32)
    dx, _, _ = _ln_backward(dy, x, None, mean, rstd, False, need=(False, False))
    _close(dx, K.layer_norm_backward_ref(dy, x, None, want_mean, want_rstd)[0], scale=4)


@pytest.mark.parametrize("dtype_index", [1, 2, 3])
@pytest.mark.parametrize("M,R", [(3, 7), (4, 300), (2, 4500)])
def test_low_precision_and_double(rng, dtype_index, M, R):
    dtype = _dtypes()[dtype_index]
    x = rng.standard_normal((M, R)).astype(dtype)
    w = rng.standard_normal(R).astype(dtype)
    b = rng.standard_normal(R).astype(dtype)
    y, mean, rstd = _ln_forward(x, w, b, 1e-5, False)
    assert y.dtype == dtype and rstd.dtype == K.acc_dtype(dtype)
    want_y, want_mean, want_rstd = K.layer_norm_ref(x, w, b, 1e-5)
    _close(y, want_y, dtype)
    _close(rstd, want_rstd, np.float64 if dtype == np.float64 else np.float32)
    dy = rng.standard_normal((M, R)).astype(dtype)
    dx, dw, _ = _ln_backward(dy, x, w, mean, rstd, False)
    want_dx, want_dw, _ = K.layer_norm_backward_ref(dy, x, w, want_mean, want_rstd)
    _close(dx, want_dx, dtype, scale=4)
    _close(dw, want_dw, np.float64 if dtype == np.float64 else np.float32, scale=20)


def test_strided_rows(rng):
    """Rows `sxm` apart (a column slice of a wider array) are read in place; the output has its own row stride."""
    wide = rng.standard_normal((5, 48)).astype(np.float32)
    x = wide[:, 3:36]
    w = rng.standard_normal(33).astype(np.float32)
    y_wide = np.zeros((5, 40), np.float32)
    rstd = np.zeros(5, np.float32)
    mean = np.zeros(5, np.float32)
    K.layer_norm(as_device(y_wide).view_as((5, 33), (40, 1), 2),
                 as_device(wide).view_as((5, 33), (48, 1), 3), as_device(w), None, as_device(mean), as_device(rstd),
                 1e-5)
    _close(y_wide[:, 2:35], K.layer_norm_ref(x, w, None, 1e-5)[0])
    assert not y_wide[:, :2].any() and not y_wide[:, 35:].any()


@pytest.mark.parametrize("M,R", [(40, 33), (5, 4100)])
def test_persistent_programs_accumulate_their_partials(rng, M, R):
    """With 1 SM the backward runs 2 programs: each walks several row blocks and sums its weight partials over
    them (in registers for one-pass rows, in its row of the buffer for looping rows)."""
    old = tuning.sm_count()
    tuning.set_sm_count(1)
    try:
        assert K.partial_rows(M) == 2
        x = rng.standard_normal((M, R)).astype(np.float32)
        w = rng.standard_normal(R).astype(np.float32)
        y, mean, rstd = _ln_forward(x, w, None, 1e-5, False)
        dy = rng.standard_normal((M, R)).astype(np.float32)
        dx, dw, db = _ln_backward(dy, x, w, mean, rstd, False)
    finally:
        tuning.set_sm_count(old)
    want_dx, want_dw, want_db = K.layer_norm_backward_ref(dy, x, w, mean, rstd)
    _close(dx, want_dx, scale=4)
    _close(dw, want_dw, scale=10)
    _close(db, want_db, scale=10)


@pytest.mark.parametrize("M,R,rms,dtype_index", [(2, 100_000, False, 0), (3, 16_385, True, 0), (1, 9000, False, 3),
                                                 (2, 20_000, False, 1)])
def test_split_forward_for_few_long_rows(rng, M, R, rms, dtype_index):
    """Rows of up to 10^5 elements, too few to fill the GPU: chunk statistics in one launch, combined in a fixed
    order and applied in a second; each program of a row derives the same statistics."""
    dtype = _dtypes()[dtype_index]
    n_chunks = KS.split_plan(M, R, dtype == np.float64)
    assert n_chunks == -(-R // KS.CHUNK) and KS.split_plan(300, R) is None and KS.split_plan(M, 8192) is None
    acc = K.acc_dtype(dtype)
    x = (rng.standard_normal((M, R)) * 2 + 5).astype(dtype)
    w = rng.standard_normal(R).astype(dtype)
    b = None if rms else rng.standard_normal(R).astype(dtype)
    scratch = np.full(KS.scratch_numel(M, R, dtype == np.float64), np.nan, acc)
    assert scratch.size == 2 * M * n_chunks
    y, mean, rstd = np.zeros_like(x), np.full(M, 7.0, acc), np.zeros(M, acc)
    KS.layer_norm_split(as_device(y), as_device(x), as_device(w), None if b is None else as_device(b),
                        None if rms else as_device(mean), as_device(rstd), as_device(scratch), 1e-5, rms)
    want_y, want_mean, want_rstd = K.layer_norm_ref(x, w, b, 1e-5, rms)
    _close(y, want_y, dtype, scale=2)
    _close(rstd, want_rstd, acc, scale=2)
    if not rms:
        _close(mean, want_mean, acc, scale=2)


@pytest.mark.parametrize("M,R,rms,affine", [(2, 100_000, False, True), (3, 16_385, True, True),
                                            (1, 9000, False, False)])
def test_split_backward_for_few_long_rows(rng, M, R, rms, affine):
    """Chunk sums of w dy xhat and w dy, then column programs over every row: dx, and dw / db summed in row order."""
    x = (rng.standard_normal((M, R)) + 1).astype(np.float32)
    w = rng.standard_normal(R).astype(np.float32) if affine else None
    _, mean, rstd = K.layer_norm_ref(x, w, None, 1e-5, rms)
    dy = rng.standard_normal((M, R)).astype(np.float32)
    scratch = np.full(KS.scratch_numel(M, R), np.nan, np.float32)
    dx, dw, db = np.zeros_like(x), np.full(R, np.nan, np.float32), np.full(R, np.nan, np.float32)
    KS.layer_norm_backward_split(as_device(dx), as_device(dw) if affine else None, None if rms else as_device(db),
                                 as_device(dy), as_device(x), None if w is None else as_device(w),
                                 None if rms else as_device(mean), as_device(rstd), as_device(scratch), rms)
    want_dx, want_dw, want_db = K.layer_norm_backward_ref(dy, x, w, mean, rstd, rms)
    _close(dx, want_dx, scale=4)
    if affine:
        _close(dw, want_dw, scale=4)
    if not rms:
        _close(db, want_db, scale=4)


def test_configs_bucket_row_lengths():
    """Rows of 10^5 elements loop over 2048-element chunks (no build per length); short rows share a tile."""
    assert K.norm_config(100_000) == K.LOOP and K.norm_config(100_000, backward=True) == K.LOOP
    assert K.norm_config(1000) == K.norm_config(1024) and K.norm_config(1000)["ONE_PASS"]
    assert K.norm_config(8192)["ONE_PASS"] and not K.norm_config(8192, backward=True)["ONE_PASS"]
    assert K.norm_config(33)["BLOCK_M"] * K.norm_config(33)["BLOCK_R"] == K.TILE
    assert KG.group_config(8, 49) == KG.group_config(5, 64)
    assert not KG.group_config(1, 100_000)["ONE_PASS"]


GROUP_SHAPES = [(2, 6, 5, 3), (3, 4, 1, 2), (2, 4, 7, 4), (1, 64, 100, 2), (2, 2, 5000, 1), (2, 3, 2100, 3)]


@pytest.mark.parametrize("N,C,S,G", GROUP_SHAPES)
def test_group_norm_forward_and_backward(rng, N, C, S, G):
    x = (rng.standard_normal((N, C, S)) * 2 - 1).astype(np.float32)
    w = rng.standard_normal(C).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    y, mean, rstd = np.zeros_like(x), np.zeros(N * G, np.float32), np.zeros(N * G, np.float32)
    KG.group_norm(as_device(y), as_device(x), as_device(w), as_device(b), as_device(mean), as_device(rstd), G, 1e-5)
    want_y, want_mean, want_rstd = KG.group_norm_ref(x, G, w, b, 1e-5)
    _close(y, want_y)
    _close(mean, want_mean)
    _close(rstd, want_rstd)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    dx, dwp, dbp = np.zeros_like(x), np.full((N, C), np.nan, np.float32), np.full((N, C), np.nan, np.float32)
    KG.group_norm_backward(as_device(dx), as_device(dy), as_device(x), as_device(w), as_device(mean),
                           as_device(rstd), as_device(dwp), as_device(dbp), G)
    dw, db = np.zeros(C, np.float32), np.zeros(C, np.float32)
    K.col_sum(as_device(dw), as_device(dwp))
    K.col_sum(as_device(db), as_device(dbp))
    want_dx, want_dw, want_db = KG.group_norm_backward_ref(dy, x, w, want_mean, want_rstd, G)
    _close(dx, want_dx, scale=4)
    _close(dw, want_dw, scale=10)
    _close(db, want_db, scale=10)


@pytest.mark.parametrize("dtype_index", [1, 2, 3])
def test_group_norm_dtypes_without_affine(rng, dtype_index):
    dtype = _dtypes()[dtype_index]
    N, C, S, G = 2, 6, 9, 2
    x = rng.standard_normal((N, C, S)).astype(dtype)
    acc = K.acc_dtype(x.dtype)
    y, mean, rstd = np.zeros_like(x), np.zeros(N * G, acc), np.zeros(N * G, acc)
    KG.group_norm(as_device(y), as_device(x), None, None, as_device(mean), as_device(rstd), G, 1e-5)
    want_y, want_mean, want_rstd = KG.group_norm_ref(x, G, None, None, 1e-5)
    _close(y, want_y, dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    dx = np.zeros_like(x)
    KG.group_norm_backward(as_device(dx), as_device(dy), as_device(x), None, as_device(mean), as_device(rstd),
                           None, None, G)
    _close(dx, KG.group_norm_backward_ref(dy, x, None, want_mean, want_rstd, G)[0], dtype, scale=4)


def test_col_sum_fixed_order(rng):
    part = rng.standard_normal((37, 300)).astype(np.float32)
    out = np.zeros(300, np.float32)
    K.col_sum(as_device(out), as_device(part))
    _close(out, part.astype(np.float64).sum(0))


def _numeric_grad(f, arrays, i, eps=1e-6):
    a = arrays[i]
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        hi = f(*arrays)
        a[idx] = old - eps
        lo = f(*arrays)
        a[idx] = old
        g[idx] = (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize("rms", [False, True])
def test_layer_norm_backward_ref_against_finite_differences(rng, rms):
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal(5)
    dy = rng.standard_normal((3, 5))

    def loss(x, w, b):
        return float((K.layer_norm_ref(x, w, b, 1e-5, rms)[0] * dy).sum())

    _, mean, rstd = K.layer_norm_ref(x, w, b, 1e-5, rms)
    dx, dw, db = K.layer_norm_backward_ref(dy, x, w, mean, rstd, rms)
    for i, got in enumerate((dx, dw, db)):
        np.testing.assert_allclose(got, _numeric_grad(loss, [x, w, b], i), rtol=1e-6, atol=1e-7)


def test_group_norm_backward_ref_against_finite_differences(rng):
    x, w, b = rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4)
    dy = rng.standard_normal((2, 4, 3))

    def loss(x, w, b):
        return float((KG.group_norm_ref(x, 2, w, b, 1e-5)[0] * dy).sum())

    _, mean, rstd = KG.group_norm_ref(x, 2, w, b, 1e-5)
    dx, dw, db = KG.group_norm_backward_ref(dy, x, w, mean, rstd, 2)
    for i, got in enumerate((dx, dw, db)):
        np.testing.assert_allclose(got, _numeric_grad(loss, [x, w, b], i), rtol=1e-6, atol=1e-7)
