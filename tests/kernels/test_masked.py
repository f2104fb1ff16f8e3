"""masked_fill and the boolean-mask kernels in Triton's interpreter against their NumPy references;
the backward references against central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import index_select as S
from tritensor.kernels import masked as M

from tests.conftest import as_device as dev
from tests.kernels.indexing_helpers import BF16, check_vjp, data
from tests.kernels.tuning_helpers import repeatable_flags


# ------------------------------------------------------------------ masked_fill
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_masked_fill_broadcast_mask(rng, dt):
    x = data(rng, (5, 4), dt).T  # (4, 5)
    mask = rng.random(5) < 0.5
    out = np.zeros((4, 5), dt)
    value = False if dt == np.bool_ else -7
    M.masked_fill(dev(out), dev(x), dev(np.broadcast_to(mask, (4, 5))), value)
    np.testing.assert_array_equal(out, M.masked_fill_ref(x, mask, value))
    v = np.array(True if dt == np.bool_ else 2, dt)  # a 0-d value tensor
    M.masked_fill(dev(out), dev(x), dev(mask), dev(v))
    np.testing.assert_array_equal(out, M.masked_fill_ref(x, mask, v))


def test_masked_fill_fp64_value_exact_and_nan(rng):
    x = np.zeros((3, 3))
    mask = np.eye(3, dtype=bool)
    M.masked_fill(dev(x), dev(x), dev(mask), 0.1)
    np.testing.assert_array_equal(x, np.where(mask, 0.1, 0.0))
    y = np.zeros(3, np.float32)
    M.masked_fill(dev(y), dev(y), dev(np.array([True, False, True])), float("nan"))
    assert np.isnan(y[0]) and y[1] == 0 and np.isnan(y[2])


@pytest.mark.parametrize("dt", [np.float32, BF16])
def test_masked_fill_backward(rng, dt):
    grad = data(rng, (3, 7), dt)
    mask = rng.random((3, 7)) < 0.4
    gx, gv = np.zeros_like(grad), np.zeros_like(grad)
    M.masked_fill_backward(dev(gx), dev(gv), dev(grad), dev(mask))
    rx, rv = M.masked_fill_backward_ref(grad, mask)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gv, rv)

# ------------------------------------------------------------------ boolean masks (two steps)
def _scan(mask):
    offsets = np.zeros(M.compact_scratch_numel(mask.size), np.int64)
    M.mask_scan(dev(offsets), dev(mask))
    return offsets


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_masked_select_multi_block(rng, dt):
    x = data(rng, (2300, 3), dt).T  # (3, 2300): non-contiguous, 7 blocks of 1024
    mask = rng.random(2300) < 0.3
    bmask = np.broadcast_to(mask, x.shape)
    offsets = _scan(bmask)
    n = int(offsets[-1])
    assert n == 3 * mask.sum()
    out = np.zeros(n, dt)
    M.masked_select(dev(out), dev(x), dev(bmask), dev(offsets))
    np.testing.assert_array_equal(out, M.masked_select_ref(x, bmask))


def test_masked_select_backward_and_masked_scatter(rng):
    mask = rng.random((40, 30)) < 0.5
    offsets = _scan(mask)
    n = int(offsets[-1])
    grad = data(rng, n, np.float32)
    grad_x = np.full(mask.shape, 4, np.float32)
    M.masked_select_backward(dev(grad_x), dev(grad), dev(mask), dev(offsets))
    np.testing.assert_array_equal(grad_x, M.masked_select_backward_ref(grad, mask)[0])
    x = data(rng, (40, 30), np.float32)
    source = data(rng, (n + 5,), np.float32)
    out = np.zeros_like(x)
    M.masked_scatter(dev(out), dev(x), dev(mask), dev(source), dev(offsets))
    np.testing.assert_array_equal(out, M.masked_scatter_ref(x, mask, source))


@pytest.mark.parametrize("dt", [np.bool_, np.float32, np.int64])
def test_nonzero(rng, dt):
    x = (rng.random((6, 50, 7)) < 0.2).astype(dt).transpose(2, 0, 1)  # (7, 6, 50), non-contiguous
    offsets = _scan(x)
    out = np.full((int(offsets[-1]), 3), -1, np.int64)
    M.nonzero(dev(out), dev(x), dev(offsets))
    np.testing.assert_array_equal(out, M.nonzero_ref(x))
    empty = np.zeros((3, 4), dt)
    offsets = _scan(empty)
    assert offsets[-1] == 0


def test_block_scan_carries_across_chunks(rng):
    counts = rng.integers(0, 1025, 300).astype(np.int64)
    offsets = np.concatenate([[0], counts])
    M.block_scan_kernel[(1,)](dev(offsets), 300, BLOCK=64)
    np.testing.assert_array_equal(offsets, np.concatenate([[0], np.cumsum(counts)]))

# ------------------------------------------------------------------ backward references vs finite differences
def test_masked_fill_take_masked_select_backward_refs_fd(rng):
    x, value = rng.standard_normal((3, 4)), np.array(0.7)
    mask = rng.random(x.shape) < 0.5
    g = rng.standard_normal(x.shape)
    gx, gv = M.masked_fill_backward_ref(g, mask)
    check_vjp(lambda a, v: M.masked_fill_ref(a, mask, v), [x, value], g, {0: gx, 1: gv.sum()})
    tidx = np.array([[0, -1], [11, 5]])
    g = rng.standard_normal(tidx.shape)
    check_vjp(lambda a: S.take_ref(a, tidx), [x], g, {0: S.take_backward_ref(g, x.shape, tidx)[0]})
    g = rng.standard_normal(int(mask.sum()))
    check_vjp(lambda a: M.masked_select_ref(a, mask), [x], g, {0: M.masked_select_backward_ref(g, mask)[0]})


def test_in_place_launches_are_never_timed(rng, monkeypatch):
    """masked_fill_/masked_scatter_ and the in-place block scan must not be timed on the user's tensors."""
    calls = repeatable_flags(monkeypatch)
    x = data(rng, (6, 5), np.float32)
    mask = rng.random((6, 5)) < 0.5
    xd = dev(x)
    M.masked_fill(xd, xd, dev(mask), 1.5)
    M.masked_fill(dev(np.zeros_like(x)), xd, dev(mask), 1.5)
    offsets = np.zeros(M.compact_scratch_numel(mask.size), np.int64)
    M.mask_scan(dev(offsets), dev(mask))
    M.masked_scatter(xd, xd, dev(mask), dev(data(rng, (30,), np.float32)), dev(offsets))
    assert calls == [("masked.masked_fill", False), ("masked.masked_fill", True), ("masked.mask_count", True),
                     ("masked.block_scan", False), ("masked.mask_expand", False)]
    assert offsets[-1] == mask.sum()


