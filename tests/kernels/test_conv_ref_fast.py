"""kernels/conv_ref.py's strided im2col (one `as_strided` view of the input, zero-padded into a fresh buffer
only when padding is non-zero): the matrix against a per-entry construction, the three references against the
naive loop of tests/kernels/test_conv.py and known values, on padding 0 (the zero-copy view of x itself),
non-contiguous and 16-bit inputs, groups, dilation, strides, output crops; x is never written. The wide path
(stride 1 along W: columns over the padded row width) against the general one, including non-finite operands
(which must leave it: inf * 0 is not 0)."""

import numpy as np
import pytest
from tritensor.kernels import conv_ref as R

from tests.kernels.test_conv import _naive

# (x shape, w shape, stride, padding, dilation, groups)
GEOMS = [
    ((2, 3, 1, 6, 5), (4, 3, 1, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1),   # padding 0: a view of x
    ((2, 1, 1, 12, 12), (3, 1, 1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), 1),  # the benchmark CNN's conv1
    ((1, 4, 1, 7, 6), (6, 2, 1, 2, 3), (1, 2, 1), (0, 1, 2), (1, 1, 2), 2),
    ((1, 2, 4, 3, 5), (3, 2, 2, 2, 3), (2, 1, 2), (1, 0, 1), (1, 2, 1), 1),
    ((2, 4, 1, 5, 5), (4, 1, 1, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), 4),    # depthwise
]


def _operands(case, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case[0]).astype(dtype)
    w = rng.standard_normal(case[1]).astype(dtype)
    return x, w, rng.standard_normal(case[1][0]).astype(dtype)


def _osz(case):
    return tuple(R.out_size(s, k, st, p, d) for s, k, st, p, d in zip(case[0][2:], case[1][2:], *case[2:5]))


@pytest.mark.parametrize("case", GEOMS)
def test_cols_entries(case):
    x, w, _ = _operands(case)
    stride, padding, dilation, groups = case[2:]
    ks, osz = case[1][2:], _osz(case)
    cols = R._cols(x, ks, stride, padding, dilation, groups)
    n, c = x.shape[:2]
    cg = c // groups
    assert cols.shape == (groups, cg * int(np.prod(ks)), n * int(np.prod(osz)))
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    want = np.empty_like(cols)
    for g, ci, kd, kh, kw in np.ndindex(groups, cg, *ks):
        row = (ci * ks[0] + kd) * ks[1] * ks[2] + kh * ks[2] + kw
        for nn, od, oh, ow in np.ndindex(n, *osz):
            col = ((nn * osz[0] + od) * osz[1] + oh) * osz[2] + ow
            want[g, row, col] = xp[nn, g * cg + ci, od * stride[0] + kd * dilation[0],
                                   oh * stride[1] + kh * dilation[1], ow * stride[2] + kw * dilation[2]]
    np.testing.assert_array_equal(cols, want)


@pytest.mark.parametrize("case", GEOMS)
@pytest.mark.parametrize("contiguous", [True, False])
def test_refs_match_naive_loop(case, contiguous):
    x, w, b = _operands(case, 1)
    stride, padding, dilation, groups = case[2:]
    if not contiguous:  # W not innermost, and a strided batch
        x = np.ascontiguousarray(np.concatenate([x, x]).transpose(0, 1, 2, 4, 3)).transpose(0, 1, 2, 4, 3)[::2]
    before = x.copy()
    y = R.conv_forward_ref(x, w, b, *case[2:])
    np.testing.assert_allclose(y, _naive(x, w, b, *case[2:]), rtol=1e-12, atol=1e-12)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    dx = R.conv_input_grad_ref(dy, w, None, x.shape, stride, padding, dilation, groups)
    dw = R.conv_weight_grad_ref(dy, x, w.shape, stride, padding, dilation, groups)
    # The adjoint identities: <conv(x, w), dy> = <x, dx> = <w, dw>.
    inner = float((_naive(x, w, None, *case[2:]) * dy).sum())
    assert dx.shape == x.shape and dw.shape == w.shape
    np.testing.assert_allclose([(x * dx).sum(), (w * dw).sum()], [inner, inner], rtol=1e-11)
    np.testing.assert_array_equal(x, before)  # the im2col view never writes x


def test_input_grad_with_bias_is_conv_transpose():
    dy = np.arange(4.0).reshape(1, 1, 1, 2, 2)
    w = np.ones((1, 2, 1, 2, 2))
    dx = R.conv_input_grad_ref(dy, w, np.array([10.0, 20.0]), (1, 2, 1, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1)
    spread = [[0, 1, 1], [2, 6, 4], [2, 5, 3]]  # each dy value added over its 2x2 window
    np.testing.assert_array_equal(dx[0, 0, 0], np.array(spread) + 10)
    np.testing.assert_array_equal(dx[0, 1, 0], np.array(spread) + 20)


def test_known_values_padding_and_output_crop():
    x = np.arange(9.0).reshape(1, 1, 1, 3, 3)
    w = np.ones((1, 1, 1, 2, 2))
    y = R.conv_forward_ref(x, w, np.array([0.5]), (1, 1, 1), (0, 1, 1), (1, 1, 1), 1)
    want = [[0, 1, 3, 2], [3, 8, 12, 7], [9, 20, 24, 13], [6, 13, 15, 8]]
    np.testing.assert_array_equal(y[0, 0, 0], np.array(want) + 0.5)
    dy = np.ones((1, 1, 1, 2, 2))  # osz (1, 2, 2): the window grid cropped from the padded input's (1, 4, 4)
    dw = R.conv_weight_grad_ref(dy, x, w.shape, (1, 1, 1), (0, 1, 1), (1, 1, 1), 1)
    # dw[kh, kw] sums padded x over the 2x2 window grid shifted by (kh, kw): only x[:2, :2] is ever read.
    np.testing.assert_array_equal(dw[0, 0, 0], [[0, 0 + 1], [0 + 3, 0 + 1 + 3 + 4]])


@pytest.mark.parametrize("dtype, tol", [(np.float16, 2e-3), (np.float32, 1e-5)])
def test_low_precision_computes_in_float32(dtype, tol):
    case = GEOMS[2]
    x, w, b = _operands(case, 3, dtype)
    y = R.conv_forward_ref(x, w, b, *case[2:])
    assert y.dtype == dtype
    want = _naive(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), *case[2:])
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=tol, atol=tol * 4)


