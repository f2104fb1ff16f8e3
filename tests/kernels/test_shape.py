"""Shape kernels (flip, roll, pad, tril/triu) in Triton's interpreter against their NumPy references;
the backward references against central finite differences in float64."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import shape as S

from tests.conftest import as_device as dev
from tests.kernels.tuning_helpers import repeatable_flags

BF16 = ml_dtypes.bfloat16
DTYPES = [np.float32, np.float16, BF16, np.int64, np.bool_]
TOL = {np.float32: 1e-6, np.float16: 2e-3, BF16: 1.6e-2, np.float64: 1e-12}


def data(rng, shape, dt):
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(np.dtype(dt), np.integer):
        return rng.integers(-50, 50, shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def close(actual, expected, dt, scale=1.0):
    t = TOL[dt] * scale
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=t, atol=t)


def fd_vjp(f, x, grad, eps=1e-6):
    """d/dx of sum(f(x) * grad) by central differences (float64)."""
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        out[i] = (np.sum(f(xp) * grad) - np.sum(f(xm) * grad)) / (2 * eps)
    return out


# ------------------------------------------------------------------ flip
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("dims", [(0,), (-1,), (0, 2), (-3, -2, -1)])
def test_flip_noncontiguous(rng, dt, dims):
    x = data(rng, (5, 3, 4), dt).transpose(1, 0, 2)  # (3, 5, 4)
    out = np.zeros((3, 5, 4), dt)
    S.flip(dev(out), dev(x), dims)
    np.testing.assert_array_equal(out, S.flip_ref(x, dims))


def test_flip_high_rank_loops_leading_dims(rng):
    x = data(rng, (2, 3, 2, 3, 2, 5), np.float32)[:, :, :, :, :, ::2]  # 6 non-mergeable dims
    out = np.zeros(x.shape, np.float32)
    S.flip(dev(out), dev(x), (0, 1, 3, 5))
    np.testing.assert_array_equal(out, S.flip_ref(x, (0, 1, 3, 5)))
    grad_x = np.zeros_like(out)
    S.flip_backward(dev(grad_x), dev(out), (0, 1, 3, 5))
    np.testing.assert_array_equal(grad_x, S.flip_backward_ref(out, (0, 1, 3, 5))[0])


# ------------------------------------------------------------------ roll
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shifts,dims", [(2, 0), (-1, -1), ((7, -3), (1, 2)), ((1, 2), (0, 0)), (5, None)])
def test_roll(rng, dt, shifts, dims):
    x = data(rng, (4, 6, 5), dt)
    if dims is not None:
        x = x[:, ::-1].copy()[:, ::2]  # (4, 3, 5) strided
    out = np.zeros(x.shape, dt)
    S.roll(dev(out), dev(x), shifts, dims)
    np.testing.assert_array_equal(out, S.roll_ref(x, shifts, dims))


def test_roll_backward(rng):
    grad = data(rng, (3, 7), np.float32)
    grad_x = np.zeros_like(grad)
    S.roll_backward(dev(grad_x), dev(grad), (2, -9), (0, 1))
    np.testing.assert_array_equal(grad_x, S.roll_backward_ref(grad, (2, -9), (0, 1))[0])
    with pytest.raises(ValueError):
        S.roll(dev(grad_x), dev(grad[:, ::2]), 1)  # flattened roll of a layout that does not collapse


# ------------------------------------------------------------------ tril / triu
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("diagonal", [0, -1, 2])
def test_tril_triu_batched(rng, dt, diagonal):
    x = data(rng, (2, 5, 4, 3), dt).transpose(0, 3, 2, 1)  # (2, 3, 4, 5), non-contiguous
    for fn, ref in ((S.tril, S.tril_ref), (S.triu, S.triu_ref)):
        out = np.ones((2, 3, 4, 5), dt)
        fn(dev(out), dev(x), diagonal)
        np.testing.assert_array_equal(out, ref(x, diagonal))


def test_tril_high_rank_in_place_and_backward(rng):
    x = data(rng, (2, 3, 2, 4, 3, 3), np.float32)[:, ::2, :, ::2]  # batch (2, 2, 2, 2) not mergeable
    expected = S.tril_ref(x, 1)
    S.tril(dev(x), dev(x), 1)
    np.testing.assert_array_equal(x, expected)
    grad = data(rng, (3, 4), np.float32)
    gx = np.zeros_like(grad)
    S.triu_backward(dev(gx), dev(grad), -1)
    np.testing.assert_array_equal(gx, S.triu_backward_ref(grad, -1)[0])
    S.tril_backward(dev(gx), dev(grad), -1)
    np.testing.assert_array_equal(gx, S.tril_backward_ref(grad, -1)[0])


# ------------------------------------------------------------------ pad
PADS = [
    ("constant", (1, 2)),
    ("constant", (2, 0, -1, 1, 1, 1)),  # a negative pad crops
    ("reflect", (2, 1)),
    ("reflect", (1, 2, 2, 0)),
    ("replicate", (3, 1, 0, 2)),
    ("replicate", (1, 1, 2, 1, 1, 0)),
    ("circular", (2, 3, 1, 0)),
]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("case", range(len(PADS)))
def test_pad_forward(rng, dt, case):
    mode, pad = PADS[case]
    x = data(rng, (2, 4, 3, 5), dt).transpose(0, 2, 1, 3)  # (2, 3, 4, 5), non-contiguous
    out = np.zeros(S.pad_shape(x.shape, pad), dt)
    value = True if dt == np.bool_ else 3
    S.pad(dev(out), dev(x), pad, mode, value)
    np.testing.assert_array_equal(out, S.pad_ref(x, pad, mode, value))


def test_pad_matches_numpy_pad(rng):
    x = rng.standard_normal((3, 4))
    for mode, np_mode in (("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")):
        out = np.zeros((6, 9))
        S.pad(dev(out), dev(x), (2, 3, 1, 2), mode)
        np.testing.assert_array_equal(out, np.pad(x, ((1, 2), (2, 3)), mode=np_mode))
    out = np.zeros((3, 6))
    S.pad(dev(out), dev(x), (0, 2), "constant", 0.1)
    np.testing.assert_array_equal(out, np.pad(x, ((0, 0), (0, 2)), constant_values=0.1))  # exact fp64 value


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("case", range(len(PADS)))
def test_pad_backward(rng, dt, case):
    mode, pad = PADS[case]
    x_shape = (2, 3, 4, 5)
    grad = data(rng, S.pad_shape(x_shape, pad), dt)
    grad_x = np.full(x_shape, 7, dt)
    S.pad_backward(dev(grad_x), dev(grad), pad, mode)
    (ref,) = S.pad_backward_ref(grad.astype(np.float64), x_shape, pad, mode)
    close(grad_x, ref, dt, 8)


def test_pad_backward_bf16_needs_acc(rng):
    grad = data(rng, (3, 8), BF16)
    grad_x = np.zeros((3, 5), BF16)
    with pytest.raises(TypeError):
        S.pad_backward(dev(grad_x), dev(grad), (2, 1), "reflect")
    S.pad_backward(dev(grad_x), dev(grad), (2, 1), "reflect", acc=dev(np.zeros((3, 5), np.float32)))
    (ref,) = S.pad_backward_ref(grad.astype(np.float32), (3, 5), (2, 1), "reflect")
    close(grad_x, ref.astype(BF16), BF16)


def test_pad_high_rank_constant_leading_dims(rng):
    x = data(rng, (2, 2, 3, 2, 2, 3), np.float32)[..., ::2]  # every dim padded: 6 > 4 kernel dims
    pad = (1, 0, 0, 1, 1, 1, 0, 2, 1, 0, 1, 1)
    out = np.zeros(S.pad_shape(x.shape, pad), np.float32)
    S.pad(dev(out), dev(x), pad, "constant", -1.5)
    np.testing.assert_array_equal(out, S.pad_ref(x, pad, "constant", -1.5))
    grad_x = np.zeros(x.shape, np.float32)
    S.pad_backward(dev(grad_x), dev(out), pad, "constant")
    np.testing.assert_array_equal(grad_x, x)
    x = data(rng, (2, 3, 2, 3, 4), np.float32)
    pad = (1, 1, 1, 0, 1, 1, 0, 1, 1, 0)
    out = np.zeros(S.pad_shape(x.shape, pad), np.float32)
    S.pad(dev(out), dev(x), pad, "replicate")
    np.testing.assert_array_equal(out, S.pad_ref(x, pad, "replicate"))
    grad_x = np.zeros(x.shape, np.float32)
    S.pad_backward(dev(grad_x), dev(out), pad, "replicate")
    close(grad_x, S.pad_backward_ref(out.astype(np.float64), x.shape, pad, "replicate")[0], np.float32, 8)


# ------------------------------------------------------------------ backward references vs finite differences
@pytest.mark.parametrize("case", range(len(PADS)))
def test_pad_backward_ref_finite_differences(rng, case):
    mode, pad = PADS[case]
    x = rng.standard_normal((1, 2, 3, 4))
    grad = rng.standard_normal(S.pad_shape(x.shape, pad))
    np.testing.assert_allclose(S.pad_backward_ref(grad, x.shape, pad, mode)[0],
                               fd_vjp(lambda a: S.pad_ref(a, pad, mode, 0.5), x, grad), atol=1e-7)


def test_shape_backward_refs_finite_differences(rng):
    x = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    checks = [
        (S.flip_backward_ref(g, (0, 1))[0], lambda a: S.flip_ref(a, (0, 1))),
        (S.roll_backward_ref(g, (1, -5), (0, 1))[0], lambda a: S.roll_ref(a, (1, -5), (0, 1))),
        (S.roll_backward_ref(g, 5)[0], lambda a: S.roll_ref(a, 5)),
        (S.tril_backward_ref(g, 1)[0], lambda a: S.tril_ref(a, 1)),
        (S.triu_backward_ref(g, -1)[0], lambda a: S.triu_ref(a, -1)),
    ]
    for analytic, f in checks:
        np.testing.assert_allclose(analytic, fd_vjp(f, x, g), atol=1e-7)


def test_accumulating_and_in_place_launches_are_never_timed(rng, monkeypatch):
    """pad's backward adds into its target and tril_ writes its input: neither is timed on user tensors."""
    calls = repeatable_flags(monkeypatch)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out = np.zeros((3, 8), np.float32)
    S.pad(dev(out), dev(x), (2, 2), "replicate")
    grad_x = np.zeros_like(x)
    S.pad_backward(dev(grad_x), dev(out), (2, 2), "replicate")
    xd = dev(x)
    S.tril(xd, xd)
    assert [c for c in calls if not c[0].startswith("elementwise")] == [
        ("shape.remap", True), ("shape.remap_scatter", False), ("shape.tri", False)]
    np.testing.assert_array_equal(grad_x, S.pad_backward_ref(out, (3, 4), (2, 2), "replicate")[0])


