"""Implicit-GEMM convolution kernels in Triton's interpreter against the NumPy references; the references
against a naive loop, the adjoint identities of the three primitives and central finite differences."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import conv_launch as CL
from tritensor.kernels import conv_ref as R
from tritensor.kernels import tuning

from tests.conftest import as_device

BF16 = ml_dtypes.bfloat16
TOL = {np.float64: 1e-12, np.float32: 1e-5, np.float16: 2e-3, BF16: 1.6e-2}

# (x shape, w shape, stride, padding, dilation, groups): odd sizes, 1-D / 2-D / 3-D forms, groups, depthwise.
CASES = [
    ((2, 3, 1, 5, 7), (4, 3, 1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), 1),
    ((1, 4, 1, 6, 5), (6, 2, 1, 2, 3), (1, 2, 1), (0, 1, 2), (1, 1, 2), 2),
    ((2, 3, 1, 1, 9), (5, 3, 1, 1, 3), (1, 1, 3), (0, 0, 2), (1, 1, 2), 1),
    ((1, 2, 4, 3, 5), (3, 2, 2, 2, 3), (2, 1, 2), (1, 0, 1), (1, 1, 1), 1),
    ((2, 4, 1, 5, 5), (4, 1, 1, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), 4),
]


def _naive(x, w, b, stride, padding, dilation, groups):
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    osz = [R.out_size(s, k, st, p, d) for s, k, st, p, d in zip(x.shape[2:], w.shape[2:], stride, padding, dilation)]
    y = np.zeros((n, o, *osz))
    for idx in np.ndindex(n, o, *osz):
        nn, oo, od, oh, ow = idx
        g = oo // (o // groups)
        sl = tuple(slice(q * st, q * st + d * (k - 1) + 1, d)
                   for q, st, d, k in zip((od, oh, ow), stride, dilation, w.shape[2:]))
        y[idx] = np.sum(xp[(nn, slice(g * cg, (g + 1) * cg)) + sl] * w[oo]) + (b[oo] if b is not None else 0)
    return y


def _data(case, dt=np.float64, seed=0):
    xs, ws = case[:2]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(dt)
    w = rng.standard_normal(ws).astype(dt)
    b = rng.standard_normal(ws[0]).astype(dt)
    return x, w, b


def _osz(case):
    xs, ws, st, p, d, _ = case
    return tuple(R.out_size(s, k, a, q, e) for s, k, a, q, e in zip(xs[2:], ws[2:], st, p, d))


@pytest.mark.parametrize("case", CASES)
def test_forward_ref_matches_naive_loop(case):
    x, w, b = _data(case)
    got = R.conv_forward_ref(x, w, b, *case[2:])
    np.testing.assert_allclose(got, _naive(x, w, b, *case[2:]), rtol=1e-12, atol=1e-12)


def test_forward_ref_known_values():
    # 1x1 input channel, 3x3 image of 0..8, a 2x2 all-ones kernel: each output is a 2x2 window sum.
    x = np.arange(9.0).reshape(1, 1, 1, 3, 3)
    w = np.ones((1, 1, 1, 2, 2))
    got = R.conv_forward_ref(x, w, np.array([0.5]), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1)
    np.testing.assert_array_equal(got.reshape(2, 2), [[8.5, 12.5], [20.5, 24.5]])


@pytest.mark.parametrize("case", CASES)
def test_backward_refs_are_adjoints(case):
    """<dy, conv(x, w)> = <dgrad(dy, w), x> = <wgrad(dy, x), w>: exact for a bilinear map."""
    x, w, _ = _data(case)
    dy = np.random.default_rng(3).standard_normal((x.shape[0], w.shape[0], *_osz(case)))
    y = R.conv_forward_ref(x, w, None, *case[2:])
    dx = R.conv_input_grad_ref(dy, w, None, x.shape, *case[2:])
    dw = R.conv_weight_grad_ref(dy, x, w.shape, *case[2:])
    assert dx.shape == x.shape and dw.shape == w.shape
    np.testing.assert_allclose(np.sum(dy * y), np.sum(dx * x), rtol=1e-10)
    np.testing.assert_allclose(np.sum(dy * y), np.sum(dw * w), rtol=1e-10)


def test_backward_refs_finite_differences():
    case = CASES[1]
    x, w, _ = _data(case)
    dy = np.random.default_rng(4).standard_normal((x.shape[0], w.shape[0], *_osz(case)))
    dx = R.conv_input_grad_ref(dy, w, None, x.shape, *case[2:])
    dw = R.conv_weight_grad_ref(dy, x, w.shape, *case[2:])
    eps = 1e-6
    for arr, grad, which in ((x, dx, 0), (w, dw, 1)):
        for i in [(0, 1, 0, 2, 3), (0, 3, 0, 5, 4)] if which == 0 else [(1, 0, 0, 1, 2), (5, 1, 0, 0, 0)]:
            hi, lo = arr.copy(), arr.copy()
            hi[i] += eps
            lo[i] -= eps
            args = (hi, w) if which == 0 else (x, hi)
            largs = (lo, w) if which == 0 else (x, lo)
            num = (np.sum(dy * R.conv_forward_ref(*args, None, *case[2:]))
                   - np.sum(dy * R.conv_forward_ref(*largs, None, *case[2:]))) / (2 * eps)
            np.testing.assert_allclose(grad[i], num, rtol=1e-6, atol=1e-8)


def _close(got, want, dt):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=TOL[dt], atol=TOL[dt])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_kernels_match_refs(case, dt):
    x, w, b = _data(case, dt)
    dy = np.random.default_rng(5).standard_normal((x.shape[0], w.shape[0], *_osz(case))).astype(dt)
    y = np.empty(dy.shape, dt)
    CL.conv_forward(as_device(y), as_device(x), as_device(w), as_device(b), *case[2:])
    _close(y, R.conv_forward_ref(x, w, b, *case[2:]), dt)
    dx = np.empty(x.shape, dt)
    CL.conv_input_grad(as_device(dx), as_device(dy), as_device(w), None, *case[2:])
    _close(dx, R.conv_input_grad_ref(dy, w, None, x.shape, *case[2:]), dt)
    dw = np.empty(w.shape, dt)
    CL.conv_weight_grad(as_device(dw), as_device(dy), as_device(x), *case[2:])
    _close(dw, R.conv_weight_grad_ref(dy, x, w.shape, *case[2:]), dt)


@pytest.mark.parametrize("dt", [np.float16, BF16])
def test_kernels_16bit(dt):
    case = CASES[1]
    x, w, b = _data(case, dt)
    dy = np.random.default_rng(6).standard_normal((x.shape[0], w.shape[0], *_osz(case))).astype(dt)
    y = np.empty(dy.shape, dt)
    CL.conv_forward(as_device(y), as_device(x), as_device(w), as_device(b), *case[2:])
    _close(y, R.conv_forward_ref(x, w, b, *case[2:]), dt)
    dx = np.empty(x.shape, dt)
    CL.conv_input_grad(as_device(dx), as_device(dy), as_device(w), as_device(b[:4]), *case[2:])
    _close(dx, R.conv_input_grad_ref(dy, w, b[:4], x.shape, *case[2:]), dt)
    dw = np.empty(w.shape, dt)
    CL.conv_weight_grad(as_device(dw), as_device(dy), as_device(x), *case[2:])
    _close(dw, R.conv_weight_grad_ref(dy, x, w.shape, *case[2:]), dt)


def test_non_contiguous_operands():
    case = CASES[0]
    x, w, b = _data(case, np.float32)
    xt = np.ascontiguousarray(x.transpose(0, 1, 2, 4, 3)).transpose(0, 1, 2, 4, 3)  # W not innermost
    wt = np.ascontiguousarray(w.transpose(1, 0, 2, 3, 4)).transpose(1, 0, 2, 3, 4)
    y = np.zeros((x.shape[0], w.shape[0], *_osz(case)), np.float32)[:, :, :, :, :]
    out = np.zeros((*y.shape[:4], 2 * y.shape[4]), np.float32)[..., ::2]  # strided output
    CL.conv_forward(as_device(out), as_device(xt), as_device(wt), as_device(b), *case[2:])
    _close(out, R.conv_forward_ref(x, w, b, *case[2:]), np.float32)


def test_weight_grad_split_k(monkeypatch):
    """The split-K weight gradient (fp32 partials + fixed-order sum) equals the reference."""
    monkeypatch.setattr(CL, "_split", lambda *a: 4)
    tuning.forget()
    case = CASES[0]
    x, w, _ = _data(case, np.float32)
    dy = np.random.default_rng(7).standard_normal((x.shape[0], w.shape[0], *_osz(case))).astype(np.float32)
    dw = np.empty(w.shape, np.float32)
    made = []

    def scratch(shape):
        made.append(np.zeros(shape, np.float32))
        return as_device(made[-1])

    CL.conv_weight_grad(as_device(dw), as_device(dy), as_device(x), *case[2:], scratch=scratch)
    tuning.forget()
    assert made and made[0].shape[0] == 4
    _close(dw, R.conv_weight_grad_ref(dy, x, w.shape, *case[2:]), np.float32)
    with pytest.raises(ValueError, match="scratch"):
        CL.conv_weight_grad(as_device(dw), as_device(dy), as_device(x), *case[2:])
    tuning.forget()


def test_heuristic_and_space():
    key = CL.tuning_key("fwd", 1000, 32, 27, np.float16, False, 1)
    assert CL._heuristic(key)["BLOCK_N"] == 32 and CL._heuristic(key)["SPLIT_K"] == 1
    assert len(CL.FWD_TUNING.configs(key)) >= 2
    assert CL.tuning_key("wgrad", 32, 144, 1 << 16, np.float32, True, 1).split > 1
    with pytest.raises(TypeError):
        CL.tuning_key("fwd", 8, 8, 8, np.int32, False, 1)
    names = [s.name for s in CL.SPECS]
    assert all(s.tensor_cores for s in CL.SPECS if "sum_slices" not in s.name and "fp32:ieee" not in s.name)
    assert len(names) == len(set(names))


DEPTHWISE = [
    ((2, 3, 1, 6, 7), (6, 1, 1, 3, 3), (1, 2, 1), (0, 1, 1), (1, 1, 2), 3),  # multiplier 2, stride, dilation
    ((1, 2, 3, 4, 5), (2, 1, 2, 3, 2), (2, 1, 1), (1, 1, 0), (1, 1, 1), 2),  # 3-D
    ((2, 4, 1, 1, 9), (4, 1, 1, 1, 4), (1, 1, 3), (0, 0, 2), (1, 1, 1), 4),  # 1-D, even kernel
]


def _launches(fn):
    seen = []
    tuning.add_observer(seen.append)
    try:
        fn()
    finally:
        tuning.remove_observer(seen.append)
    return [r.tunable.name for r in seen]


@pytest.mark.parametrize("case", DEPTHWISE)
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16, BF16])
def test_depthwise_direct_kernels(case, dt):
    x, w, b = _data(case, dt)
    dy = np.random.default_rng(8).standard_normal((x.shape[0], w.shape[0], *_osz(case))).astype(dt)
    y = np.empty(dy.shape, dt)
    names = _launches(lambda: CL.conv_forward(as_device(y), as_device(x), as_device(w), as_device(b), *case[2:]))
    assert names == ["conv_depthwise.fwd"]
    _close(y, R.conv_forward_ref(x, w, b, *case[2:]), dt)
    dx = np.empty(x.shape, dt)
    bx = b[:x.shape[1]]
    names = _launches(lambda: CL.conv_input_grad(as_device(dx), as_device(dy), as_device(w), as_device(bx),
                                                 *case[2:]))
    assert names == ["conv_depthwise.dgrad"]
    _close(dx, R.conv_input_grad_ref(dy, w, bx, x.shape, *case[2:]), dt)
    dw = np.empty(w.shape, dt)
    names = _launches(lambda: CL.conv_weight_grad(as_device(dw), as_device(dy), as_device(x), *case[2:]))
    assert names == ["conv_depthwise.wgrad"]
    _close(dw, R.conv_weight_grad_ref(dy, x, w.shape, *case[2:]), dt)


def test_depthwise_strided_output_falls_back_to_gemm():
    case = DEPTHWISE[0]
    x, w, b = _data(case, np.float32)
    osz = _osz(case)
    out = np.zeros((x.shape[0], w.shape[0], *osz[:2], 2 * osz[2]), np.float32)[..., ::2]
    names = _launches(lambda: CL.conv_forward(as_device(out), as_device(x), as_device(w), as_device(b), *case[2:]))
    assert names == ["conv.fwd"]
    _close(out, R.conv_forward_ref(x, w, b, *case[2:]), np.float32)
