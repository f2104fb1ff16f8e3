"""Flash-attention kernels (kernels/attention.py, attention_backward.py) in Triton's interpreter against the
NumPy references of kernels/attention_ref.py; the references against a direct softmax(q k^T * scale + mask) v,
known values and float64 central finite differences."""

import math

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import attention as K
from tritensor.kernels import attention_backward as KB
from tritensor.kernels import attention_ref as R
from tritensor.kernels.dropout import philox_uniform

from tests.conftest import as_device

BF16 = ml_dtypes.bfloat16
TOL = {np.float32: 2e-5, np.float16: 4e-3, BF16: 3e-2, np.float64: 1e-12}
SMALL = dict(BLOCK_M=16, BLOCK_N=16, num_warps=4, num_stages=1)  # several blocks per row / column at L, S ~ 40


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _close(got, want, dt, scale=1.0):
    np.testing.assert_allclose(_f64(got), _f64(want), rtol=TOL[dt], atol=TOL[dt] * scale)


def _direct(q, k, v, mask=None, scale=None, causal=False):
    """softmax(q k^T * scale + mask) v in float64 straight from the definition (GQA by repeating heads)."""
    q, k, v = _f64(q), _f64(k), _f64(v)
    k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
    v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True) @ v


# ---------------------------------------------------------------- the references
def test_reference_known_values():
    q = np.array([[[[1.0, 0.0]]]])
    k = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    v = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, lse = R.attention_forward_ref(q, k, v, scale=1.0)
    a = math.e / (math.e + 1)
    np.testing.assert_allclose(out[0, 0, 0], [a * 1 + (1 - a) * 3, a * 2 + (1 - a) * 4], rtol=1e-15)
    np.testing.assert_allclose(lse[0, 0, 0], math.log(math.e + 1), rtol=1e-15)


def test_reference_against_direct_formula(rng):
    q = rng.standard_normal((2, 4, 5, 8))
    k, v = rng.standard_normal((2, 2, 7, 8)), rng.standard_normal((2, 2, 7, 3))
    fmask = rng.standard_normal((1, 4, 5, 7))
    bmask = rng.random((5, 7)) > 0.3
    bmask[:, 0] = True
    for mask in (None, fmask, bmask):
        np.testing.assert_allclose(R.attention_forward_ref(q, k, v, mask, 0.7)[0], _direct(q, k, v, mask, 0.7),
                                   rtol=1e-12)
    np.testing.assert_allclose(R.attention_forward_ref(q, k, v, causal=True)[0], _direct(q, k, v, causal=True),
                               rtol=1e-12)


def test_reference_fully_masked_rows_are_zero(rng):
    q, k, v = rng.standard_normal((1, 1, 3, 4)), rng.standard_normal((1, 1, 5, 4)), rng.standard_normal((1, 1, 5, 2))
    mask = np.ones((3, 5), bool)
    mask[1] = False
    out, lse = R.attention_forward_ref(q, k, v, mask)
    assert np.all(out[0, 0, 1] == 0) and lse[0, 0, 1] == np.inf
    fmask = np.where(mask, 0.0, -np.inf)
    grads = R.attention_backward_ref(np.ones_like(out), q, k, v, fmask, mask_grad=True)
    assert np.all(grads[0][0, 0, 1] == 0) and np.all(grads[3][1] == 0)
    np.testing.assert_allclose(out, R.attention_forward_ref(q, k, v, fmask)[0], rtol=1e-15)


def test_dropout_mask_is_philox_per_head():
    keep = R.dropout_keep((2, 3, 4, 5), 0.25, 1234)
    for bh in range(6):
        want = philox_uniform(1234 + (bh << 32), np.arange(20)) < np.float32(0.75)
        np.testing.assert_array_equal(keep.reshape(6, 20)[bh], want)
    assert 0.6 < R.dropout_keep((4, 64, 64), 0.25, 7).mean() < 0.9


