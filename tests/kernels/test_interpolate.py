"""kernels/interpolate.py: the NumPy reference against known values, then the gather kernels (forward and the
gather backward) in the interpreter against it: every mode, odd sizes, up- and down-sampling, 1-3 spatial dims,
non-contiguous inputs, fp16/bf16/fp64."""

import numpy as np
import pytest
from tritensor.kernels import interpolate as K

from tests.conftest import as_device
from tritensor.ops.interpolate import source_scale

TOL = {np.float32: 2e-6, np.float64: 2e-6, np.float16: 2e-3}


def _scales(ins, outs, align, factors=None):
    factors = factors or [None] * len(ins)
    return [source_scale(i, o, align, f) for i, o, f in zip(ins, outs, factors)]


def test_reference_known_values():
    ramp = np.arange(4.0, dtype=np.float32).reshape(1, 1, 4)
    half = K.interpolate_ref(ramp, (8,), "linear", False, [0.5])
    np.testing.assert_allclose(half[0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], rtol=0, atol=1e-7)
    # align_corners=True bilinear of a ramp is the ramp sampled at the new grid, exactly
    x = (np.arange(3)[:, None] * 4 + np.arange(4)[None, :]).astype(np.float64).reshape(1, 1, 3, 4)
    y = K.interpolate_ref(x, (5, 7), "linear", True, _scales((3, 4), (5, 7), True))
    expected = np.arange(5)[:, None] * 2.0 + np.arange(7)[None, :] * 0.5
    np.testing.assert_allclose(y[0, 0], expected, atol=1e-6)
    np.testing.assert_array_equal(K.interpolate_ref(np.arange(3.0).reshape(1, 1, 3), (6,), "nearest", False,
                                                    [0.5])[0, 0], [0, 0, 1, 1, 2, 2])
    area = K.interpolate_ref(np.arange(6.0).reshape(1, 1, 6), (3,), "area", False, [2.0])
    np.testing.assert_allclose(area[0, 0], [0.5, 2.5, 4.5])
    # Keys' weights at a half-pixel offset (A = -0.75), and every cubic row sums to one
    m = K.weight_matrix("cubic", 8, 4, 2.0, False)
    np.testing.assert_allclose(m[1, 1:5], [-0.09375, 0.59375, 0.59375, -0.09375], atol=1e-7)
    np.testing.assert_allclose(K.weight_matrix("cubic", 5, 9, 5 / 9, False).sum(1), 1, atol=1e-6)