def test_one_byte_outputs_ship_the_heuristics_16_element_configs():
    """remap and tri of a 1-byte output run 16 elements per thread (a 128-bit store); the specs ship it."""
    specs = {s.name: s for s in S.SPECS}
    for tunable, key, spec in ((S.REMAP_TUNING, ("bool", "bool", 2, 0, 1, 2, False, 1024), "shape.remap[roll:i1]"),
                               (S.TRI_TUNING, ("bool", True, 1024), "shape.tri[upper:i1]")):
        config = tunable.heuristic(key)
        assert config["BLOCK"] // (32 * config["num_warps"]) == 16 and specs[spec].configs == [config]
        assert config in tunable.configs(key)
    assert S.TRI_TUNING.heuristic(("float32", False, 1024)) == specs["shape.tri[lower:fp32]"].configs[0]


@pytest.mark.parametrize("case", range(2, len(PADS)))
def test_pad_backward_ref_is_add_at_bit_for_bit(rng, case):
    # the gathers sum each cell's sources in np.add.at's order from 0: the same bits, inf/NaN/-0.0 included
    mode, pad = PADS[case]
    x_shape = (2, 3, 4, 5)
    g = rng.standard_normal(S.pad_shape(x_shape, pad)).astype(np.float32)
    g.reshape(-1)[[0, 7, 19, 30]] = [np.inf, -np.inf, np.nan, -0.0]
    want = g
    for k in reversed(range(len(pad) // 2)):  # the leading padded dim first, as the reference sums
        d = len(x_shape) - 1 - k
        n = x_shape[d]
        i = np.arange(want.shape[d]) - pad[2 * k]
        if mode == "reflect":
            j = np.where(np.abs(i) >= n, 2 * (n - 1) - np.abs(i), np.abs(i))
        else:
            j = np.clip(i, 0, n - 1) if mode == "replicate" else i % n
        acc = np.zeros(want.shape[:d] + (n,) + want.shape[d + 1:], np.float32)
        with np.errstate(invalid="ignore"):
            np.add.at(np.moveaxis(acc, d, 0), j, np.moveaxis(want, d, 0))
        want = acc
    with np.errstate(invalid="ignore"):
        (got,) = S.pad_backward_ref(g, x_shape, pad, mode)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