# Geometries the wide path takes: (x shape, w shape, stride, padding, dilation, groups)
WIDE = [
    ((8, 16, 1, 6, 6), (32, 16, 1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), 1),   # the benchmark CNN's conv2
    ((2, 4, 1, 7, 9), (6, 2, 1, 3, 2), (1, 2, 1), (0, 1, 0), (1, 1, 1), 2),     # stride_h 2, padding 0 along W
    ((1, 3, 3, 5, 8), (2, 3, 2, 2, 2), (2, 1, 1), (1, 1, 1), (1, 2, 1), 1),     # 3-D, dilation_h 2
    ((2, 2, 1, 1, 12), (3, 2, 1, 1, 3), (1, 1, 1), (0, 0, 1), (1, 1, 2), 1),    # 1-D, dilation_w 2
]


def _general(monkeypatch, fn, *args):
    with monkeypatch.context() as m:
        m.setattr(R, "_wide_ok", lambda *a: False)
        return fn(*args)


@pytest.mark.parametrize("case", WIDE)
def test_wide_matches_general_and_naive(monkeypatch, case):
    x, w, b = _operands(case, 4)
    stride, padding, dilation, groups = case[2:]
    assert R._wide_ok(x.shape, w.shape[2:], stride, padding, dilation, _osz(case))
    y = R.conv_forward_ref(x, w, b, *case[2:])
    np.testing.assert_allclose(y, _general(monkeypatch, R.conv_forward_ref, x, w, b, *case[2:]), rtol=1e-13,
                               atol=1e-13)
    np.testing.assert_allclose(y, _naive(x, w, b, *case[2:]), rtol=1e-12, atol=1e-12)
    dy = np.random.default_rng(5).standard_normal(y.shape)
    args = (stride, padding, dilation, groups)
    bias_c = np.linspace(-1, 1, x.shape[1])  # conv_transpose's bias: one per input channel
    for fn, ops in ((R.conv_input_grad_ref, (dy, w, bias_c, x.shape)), (R.conv_weight_grad_ref, (dy, x, w.shape))):
        np.testing.assert_allclose(fn(*ops, *args), _general(monkeypatch, fn, *ops, *args), rtol=1e-12, atol=1e-12)