def test_one_byte_operands_ship_the_heuristics_16_element_configs():
    """A bool mask / output gets 16 elements per thread (128-bit accesses); the specs ship what the
    heuristics pick, and the tuning spaces hold it."""
    specs = {s.name: s for s in M.SPECS}
    fill = M.MASKED_FILL_TUNING.heuristic(("bool", "bool", False, False, 1024))
    assert fill["BLOCK"] // (32 * fill["num_warps"]) == 16 and specs["masked.masked_fill[i1]"].configs == [fill]
    assert M.MASKED_FILL_TUNING.heuristic(("float32", "bool", False, False, 1024)) == \
        specs["masked.masked_fill[fp32]"].configs[0]
    cases = ((M.MASK_COUNT_TUNING, ("bool", 1024), "masked.mask_count[i1]"),
             (M.MASK_COMPACT_TUNING, ("float32", "bool", True, 1024), "masked.mask_compact[fp32:i1:values]"),
             (M.MASK_COMPACT_TUNING, ("int64", "bool", False, 1024), "masked.mask_compact[i64:i1:coords]"),
             (M.MASK_EXPAND_TUNING, ("float32", "bool", 1024), "masked.mask_expand[fp32]"))
    for tunable, key, spec in cases:
        config = tunable.heuristic(key)
        assert config["BLOCK"] == M.BLOCK and config["BLOCK"] // (32 * config["num_warps"]) == 16
        assert specs[spec].configs == [config] and config in tunable.configs(key)
    assert M.MASK_COMPACT_TUNING.heuristic(("int64", "float16", False, 1024)) == \
        specs["masked.mask_compact[i64:fp16:coords]"].configs[0]
    assert specs["masked.block_scan"].memory_bound is False
