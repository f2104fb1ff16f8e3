"""The elementwise map kernel in Triton's interpreter against its NumPy references."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import elementwise as E
from tritensor.kernels import reduction as R

from tests.conftest import as_device

FLOATS = [np.float32, np.float16, ml_dtypes.bfloat16, np.float64]
TOL = {np.float32: 1e-6, np.float16: 1e-3, ml_dtypes.bfloat16: 1e-2, np.float64: 1e-12}


@pytest.mark.parametrize("dt", FLOATS)
def test_add_broadcast_and_strided_output(rng, dt):
    a = rng.standard_normal((3, 5)).astype(dt)
    b = rng.standard_normal(5).astype(dt)
    out = np.zeros((5, 3), dt).T  # a transposed (non-contiguous) output
    E.add(as_device(out), as_device(a), as_device(np.broadcast_to(b, (3, 5))), alpha=2.0)
    ref = E.add_ref(a.astype(np.float64), b.astype(np.float64), 2.0)
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=TOL[dt] * 4, atol=TOL[dt] * 4)


def test_mul_backward_two_outputs(rng):
    g, a, b = (rng.standard_normal((4, 7)).astype(np.float32) for _ in range(3))
    ga, gb = np.zeros_like(a), np.zeros_like(b)
    E.mul_backward(as_device(ga), as_device(gb), as_device(g), as_device(a), as_device(b))
    ra, rb = E.mul_backward_ref(g, a, b)
    np.testing.assert_allclose(ga, ra, rtol=1e-6)
    np.testing.assert_allclose(gb, rb, rtol=1e-6)


def test_high_rank_layout_loops_over_leading_dims(rng):
    x = rng.standard_normal((2, 3, 4, 5, 6, 3)).astype(np.float32)[:, :, ::2, :, ::-1][..., ::2]
    x = np.ascontiguousarray(x)[:, ::-1].copy()[:, :, :, ::2]  # 6-d, non-collapsible after slicing
    out = np.zeros_like(x)
    E.neg(as_device(out), as_device(x))
    np.testing.assert_array_equal(out, E.neg_ref(x))


@pytest.mark.parametrize("src", [np.float64, np.int32, np.bool_, np.float16])
def test_copy_casts_to_bfloat16(src):
    x = np.arange(-3, 5).astype(src)
    out = np.zeros(8, ml_dtypes.bfloat16)
    E.copy(as_device(out), as_device(x))
    np.testing.assert_array_equal(out.astype(np.float64), x.astype(ml_dtypes.bfloat16).astype(np.float64))


def test_fill_strided():
    x = np.zeros((4, 6), np.int64)
    E.fill(as_device(x[:, ::2]), 7)
    assert (x[:, ::2] == 7).all() and (x[:, 1::2] == 0).all()



@pytest.mark.parametrize("dt,nan_bits", [(np.float16, 0x7D00), (np.float32, 0x7FA00000)])
def test_fill_over_signalling_nan_garbage(dt, nan_bits):
    # A fill reads its own (uninitialised) output to learn the launch shape: whatever bits lie there,
    # no arithmetic may touch them (a signalling NaN raised 'invalid value' in the interpreter).
    bits = np.full(1000, nan_bits, np.uint16 if dt == np.float16 else np.uint32)
    x = bits.view(dt)
    E.fill(as_device(x), 1.5)
    np.testing.assert_array_equal(x, np.full(1000, 1.5, dt))

@pytest.mark.parametrize("shape,axis", [((3, 5000), 1), ((37, 5), 0), ((1, 1), 1)])
@pytest.mark.parametrize("dt", [np.float32, np.int32])
def test_sum_rows(rng, shape, axis, dt):
    x = (rng.standard_normal(shape) * 10).astype(dt)
    view = x if axis == 1 else x.T  # reduce the last axis of the (M, R) view
    out = np.zeros(view.shape[0], np.float32 if dt == np.float32 else np.int64)
    R.sum(as_device(out), as_device(view))
    np.testing.assert_allclose(out, R.sum_ref(view, (1,), False, out.dtype), rtol=1e-5)


# ---------------------------------------------------------------- the flat and row fast paths
@pytest.fixture
def kernels_run(monkeypatch):
    """Which map tunable each launch went through, and the MASKED flag of every flat kernel launch."""
    from tritensor.kernels import elementwise_flat as EF
    from tritensor.kernels import tuning

    seen = {"tunables": [], "masked": []}
    original = EF.flat_map_kernel.run

    def counting_run(*args, **kwargs):
        seen["masked"].append(kwargs["MASKED"])
        return original(*args, **kwargs)

    def observe(record):
        seen["tunables"].append(record.tunable.name)

    monkeypatch.setattr(EF.flat_map_kernel, "run", counting_run)
    tuning.add_observer(observe)
    yield seen
    tuning.remove_observer(observe)


@pytest.mark.parametrize("numel", [1, 7, 1023, 1025, 4099, 4096])
@pytest.mark.parametrize("dt", FLOATS)
def test_flat_add_odd_and_exact_sizes(rng, kernels_run, numel, dt):
    a = rng.standard_normal(numel).astype(dt)
    b = rng.standard_normal(numel).astype(dt)
    out = np.zeros(numel, dt)
    E.add(as_device(out), as_device(a), as_device(b), alpha=-0.5)
    ref = E.add_ref(a.astype(np.float64), b.astype(np.float64), -0.5)
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=TOL[dt] * 4, atol=TOL[dt] * 4)
    assert kernels_run["tunables"] == ["elementwise.map_flat"]
    block = {2: 2048, 4: 1024, 8: 512}[np.dtype(dt).itemsize]  # the heuristic's BLOCK
    # The bulk runs unmasked over whole blocks, the tail masked, and neither launches when empty.
    assert kernels_run["masked"] == [False] * (numel >= block) + [True] * (numel % block != 0)


@pytest.mark.parametrize("dt", FLOATS)
def test_flat_unary_and_ternary_ops(rng, dt):
    x = rng.standard_normal(1025).astype(dt)
    out = np.zeros_like(x)
    E.neg(as_device(out), as_device(x))
    np.testing.assert_array_equal(out, E.neg_ref(x))
    g, a, b = (rng.standard_normal((7, 293)).astype(dt) for _ in range(3))
    ga, gb = np.zeros_like(a), np.zeros_like(b)
    E.mul_backward(as_device(ga), as_device(gb), as_device(g), as_device(a), as_device(b))
    ra, rb = E.mul_backward_ref(*(v.astype(np.float64) for v in (g, a, b)))
    np.testing.assert_allclose(ga.astype(np.float64), ra, rtol=TOL[dt] * 4, atol=TOL[dt] * 4)
    np.testing.assert_allclose(gb.astype(np.float64), rb, rtol=TOL[dt] * 4, atol=TOL[dt] * 4)


def test_flat_in_place(rng, kernels_run):
    a = rng.standard_normal(4099).astype(np.float32)
    b = rng.standard_normal(4099).astype(np.float32)
    expected = a + b
    dev_a = as_device(a)
    E.add(dev_a, dev_a, as_device(b))  # out is the first input
    np.testing.assert_array_equal(a, expected)
    E.scale(dev_a, dev_a, 2.0)
    np.testing.assert_array_equal(a, expected * 2)
    assert kernels_run["tunables"] == ["elementwise.map_flat"] * 2


def test_same_dense_permutation_is_flat(rng, kernels_run):
    # Channels-last (N, C, H, W) views of NHWC memory: dense and laid out alike, so flat.
    a = rng.standard_normal((2, 5, 3, 7)).astype(np.float32)
    b = rng.standard_normal((2, 5, 3, 7)).astype(np.float32)
    a_cl, b_cl = (v.transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2) for v in (a, b))
    out = np.zeros((2, 3, 7, 5), np.float32).transpose(0, 3, 1, 2)
    E.mul(as_device(out), as_device(a_cl), as_device(b_cl))
    np.testing.assert_allclose(out, a * b, rtol=1e-6)
    # Mixed layouts (a contiguous output) need the strided path.
    out2 = np.zeros((2, 5, 3, 7), np.float32)
    E.mul(as_device(out2), as_device(a_cl), as_device(b_cl))
    np.testing.assert_allclose(out2, a * b, rtol=1e-6)
    assert kernels_run["tunables"] == ["elementwise.map_flat", "elementwise.map"]


def test_strided_and_broadcast_layouts_take_their_paths(rng, kernels_run):
    x = rng.standard_normal((6, 10)).astype(np.float32)
    col = rng.standard_normal((6, 1)).astype(np.float32)
    out = np.zeros((6, 10), np.float32)
    E.add(as_device(out), as_device(x), as_device(np.broadcast_to(col, (6, 10))))  # column broadcast
    np.testing.assert_allclose(out, x + col, rtol=1e-6)
    E.neg(as_device(out), as_device(x.T.copy().T))  # a transposed input
    np.testing.assert_array_equal(out, -x)
    E.add(as_device(out), as_device(x), as_device(np.broadcast_to(x[0], (6, 10))))  # a row vector
    np.testing.assert_allclose(out, x + x[0], rtol=1e-6)
    assert kernels_run["tunables"] == ["elementwise.map", "elementwise.map", "elementwise.map_rows"]


@pytest.mark.parametrize("numel", [1, 7, 1025, 2048])
def test_flat_with_scalar_operands(rng, kernels_run, numel):
    # A one-element operand broadcast everywhere (x * 3.0 as a tensor, fill) keeps the flat path.
    x = rng.standard_normal(numel).astype(np.float32)
    three = np.array([3.0, -1.0], np.float32)[:1]
    out = np.zeros(numel, np.float32)
    E.mul(as_device(out), as_device(np.broadcast_to(three, (numel,))), as_device(x))
    np.testing.assert_array_equal(out, 3 * x)
    g, a = rng.standard_normal((2, numel)).astype(np.float32)
    ga, gb = np.zeros_like(g), np.zeros_like(g)
    scalar_b = as_device(np.broadcast_to(three, (numel,)))
    E.mul_backward(as_device(ga), as_device(gb), as_device(g), as_device(a), scalar_b)
    np.testing.assert_array_equal(ga, g * 3)
    np.testing.assert_array_equal(gb, g * a)
    E.fill(as_device(out), 2.5)
    np.testing.assert_array_equal(out, np.full(numel, 2.5, np.float32))
    assert kernels_run["tunables"] == ["elementwise.map_flat"] * 3


@pytest.mark.parametrize("shape", [(5, 7), (37, 300), (3, 1024), (1000, 3)])
@pytest.mark.parametrize("dt", FLOATS)
def test_bias_broadcast_rows(rng, kernels_run, shape, dt):
    x = rng.standard_normal(shape).astype(dt)
    b = rng.standard_normal(shape[1]).astype(dt)
    out = np.zeros(shape, dt)
    E.add(as_device(out), as_device(x), as_device(np.broadcast_to(b, shape)), alpha=2.0)
    ref = E.add_ref(x.astype(np.float64), b.astype(np.float64), 2.0)
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=TOL[dt] * 4, atol=TOL[dt] * 4)
    assert kernels_run["tunables"] == ["elementwise.map_rows"]


def test_rows_with_pitched_operands_and_two_outputs(rng, kernels_run):
    # A 3-d bias add collapses to 2-d; a column slice of a wider matrix has a row pitch; a row vector
    # in the first input slot and two outputs exercise the other operand slots.
    x = rng.standard_normal((4, 5, 20)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    out = np.zeros((4, 5, 20), np.float32)
    E.add(as_device(out), as_device(np.broadcast_to(b, x.shape)), as_device(x))
    np.testing.assert_allclose(out, b + x, rtol=1e-6)
    wide = rng.standard_normal((9, 40)).astype(np.float32)
    g = rng.standard_normal((9, 13)).astype(np.float32)
    ga, gb = np.zeros((9, 13), np.float32), np.zeros((9, 16), np.float32)[:, :13]
    E.mul_backward(as_device(ga), as_device(gb), as_device(g), as_device(np.broadcast_to(b[:13], (9, 13))),
                   as_device(wide[:, 3:16]))
    ra, rb = E.mul_backward_ref(g, np.broadcast_to(b[:13], (9, 13)), wide[:, 3:16])
    np.testing.assert_allclose(ga, ra, rtol=1e-6)
    np.testing.assert_allclose(gb, rb, rtol=1e-6)
    assert kernels_run["tunables"] == ["elementwise.map_rows"] * 2


def test_flat_tunable_and_specs():
    from tritensor.kernels import elementwise_flat as EF

    assert len(EF.FLAT_TUNING.all_configs()) >= 2
    assert EF.FLAT_TUNING.heuristic(("_add", "float16", 2, 1024)) == dict(BLOCK=2048, num_warps=8, maxnreg=128)
    assert EF.FLAT_TUNING.heuristic(("_add", "float32", 4, 1024)) == dict(BLOCK=1024, num_warps=4, maxnreg=128)
    assert EF.FLAT_TUNING.cost(numel=1000, itemsizes=12) == (12000.0, 1000.0)
    # Column tiles follow N (no 256-wide tile for 3 columns) and never exceed 256.
    assert EF.ROW_TUNING.heuristic(("_add", "float32", 4, 2, 1024, 4)) == dict(BLOCK_M=256, BLOCK_N=4, num_warps=4)
    assert EF.ROW_TUNING.heuristic(("_add", "float32", 4, 2, 1024, 4096))["BLOCK_N"] == 256
    assert len(EF.ROW_TUNING.configs(("_add", "float32", 4, 2, 8, 64))) >= 2
    names = {s.name for s in E.SPECS}
    for dtype in ("fp32", "fp16", "bf16"):
        assert {f"elementwise.map_flat[add:{dtype}:bulk]", f"elementwise.map_flat[add:{dtype}:tail]",
                f"elementwise.map_rows[add:{dtype}:row_vector]"} <= names


def test_one_byte_operands_take_16_elements_per_thread():
    """A 1-byte operand moves 16 contiguous bytes per thread (one 128-bit access) on every map path, and
    every map spec ships the config its launches' heuristic picks."""
    from tritensor.autotune.registry import discover
    from tritensor.kernels import elementwise_flat as EF

    def per_thread(c):
        return c.get("BLOCK", c.get("BLOCK_M", 1) * c.get("BLOCK_N", 1)) // (32 * c["num_warps"])

    assert per_thread(E.MAP_TUNING.heuristic(("_lt", "bool", 1, 1024))) == 16
    assert E.MAP_TUNING.heuristic(("_lt", "bool", 4, 1024)) == E.MAP_SHIPPED[0]
    assert per_thread(EF.FLAT_TUNING.heuristic(("_lt", "bool", 1, 1024))) == 16
    assert per_thread(EF.ROW_TUNING.heuristic(("_lt", "bool", 1, 0, 64, 4096))) == 16
    assert EF.ROW_TUNING.heuristic(("_lt", "bool", 1, 0, 64, 4096)) in EF.ROW_TUNING.configs(
        ("_lt", "bool", 1, 0, 64, 4096))
    sizes = {"i1": 1, "u1": 1, "i8": 1, "u8": 1, "i16": 2, "fp16": 2, "bf16": 2, "i32": 4, "fp32": 4, "i64": 8,
             "fp64": 8}
    specs = [s for s in discover().specs if s.kernel in (E.map_kernel, EF.flat_map_kernel)]
    narrow = 0
    for spec in specs:
        used = [f"out{k}_ptr" for k in range(spec.constexprs["N_OUT"])] + \
            [f"in{k}_ptr" for k in range(spec.constexprs["N_IN"])]
        itemsize = min(sizes[spec.signature[p].lstrip("*")] for p in used)
        flat = spec.kernel is EF.flat_map_kernel
        if flat and not spec.name.endswith(":flat]"):
            continue  # elementwise's own flat specs, fp32/16-bit only
        want = (EF.FLAT_TUNING if flat else E.MAP_TUNING).heuristic(("", "", itemsize, 0))
        assert spec.configs == [want], spec.name
        assert want in spec.space, spec.name
        narrow += itemsize == 1
    assert narrow >= 40  # bool/int8/uint8 specs of comparison, logical, binary, ... and their flat twins


@pytest.mark.parametrize("dt", [np.uint8, np.bool_])
def test_one_byte_map_on_every_path(rng, dt, kernels_run):
    """Strided, flat and row launches of a 1-byte op with the 16-element blocks: odd sizes, tails."""
    x = (rng.integers(0, 3, (5, 4099)) > 0).astype(dt) if dt is np.bool_ else rng.integers(0, 255, (5, 4099)).astype(dt)
    for view in (x, x[:, 3:], x.T):  # flat, rows, strided
        out = np.zeros(view.shape, dt)
        E.copy(as_device(out), as_device(view))
        np.testing.assert_array_equal(out, view)
    assert set(kernels_run["tunables"]) == {"elementwise.map_flat", "elementwise.map_rows", "elementwise.map"}