def test_reference_scale_factor_is_one_over_factor():
    # PyTorch maps with 1/scale_factor (not in/out) unless the factor is recomputed: they differ at o = 5
    m = K.weight_matrix("nearest", 4, 10, 1 / 2.6, False)
    np.testing.assert_array_equal(m.argmax(1), [0, 0, 0, 1, 1, 1, 2, 2, 3, 3])
    m = K.weight_matrix("nearest", 4, 10, 4 / 10, False)
    np.testing.assert_array_equal(m.argmax(1), [0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
    exact = K.weight_matrix("nearest-exact", 4, 10, 4 / 10, False)
    np.testing.assert_array_equal(exact.argmax(1), [0, 0, 1, 1, 1, 2, 2, 3, 3, 3])  # 7.5 * fp32(0.4) >= 3


@pytest.mark.parametrize("mode", ["linear", "cubic", "area"])
def test_reference_backward_is_transpose_finite_differences(mode, rng):
    x = rng.standard_normal((1, 2, 5, 4))
    outs, scales = (7, 3), _scales((5, 4), (7, 3), False)
    g = rng.standard_normal((1, 2) + outs)
    gx = K.interpolate_backward_ref(g, (5, 4), mode, False, scales)
    eps = 1e-6
    for idx in [(0, 0, 0, 0), (0, 1, 4, 3), (0, 1, 2, 1)]:
        d = np.zeros_like(x)
        d[idx] = eps
        fd = ((K.interpolate_ref(x + d, outs, mode, False, scales) - K.interpolate_ref(x - d, outs, mode, False,
                                                                                       scales)) * g).sum() / (2 * eps)
        np.testing.assert_allclose(gx[idx], fd, rtol=1e-6, atol=1e-8)


CASES = [
    ("nearest", (5,), (12,), False), ("nearest", (7, 5), (3, 10), False), ("nearest", (4, 6), (8, 6), False),
    ("nearest-exact", (5, 7), (3, 13), False), ("linear", (5,), (9,), False), ("linear", (6, 7), (4, 11), True),
    ("linear", (3, 4, 5), (5, 3, 7), False), ("linear", (3, 4, 5), (2, 6, 7), True),
    ("cubic", (5, 6), (9, 4), False), ("cubic", (4, 5), (7, 9), True), ("cubic", (1, 6), (3, 2), False),
    ("area", (7, 5), (3, 4), False), ("area", (301,), (37,), False), ("area", (13,), (101,), False),
    ("area", (3, 4, 5), (5, 3, 2), False), ("linear", (1, 3), (4, 1), True),
]


@pytest.mark.parametrize("mode,ins,outs,align", CASES)
def test_kernels_match_reference(mode, ins, outs, align, rng):
    scales = _scales(ins, outs, align)
    x = rng.standard_normal((2, 3) + ins).astype(np.float32)
    out = np.full((2, 3) + outs, np.nan, np.float32)
    K.interpolate(as_device(out), as_device(x), mode, align, scales)
    np.testing.assert_allclose(out, K.interpolate_ref(x, outs, mode, align, scales), rtol=2e-6, atol=2e-6)
    g = rng.standard_normal(out.shape).astype(np.float32)
    gx = np.full(x.shape, np.nan, np.float32)
    K.interpolate_backward(as_device(gx), as_device(g), mode, align, scales)
    np.testing.assert_allclose(gx, K.interpolate_backward_ref(g, ins, mode, align, scales), rtol=2e-6, atol=4e-6)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_kernels_scale_factor_path(mode, rng):
    # The source scale from a user factor (1/2.6), not the size ratio, in both kernels
    scales = [1 / 2.6, 1 / 1.3]
    x = rng.standard_normal((1, 2, 4, 5)).astype(np.float32)
    outs = (10, 6)
    out = np.empty((1, 2) + outs, np.float32)
    K.interpolate(as_device(out), as_device(x), mode, False, scales)
    np.testing.assert_allclose(out, K.interpolate_ref(x, outs, mode, False, scales), rtol=2e-6, atol=2e-6)
    g = rng.standard_normal(out.shape).astype(np.float32)
    gx = np.empty_like(x)
    K.interpolate_backward(as_device(gx), as_device(g), mode, False, scales)
    np.testing.assert_allclose(gx, K.interpolate_backward_ref(g, (4, 5), mode, False, scales), rtol=2e-6, atol=4e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float64, "bf16"])
def test_kernels_dtypes_non_contiguous(dtype, rng):
    from tritensor.kernels.device_array import host_array

    from tritensor import dtypes

    base = rng.standard_normal((2, 3, 7, 5))
    xt = base.transpose(0, 1, 3, 2)  # (2, 3, 5, 7), non-contiguous
    scales = _scales((5, 7), (8, 4), False)
    if dtype == "bf16":
        bits = (xt.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        xv = host_array(bits, dtypes.bfloat16)
        xf = (bits.astype(np.uint32) << 16).view(np.float32)
        out = np.zeros((2, 3, 8, 4), np.uint16)
        K.interpolate(host_array(out, dtypes.bfloat16), xv, "linear", False, scales)
        got = (out.astype(np.uint32) << 16).view(np.float32)
        np.testing.assert_allclose(got, K.interpolate_ref(xf, (8, 4), "linear", False, scales), rtol=8e-3, atol=8e-3)
        return
    x = xt.astype(dtype)
    out = np.zeros((2, 3, 8, 4), dtype)
    K.interpolate(as_device(out), as_device(x), "linear", False, scales)
    np.testing.assert_allclose(out.astype(np.float64), K.interpolate_ref(x, (8, 4), "linear", False, scales),
                               rtol=TOL[dtype], atol=TOL[dtype])
    g = rng.standard_normal((2, 3, 4, 8)).astype(dtype).transpose(0, 1, 3, 2)  # non-contiguous gradient
    gx = np.zeros(x.shape, dtype)
    K.interpolate_backward(as_device(gx), as_device(g), "linear", False, scales)
    np.testing.assert_allclose(gx.astype(np.float64), K.interpolate_backward_ref(g, (5, 7), "linear", False, scales),
                               rtol=TOL[dtype] * 2, atol=TOL[dtype] * 2)


def test_area_size_limit_raises_before_launch():
    x = as_device(np.zeros(1, np.float32)).view_as((1, 1, K.AREA_MAX_SIZE), (0, 0, 0))
    out = as_device(np.zeros(1, np.float32)).view_as((1, 1, 3), (0, 0, 0))
    with pytest.raises(NotImplementedError, match="mode='area'\\) on cuda supports spatial sizes below"):
        K.interpolate(out, x, "area", False, [1.0])


def test_reference_nearest_reads_only_its_taps():
    # inf, NaN and -0.0 stay where they are, as in PyTorch (a dense product would spread 0 * inf = NaN)
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    x[0, 0, 0, 1], x[0, 0, 1, 2], x[0, 0, 2, 3] = np.inf, np.nan, -0.0
    y = K.interpolate_ref(x, (6, 8), "nearest", False, [0.5, 0.5])
    want = x.repeat(2, 2).repeat(2, 3)
    np.testing.assert_array_equal(y.view(np.uint32), want.view(np.uint32))
    down = K.interpolate_ref(x, (3, 2), "nearest", False, [1.0, 2.0])
    np.testing.assert_array_equal(down.view(np.uint32), x[:, :, :, ::2].view(np.uint32))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_reference_bilinear_is_two_tap_passes_last_dim_first(rng, dt):
    # PyTorch's cpu order: each output the W taps' weighted sum first, then the H taps' one, tap 0 then tap 1
    x = rng.standard_normal((2, 3, 5, 6)).astype(dt)
    y = K.interpolate_ref(x, (9, 11), "linear", False, _scales((5, 6), (9, 11), False))

    def taps(n_in, n_out):
        o = np.arange(n_out, dtype=np.float32)
        src = np.maximum(np.float32(n_in / n_out) * (o + np.float32(0.5)) - np.float32(0.5), np.float32(0))
        i0 = np.minimum(src.astype(np.int64), n_in - 1)
        lam = (src - i0.astype(np.float32)).astype(dt)
        return i0, np.minimum(i0 + 1, n_in - 1), (1 - lam).astype(dt), lam

    # a clamped border output (both taps on the last pixel): one tap of the summed weight, as the matrix holds it
    a0, a1, wa0, wa1 = taps(6, 11)
    w = x[..., a0] * wa0 + x[..., a1] * wa1
    cols = a0 == a1
    w[..., cols] = x[..., a0[cols]] * (wa0 + wa1)[cols]
    b0, b1, wb0, wb1 = taps(5, 9)
    want = w[:, :, b0] * wb0[:, None] + w[:, :, b1] * wb1[:, None]
    rows = b0 == b1
    want[:, :, rows] = w[:, :, b0[rows]] * (wb0 + wb1)[rows, None]
    assert cols.any() and rows.any()
    np.testing.assert_array_equal(y, want)


def test_reference_nearest_backward_sums_each_block(rng):
    g = rng.standard_normal((2, 3, 8, 6)).astype(np.float32)
    gx = K.interpolate_backward_ref(g, (4, 3), "nearest", False, [0.5, 0.5])
    blocks = g.reshape(2, 3, 4, 2, 3, 2)
    want = (blocks[:, :, :, 0] + blocks[:, :, :, 1])  # the first dim first, then the last
    want = want[..., 0] + want[..., 1]
    np.testing.assert_array_equal(gx, want)


def test_reference_keeps_the_input_when_nothing_resamples(rng):
    x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    y = K.interpolate_ref(x, (3, 4), "nearest", False, [1.0, 1.0])
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(y, x)