def test_wide_weight_grad_cropped_output_grid(monkeypatch):
    # A transposed convolution's output_padding: dy's grid (1, 4, 7) is smaller than x's full (1, 5, 8).
    x = np.random.default_rng(6).standard_normal((2, 3, 1, 5, 8))
    dy = np.random.default_rng(7).standard_normal((2, 4, 1, 4, 7))
    geom = ((1, 1, 1), (0, 1, 1), (1, 1, 1), 1)
    assert R._wide_ok(x.shape, (1, 3, 3), geom[0], geom[1], geom[2], (1, 4, 7))
    dw = R.conv_weight_grad_ref(dy, x, (4, 3, 1, 3, 3), *geom)
    np.testing.assert_allclose(dw, _general(monkeypatch, R.conv_weight_grad_ref, dy, x, (4, 3, 1, 3, 3), *geom),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf in the sums, on both paths
def test_non_finite_operands_match_general(monkeypatch):
    case = ((2, 3, 1, 5, 6), (4, 3, 1, 3, 3)) + WIDE[0][2:]
    x, w, b = _operands(case, 8)
    x[0, 1, 0, 2, 5] = np.inf  # a row end: the wide columns of the previous row read it
    x[1, 0, 0, 0, 0] = np.nan
    w[2, 1, 0, 1, 1] = -np.inf
    geom = case[2:]
    assert R._wide_ok(x.shape, w.shape[2:], *geom[:3], _osz(case))
    y = R.conv_forward_ref(x, w, b, *geom)
    np.testing.assert_allclose(y, _general(monkeypatch, R.conv_forward_ref, x, w, b, *geom), rtol=1e-12)
    dy = np.random.default_rng(9).standard_normal(y.shape)
    dw = R.conv_weight_grad_ref(dy, x, w.shape, *geom)
    np.testing.assert_allclose(dw, _general(monkeypatch, R.conv_weight_grad_ref, dy, x, w.shape, *geom),
                               rtol=1e-12)
    dx = R.conv_input_grad_ref(dy, w, None, x.shape, *geom)
    np.testing.assert_allclose(dx, _general(monkeypatch, R.conv_input_grad_ref, dy, w, None, x.shape, *geom),
                               rtol=1e-12)
    assert np.isfinite(dx[:, 0]).all() and not np.isfinite(dx[:, 1]).all()  # only -inf's input channel


PLANE = [  # stride 1: conv_input_grad_ref's whole-plane path (x shape, w shape, stride, padding, dilation, groups)
    WIDE[0],
    ((2, 3, 1, 5, 7), (4, 3, 1, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1),     # no padding
    ((1, 4, 3, 5, 6), (6, 2, 2, 3, 2), (1, 1, 1), (1, 2, 0), (1, 1, 2), 2),     # 3-D, groups, dilation_w 2
    ((2, 2, 1, 1, 12), (3, 2, 1, 1, 3), (1, 1, 1), (0, 0, 1), (1, 1, 2), 1),    # 1-D
]


@pytest.mark.parametrize("case", PLANE)
def test_plane_input_grad_matches_strided_path(monkeypatch, case):
    x, w, b = _operands(case, 10)
    y = R.conv_forward_ref(x, w, b, *case[2:])
    dy = np.random.default_rng(11).standard_normal(y.shape)
    assert R._plane_ok(case[2], w)
    dx = R.conv_input_grad_ref(dy, w, None, x.shape, *case[2:])
    with monkeypatch.context() as m:
        m.setattr(R, "_plane_ok", lambda *a: False)
        want = R.conv_input_grad_ref(dy, w, None, x.shape, *case[2:])
    np.testing.assert_allclose(dx, want, rtol=1e-12, atol=1e-12)
    # the adjoint identity <conv(x), dy> == <x, dx> ties it to the forward (and so to the naive convolution)
    y0 = R.conv_forward_ref(x, w, None, *case[2:])
    np.testing.assert_allclose(np.vdot(y0, dy), np.vdot(x, dx), rtol=1e-12)