def _numeric(f, x, w, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[i] += eps
        lo[i] -= eps
        g[i] = (np.sum(f(hi) * w) - np.sum(f(lo) * w)) / (2 * eps)
    return g


@pytest.mark.parametrize("case", ["causal", "float_mask", "dropout"])
def test_reference_backward_against_finite_differences(rng, case):
    q = rng.standard_normal((1, 2, 3, 4))
    k, v = rng.standard_normal((1, 1, 5, 4)), rng.standard_normal((1, 1, 5, 3))
    mask = rng.standard_normal((3, 5)) if case == "float_mask" else None
    kw = dict(causal=case == "causal", dropout_p=0.4 if case == "dropout" else 0.0, seed=11)
    w = rng.standard_normal((1, 2, 3, 3))
    grads = R.attention_backward_ref(w, q, k, v, mask, 0.8, mask_grad=mask is not None, **kw)
    args = [q, k, v] + ([mask] if mask is not None else [])
    for i, x in enumerate(args):
        def f(xi, i=i):
            a = list(args)
            a[i] = xi
            return R.attention_forward_ref(a[0], a[1], a[2], a[3] if mask is not None else None, 0.8, **kw)[0]
        np.testing.assert_allclose(grads[i], _numeric(f, x, w), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- the kernels in the interpreter
def _kernels(q, k, v, grad, mask=None, scale=None, causal=False, p=0.0, seed=0, small=False, mask_grad=False):
    Z, HQ, L, E = q.shape
    EV = v.shape[-1]
    scale = 1 / math.sqrt(E) if scale is None else scale
    out = np.zeros((Z, HQ, L, EV), q.dtype)
    stat = np.float64 if q.dtype == np.float64 else np.float32
    lse = np.zeros((Z * HQ, L), stat)
    dm = None if mask is None else as_device(mask)
    K.attention_forward(as_device(out), as_device(lse), as_device(q), as_device(k), as_device(v), dm, scale, causal,
                        p, seed, config=SMALL if small else None)
    dq, dk, dv = (np.zeros(t.shape, t.dtype) for t in (q, k, v))  # contiguous, whatever q's layout
    delta = np.zeros((Z * HQ, L), stat)
    ds = np.zeros((Z, HQ, L, k.shape[2]), np.float32) if mask_grad else None
    KB.attention_backward(as_device(dq), as_device(dk), as_device(dv), None if ds is None else as_device(ds),
                          as_device(delta), as_device(grad), as_device(q), as_device(k), as_device(v),
                          as_device(out), as_device(lse), dm, scale, causal, p, seed,
                          configs=dict(dkdv=SMALL, dq=SMALL) if small else None)
    return out, lse, (dq, dk, dv, ds)


def _check(rng, dt, shape_q, shape_k, ev, mask=None, causal=False, p=0.0, small=False, mask_grad=False):
    q = rng.standard_normal(shape_q).astype(dt)
    k = rng.standard_normal(shape_k).astype(dt)
    v = rng.standard_normal(shape_k[:-1] + (ev,)).astype(dt)
    grad = rng.standard_normal(shape_q[:-1] + (ev,)).astype(dt)
    out, lse, grads = _kernels(q, k, v, grad, mask, None, causal, p, 77, small, mask_grad)
    want, want_lse = R.attention_forward_ref(q, k, v, mask, None, causal, p, 77)
    _close(out, want, dt)
    np.testing.assert_allclose(lse * math.log(2), want_lse.reshape(lse.shape), rtol=1e-5, atol=1e-5)
    wgrads = R.attention_backward_ref(grad, q, k, v, mask, None, causal, p, 77, mask_grad)
    for got, exp in zip(grads, wgrads):
        if exp is not None:
            _close(got.reshape(exp.shape) if got.size == exp.size else R._sum_to(got, exp.shape), exp, dt, 4.0)


@pytest.mark.parametrize("L,S", [(1, 5), (5, 17), (17, 1), (17, 17)])
@pytest.mark.parametrize("E", [16, 32])
def test_kernels_shapes(rng, L, S, E):
    _check(rng, np.float32, (1, 2, L, E), (1, 2, S, E), E, causal=L != S)  # causal for L < S and L > S


@pytest.mark.parametrize("dt", [np.float16, BF16, np.float32, np.float64])
def test_kernels_dtypes_causal_gqa(rng, dt):
    _check(rng, dt, (2, 4, 5, 16), (2, 2, 17, 16), 32, causal=True)


def test_kernels_head_dim_padding_and_ev(rng):
    _check(rng, np.float32, (1, 1, 5, 20), (1, 1, 17, 20), 12)


@pytest.mark.parametrize("causal", [False, True])
def test_kernels_several_blocks(rng, causal):
    # L, S past two 16-blocks: unmasked blocks, the diagonal and both edges; GQA groups of 3.
    _check(rng, np.float32, (1, 3, 36, 16), (1, 1, 35, 16), 16, causal=causal, small=True)


def test_kernels_bool_mask_broadcast_and_fully_masked_rows(rng):
    mask = rng.random((1, 1, 17, 17)) > 0.4
    mask[0, 0, 3] = False  # a row with no key
    mask = np.broadcast_to(mask, (2, 3, 17, 17))  # stride 0 along batch and heads
    _check(rng, np.float32, (2, 3, 17, 16), (2, 3, 17, 16), 16, mask=mask)


@pytest.mark.parametrize("dt", [np.float16, np.float32])
def test_kernels_float_mask_broadcast_with_gradient(rng, dt):
    mask = rng.standard_normal((2, 1, 1, 19)).astype(dt)
    mask[..., :5] = -np.inf
    mask = np.broadcast_to(mask, (2, 2, 20, 19))
    _check(rng, dt, (2, 2, 20, 16), (2, 2, 19, 16), 16, mask=mask, small=True, mask_grad=True)


@pytest.mark.parametrize("causal", [False, True])
def test_kernels_dropout_matches_reference(rng, causal):
    _check(rng, np.float32, (1, 1, 33, 16), (1, 1, 20, 16), 16, causal=causal, p=0.3, small=True)


def test_kernels_dropout_one_drops_everything(rng):
    _check(rng, np.float32, (1, 1, 5, 16), (1, 1, 5, 16), 16, p=1.0)


def test_kernels_strided_operands(rng):
    # q, k, v as slices of one packed (Z, L, 3, H, E) buffer (the layout of a fused qkv projection).
    qkv = rng.standard_normal((2, 17, 3, 2, 16)).astype(np.float32)
    q, k, v = (np.moveaxis(qkv[:, :, i], 1, 2) for i in range(3))
    grad = rng.standard_normal(q.shape).astype(np.float32)
    out, _, grads = _kernels(q, k, v, grad, causal=True)
    _close(out, R.attention_forward_ref(q, k, v, causal=True)[0], np.float32)
    for got, exp in zip(grads, R.attention_backward_ref(grad, q, k, v, causal=True)):
        if exp is not None:
            _close(got, exp, np.float32, 4.0)


def test_heuristic_configs_are_shipped():
    shipped = {}
    for spec in K.SPECS + KB.SPECS:
        for target in spec.targets or ("sm_80", "sm_90"):
            shipped[spec.name.split(":sm_")[0].rstrip("]") + "]", target] = spec.configs
    for short, dtype in K.DTYPES.items():
        for d in K.HEAD_DIMS:
            for arch in (80, 90):
                key, target = (dtype, d, d, 0, False, False, arch), f"sm_{arch}"
                assert K._fwd_heuristic(key) in shipped[f"attention.fwd[{short}:d{d}]", target]
                assert KB._dkdv_heuristic(key) in shipped[f"attention.bwd_dkdv[{short}:d{d}]", target]
                assert KB._dq_heuristic(key) in shipped[f"attention.bwd_dq[{short}:d{d}]", target]


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


@pytest.mark.parametrize("case", ["causal", "bool_mask", "float_mask", "empty_rows", "dropout", "wide_rows", "fp64"])
def test_backward_from_forward_probabilities_is_the_recomputation_bit_for_bit(rng, case):
    # The cpu op hands the forward's probabilities to the backward instead of recomputing them: every gradient
    # must keep its exact bits, and the probabilities must be the softmax the forward's output was made from.
    dt = np.float64 if case == "fp64" else np.float32
    L, S = (5, 80) if case == "wide_rows" else (9, 7)
    qkv = rng.standard_normal((2, L, 3, 3, 6)).astype(dt).transpose(2, 0, 3, 1, 4)  # strided heads, as GPT's
    q = qkv[0]
    k, v = rng.standard_normal((2, 3, S, 6)).astype(dt), rng.standard_normal((2, 3, S, 5)).astype(dt)
    grad = rng.standard_normal((2, 3, L, 5)).astype(dt)
    mask, causal, p, mask_grad = None, case in ("causal", "fp64"), 0.0, False
    if case == "bool_mask":
        mask = rng.random((L, S)) > 0.4
    elif case == "empty_rows":
        mask = rng.random((L, S)) > 0.5
        mask[2] = False  # a query that keeps no key: output 0, gradient 0
    elif case == "float_mask":
        mask, mask_grad = rng.standard_normal((1, L, S)).astype(dt), True
    elif case == "dropout":
        p = 0.3
    out, lse, probs = R.attention_forward_probs(q, k, v, mask, 0.7, causal, p, 11)
    want_out, want_lse = R.attention_forward_ref(q, k, v, mask, 0.7, causal, p, 11)
    assert _bits(out).tobytes() == _bits(want_out).tobytes() and _bits(lse).tobytes() == _bits(want_lse).tobytes()
    if p == 0.0:
        np.testing.assert_array_equal(np.matmul(probs, v.astype(probs.dtype)).astype(dt), out)
    kept = probs.sum(-1)
    np.testing.assert_allclose(kept[np.isfinite(lse)], 1.0, rtol=1e-6)
    if case == "empty_rows":
        assert np.all(probs[:, :, 2] == 0) and np.all(np.isinf(lse[:, :, 2]))
    recomputed = R.attention_backward_ref(grad, q, k, v, mask, 0.7, causal, p, 11, mask_grad)
    reused = R.attention_backward_ref(grad, q, k, v, mask, 0.7, causal, p, 11, mask_grad, probs=probs)
    for a, b in zip(recomputed, reused):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype and _bits(a).tobytes() == _bits(b).tobytes()


@pytest.mark.parametrize("shape", [(3, 4, 16, 16), (2, 5, 7), (1, 1, 1, 64), (2, 65), (3, 0, 4)])
def test_row_max_is_nps_maximum_with_nan_and_inf(rng, shape):
    s = rng.standard_normal(shape).astype(np.float32)
    if s.size:
        s.reshape(-1)[::7] = -np.inf
        s.reshape(-1)[3] = np.nan
        s.reshape(-1)[-1] = np.inf
    np.testing.assert_array_equal(R._row_max(s), np.max(s, axis=-1, keepdims=True) if shape[-1] else
                                  np.full(shape[:-1] + (1,), -np.inf, np.float32))


@pytest.mark.parametrize(("L", "S"), [(3, 5), (16, 16), (1100, 1000)])
def test_causal_mask_small_sizes_cached_large_ones_fresh(L, S):
    mask = R._above_diagonal(L, S)
    np.testing.assert_array_equal(mask, np.arange(S)[None, :] > np.arange(L)[:, None])
    if L * S <= R._CACHED_MASK_MAX:
        assert R._above_diagonal(L, S) is mask and not mask.flags.writeable
    else:  # not kept: a long sequence's mask would stay in memory for good
        assert R._above_diagonal(L, S) is not mask
