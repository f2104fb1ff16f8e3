"""The matmul kernels in Triton's interpreter against their NumPy references, and the config helpers."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import matmul as MM
from tritensor.kernels import matmul_tma as MT
from tritensor.kernels import tuning

from tests.conftest import as_device
from tritensor import dtypes

FLOATS = [np.float32, np.float16, ml_dtypes.bfloat16]
# One rounding of the fp32 result to the output dtype (the ref rounds once too, but may land on the
# other side of a tie after a different summation order), plus fp32 summation-order noise.
RTOL = {np.float32: 1e-5, np.float16: 2e-3, ml_dtypes.bfloat16: 1.6e-2}


def cfg(bm=16, bn=16, bk=16, group_m=2, split_k=1, warps=4, stages=2):
    return dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=group_m, SPLIT_K=split_k, num_warps=warps,
                num_stages=stages)


def run(a, b, out_dtype=None, out=None, **kw):
    """matmul on host arrays; returns the output array."""
    if out is None:
        out = np.full(a.shape[:-1] + b.shape[-1:], np.nan, out_dtype or a.dtype)
    dev = {k: as_device(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    dev.setdefault("config", cfg())
    MM.matmul(as_device(out), as_device(a), as_device(b), **dev)
    return out


def close(actual, expected, dt, scale=1.0):
    rtol = RTOL[dt]
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), rtol=rtol,
                               atol=rtol * scale)


def randn(rng, shape, dt=np.float32):
    return rng.standard_normal(shape).astype(dt)


# ---------------------------------------------------------------- forward vs reference
@pytest.mark.parametrize("dt", FLOATS)
def test_dtypes_odd_sizes(rng, dt):
    a, b = randn(rng, (2, 19, 23), dt), randn(rng, (2, 23, 37), dt)
    out = run(a, b, config=cfg(bm=16, bn=32, bk=16))
    assert out.dtype == a.dtype
    close(out, MM.matmul_ref(a, b), dt, scale=5.0)


def test_fp16_inputs_into_fp32_output(rng):
    a, b = randn(rng, (1, 9, 40), np.float16), randn(rng, (1, 40, 7), np.float16)
    out = run(a, b, out_dtype=np.float32)  # the fp32 accumulator is stored without rounding to fp16
    np.testing.assert_allclose(out, a.astype(np.float32) @ b.astype(np.float32), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (1, 7, 13), (13, 1, 5), (17, 31, 29), (3, 5, 0), (2, 3, 47)])
def test_edge_sizes(rng, m, n, k):
    a, b = randn(rng, (1, m, k)), randn(rng, (1, k, n))
    out = run(a, b)
    np.testing.assert_allclose(out, MM.matmul_ref(a, b), rtol=1e-5, atol=1e-5)
    if k == 0:  # an empty contraction is zeros, as in torch
        assert (out == 0).all()


def test_empty_output_is_a_no_op(rng):
    out = np.zeros((2, 0, 3), np.float32)
    MM.matmul(as_device(out), as_device(randn(rng, (2, 0, 4))), as_device(randn(rng, (2, 4, 3))))


def test_grouped_ordering_covers_every_tile(rng):
    # 3 x 3 tiles with GROUP_M=2: the last group is short, every tile must still be written once.
    a, b = randn(rng, (1, 40, 16)), randn(rng, (1, 16, 48))
    out = run(a, b, config=cfg(group_m=2))
    np.testing.assert_allclose(out, MM.matmul_ref(a, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dt", [np.float32, ml_dtypes.bfloat16])
def test_transposed_and_sliced_operands_and_output(rng, dt):
    a = randn(rng, (2, 21, 18), dt).transpose(0, 2, 1)  # (2, 18, 21), M contiguous
    b = randn(rng, (2, 26, 42), dt)[:, :, ::2].transpose(0, 2, 1)  # (2, 21, 26), strided both ways
    out = np.zeros((2, 26, 18), dt).transpose(0, 2, 1)  # written column-major
    run(a, b, out=out)
    close(out, MM.matmul_ref(a, b), dt, scale=5.0)


def test_broadcast_batch_stride_zero(rng):
    a = randn(rng, (3, 9, 20))
    w = randn(rng, (20, 11))
    out = run(a, np.broadcast_to(w, (3, 20, 11)))
    np.testing.assert_allclose(out, MM.matmul_ref(a, w), rtol=1e-5, atol=1e-5)
    x = randn(rng, (9, 20))
    out = run(np.broadcast_to(x, (3, 9, 20)), randn(rng, (3, 20, 11)))
    assert out.shape == (3, 9, 11)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # sigmoid(-large) = 1 / (1 + inf) = 0
@pytest.mark.parametrize("act", ["none", "relu", "gelu", "gelu_tanh", "silu"])
def test_bias_and_activation(rng, act):
    a, b = randn(rng, (2, 13, 24)), randn(rng, (2, 24, 30))
    bias = randn(rng, 60)[::2]  # a strided bias
    out = run(a, b, bias=bias, activation=act)
    np.testing.assert_allclose(out, MM.matmul_ref(a, b, bias=bias, activation=act), rtol=1e-5, atol=1e-5)


def test_activation_ref_known_values():
    x = np.array([[[-1.0, 0.0, 2.0]]])
    eye = np.eye(3)[None]
    np.testing.assert_allclose(MM.matmul_ref(x, eye, activation="relu"), [[[0, 0, 2]]])
    np.testing.assert_allclose(MM.matmul_ref(x, eye, activation="gelu"),
                               [[[-0.15865525393145707, 0, 1.9544997361036416]]])
    np.testing.assert_allclose(MM.matmul_ref(x, eye, activation="gelu_tanh"),
                               [[[-0.15880800939172324, 0, 1.9545976940877752]]])
    np.testing.assert_allclose(MM.matmul_ref(x, eye, activation="silu"),
                               [[[-0.2689414213699951, 0, 1.7615941559557649]]])


def test_bias_gelu_fp16(rng):
    a, b, bias = randn(rng, (1, 17, 32), np.float16), randn(rng, (1, 32, 20), np.float16), randn(rng, 20, np.float16)
    out = run(a, b, bias=bias, activation="gelu")
    close(out, MM.matmul_ref(a, b, bias=bias, activation="gelu"), np.float16, scale=5.0)


def test_alpha_beta_with_c_in(rng):
    a, b = randn(rng, (2, 11, 17)), randn(rng, (2, 17, 14))
    c_in = randn(rng, (2, 14, 11)).transpose(0, 2, 1)  # another layout than out
    out = run(a, b, alpha=0.5, beta=-2.0, c_in=c_in)
    np.testing.assert_allclose(out, MM.matmul_ref(a, b, alpha=0.5, beta=-2.0, c_in=c_in), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out, 0.5 * (a @ b) - 2.0 * c_in, rtol=1e-5, atol=1e-5)


def test_beta_zero_ignores_nan_c_in(rng):
    a, b = randn(rng, (1, 5, 6)), randn(rng, (1, 6, 7))
    c_in = np.full((1, 5, 7), np.nan, np.float32)
    out = run(a, b, beta=0.0, c_in=np.broadcast_to(c_in, (1, 5, 7)))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, MM.matmul_ref(a, b, beta=0, c_in=c_in), rtol=1e-5, atol=1e-5)


def test_allow_tf32(rng):
    a, b = randn(rng, (1, 16, 32)), randn(rng, (1, 32, 16))
    out = run(a, b, allow_tf32=True)
    # TF32 keeps 10 mantissa bits (the interpreter ignores it, a GPU does not)
    np.testing.assert_allclose(out, MM.matmul_ref(a, b), rtol=5e-3, atol=5e-3 * np.sqrt(32))


# ---------------------------------------------------------------- split-K
@pytest.mark.parametrize("dt", [np.float32, np.float16])
def test_split_k_with_full_epilogue(rng, dt):
    # K=45, BLOCK_K=16: 3 K steps over 4 slices, so the last slice is empty and must add zeros.
    a, b = randn(rng, (2, 7, 45), dt), randn(rng, (2, 45, 9), dt)
    bias, c_in = randn(rng, 9, dt), randn(rng, (2, 7, 9), dt)
    config = cfg(split_k=4)
    scratch = np.full(MM.scratch_shape(config, 2, 7, 9), np.nan, np.float32)
    out = run(a, b, bias=bias, c_in=c_in, alpha=2.0, beta=0.5, activation="silu", config=config, scratch=scratch)
    ref = MM.matmul_ref(a, b, bias=bias, c_in=c_in, alpha=2.0, beta=0.5, activation="silu")
    close(out, ref, dt, scale=10.0)
    # the partials are unscaled per-slice sums of A @ B
    np.testing.assert_allclose(scratch.sum(0), MM.matmul_ref(a.astype(np.float32), b.astype(np.float32)),
                               rtol=1e-4, atol=1e-4)
    assert (scratch[3] == 0).all()


def test_split_k_needs_scratch(rng):
    a, b = randn(rng, (1, 4, 64)), randn(rng, (1, 64, 4))
    with pytest.raises(ValueError, match="scratch"):
        run(a, b, config=cfg(split_k=2))
    with pytest.raises(ValueError, match="scratch"):
        run(a, b, config=cfg(split_k=2), scratch=np.zeros((2, 1, 4, 4), np.float16))


def test_heuristic_split_k_launch(rng):
    # No config: the heuristic picks split-K (64x64x64 tiles, SPLIT_K=4) for this skinny shape.
    a, b = randn(rng, (1, 3, 2048)), randn(rng, (1, 2048, 5))
    config = MM.heuristic_config(3, 5, 2048, dtypes.float32)
    assert config["SPLIT_K"] == 4
    out = np.zeros((1, 3, 5), np.float32)
    scratch = np.zeros(MM.scratch_shape(config, 1, 3, 5), np.float32)
    MM.matmul(as_device(out), as_device(a), as_device(b), scratch=as_device(scratch))
    np.testing.assert_allclose(out, MM.matmul_ref(a, b), rtol=1e-4, atol=1e-4)


def test_heuristic_default_launch(rng):
    a, b = randn(rng, (2, 5, 7), np.float16), randn(rng, (2, 7, 6), np.float16)
    out = np.zeros((2, 5, 6), np.float16)
    MM.matmul(as_device(out), as_device(a), as_device(b))
    close(out, MM.matmul_ref(a, b), np.float16, scale=5.0)


# ---------------------------------------------------------------- argument checks
def test_argument_errors(rng):
    a, b = randn(rng, (1, 4, 5)), randn(rng, (1, 6, 3))
    with pytest.raises(ValueError, match="line up"):
        run(a, b, out=np.zeros((1, 4, 3), np.float32))
    b = randn(rng, (1, 5, 3))
    with pytest.raises(ValueError, match="activation"):
        run(a, b, activation="tanh")
    with pytest.raises(ValueError, match="bias"):
        run(a, b, bias=randn(rng, 4))
    with pytest.raises(TypeError, match="share a dtype"):
        run(a, b.astype(np.float16))
    with pytest.raises(TypeError, match="float16"):
        run(a.astype(np.float64), b.astype(np.float64))
    # in-tile offsets are 32-bit: a row stride near 2**31 / BLOCK_M is refused, not silently wrapped
    out = as_device(np.zeros((1, 4, 3), np.float32))
    huge = out.view_as((1, 4, 3), (0, 2**27, 1))
    with pytest.raises(ValueError, match="too large"):
        MM.matmul(huge, as_device(a), as_device(b), config=cfg())


# ---------------------------------------------------------------- configs
def test_heuristic_config_known_values():
    f16, f32, bf16 = dtypes.float16, dtypes.float32, dtypes.bfloat16
    big = MM.heuristic_config(4096, 4096, 4096, f16)
    assert big == dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=32, GROUP_M=8, SPLIT_K=1, num_warps=8, num_stages=4)
    big_bf16 = MM.heuristic_config(4096, 4096, 4096, bf16)  # 128x128 spills in bf16's addmm epilogue
    assert (big_bf16["BLOCK_M"], big_bf16["BLOCK_N"], big_bf16["BLOCK_K"]) == (128, 64, 64)
    big32 = MM.heuristic_config(4096, 4096, 4096, f32)
    assert (big32["BLOCK_M"], big32["BLOCK_N"], big32["BLOCK_K"], big32["num_warps"]) == (128, 64, 32, 8)
    medium = MM.heuristic_config(100, 200, 300, "float16")
    assert (medium["BLOCK_M"], medium["BLOCK_N"], medium["BLOCK_K"], medium["num_warps"]) == (64, 128, 64, 8)
    small_m = MM.heuristic_config(8, 4096, 4096, f32)  # 64 tiles: enough programs, no split
    assert (small_m["BLOCK_M"], small_m["BLOCK_N"], small_m["BLOCK_K"], small_m["SPLIT_K"]) == (64, 64, 16, 1)
    small_n = MM.heuristic_config(512, 16, 512, bf16)  # K=64 spills in the transposed epilogue
    assert (small_n["BLOCK_M"], small_n["BLOCK_N"], small_n["BLOCK_K"]) == (128, 32, 32)
    assert MM.heuristic_config(64, 64, 8192, f16)["SPLIT_K"] == 16
    assert MM.heuristic_config(32, 32, 2048, np.float16)["SPLIT_K"] == 4  # >= 512 of K per slice
    assert MM.heuristic_config(64, 64, 8192, f16, batch=64)["SPLIT_K"] == 1  # the batch fills the GPU
    assert MM.heuristic_config(64, 64, 512, f16)["SPLIT_K"] == 1  # K too short
    assert MM.estimate_shared_bytes(big, f16) == 4 * (128 + 128) * 32 * 2
    assert MM.heuristic_config(4096, 4096, 4096, f16, shared_limit=50_000)["num_stages"] == 3
    assert MM.heuristic_config(4096, 4096, 4096, f16, shared_limit=1000)["num_stages"] == 2  # never below 2
    with pytest.raises(TypeError):
        MM.heuristic_config(8, 8, 8, dtypes.float64)


def test_scratch_shape():
    assert MM.scratch_shape(cfg(split_k=1), 2, 3, 4) is None
    assert MM.scratch_shape(cfg(split_k=8), 2, 3, 4) == (8, 2, 3, 4)


def test_config_space():
    keys = {"BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M", "SPLIT_K", "num_warps", "num_stages"}
    for dt in (dtypes.float16, dtypes.bfloat16, dtypes.float32):
        default = MM.config_space(dt, "default")
        wide = MM.config_space(dt, "max")
        assert 8 <= len(default) <= 12 and len(wide) > 100
        assert all(set(c) == keys for c in default + wide)
        assert len({tuple(sorted(c.items())) for c in wide}) == len(wide)
        assert any(c["SPLIT_K"] > 1 for c in default) and any(c["SPLIT_K"] > 1 for c in wide)
        assert all(MM.estimate_shared_bytes(c, dt) <= 200 * 1024 for c in wide)
        # the tuner can always do at least as well as the non-split heuristic configs
        shipped = [c for c in MM.shipped_configs(dt) if c["SPLIT_K"] == 1]
        assert all(c in default for c in shipped)
    assert max(c["BLOCK_K"] for c in MM.config_space(dtypes.float32, "default")) == 32
    with pytest.raises(ValueError):
        MM.config_space(dtypes.float16, "huge")


def test_tuning_key():
    f16 = dtypes.float16
    key = MM.tuning_key(48, 100, 1000, f16, (0, 1000, 1), (0, 100, 1))
    assert key == (64, 128, 1024, "float16", False, False, False, 1, "medium", "ptr")
    assert MM.tuning_key(48, 100, 1000, f16, (0, 1000, 1), (0, 100, 1), path="tma").path == "tma"
    assert (key.m, key.n, key.k, key.dtype, key.batch, key.shape_class) == (64, 128, 1024, "float16", 1, "medium")
    # A^T (K contiguous no more) and B^T views; 2-D strides work too
    assert MM.tuning_key(48, 100, 1000, f16, (1, 48), (1, 1000))[:6] == (64, 128, 1024, "float16", True, True)
    assert MM.tuning_key(1, 1, 1, "bfloat16", (1, 7), (1, 9))[:6] == (1, 1, 1, "bfloat16", False, False)
    assert MM.tuning_key(128, 129, 3, dtypes.float32, (3, 1), (129, 1))[:6] == (128, 256, 4, "float32", False, False)
    # TF32 only means something for fp32 operands; the batch is bucketed like the sizes
    assert MM.tuning_key(8, 8, 8, dtypes.float32, (8, 1), (8, 1), allow_tf32=True).tf32 is True
    assert MM.tuning_key(8, 8, 8, f16, (8, 1), (8, 1), allow_tf32=True).tf32 is False
    assert MM.tuning_key(8, 8, 8, f16, (8, 1), (8, 1), batch=5).batch == 8
    # the shape class follows the exact sizes: one bucket, two heuristic configs, two keys
    assert MM.tuning_key(100, 200, 64, f16, (64, 1), (200, 1)).shape_class == "medium"
    assert MM.tuning_key(128, 256, 64, f16, (64, 1), (256, 1)).shape_class == "big"
    assert MM.tuning_key(64, 64, 8192, f16, (8192, 1), (64, 1)).shape_class == "split16"


@pytest.mark.parametrize("shape", [(4096, 4096, 4096, 1), (100, 200, 300, 1), (8, 4096, 4096, 1), (512, 16, 512, 1),
                                   (64, 64, 8192, 1), (32, 32, 2048, 1), (64, 64, 8192, 64), (3, 5, 2048, 1),
                                   (129, 33, 2000, 3), (1, 1, 1, 1)])
@pytest.mark.parametrize("dt", [dtypes.float16, dtypes.bfloat16, dtypes.float32])
@pytest.mark.parametrize("path", MM.PATHS)
def test_tunable_heuristic_is_the_exact_shape_heuristic(shape, dt, path):
    M, N, K, batch = shape
    key = MM.tuning_key(M, N, K, dt, (K, 1), (N, 1), batch=batch, path=path)
    want = MM.heuristic_config(M, N, K, dt, batch=batch, path=path)
    assert MM.MATMUL_TUNING.heuristic(key) == want
    assert MM.MATMUL_TUNING.heuristic(tuple(key)) == want  # the cache's tuple
    space = MM.MATMUL_TUNING.configs(key, "default")
    assert space[0] == want
    assert len(space) >= 2 and len({tuple(sorted(c.items())) for c in space}) == len(space)
    assert all(c in MM.config_space(dt, "default", path) for c in space[1:])


def test_tunable_space_drops_split_k_with_huge_scratch():
    f16 = dtypes.float16
    small = MM.MATMUL_TUNING.configs(MM.tuning_key(64, 64, 8192, f16, (8192, 1), (64, 1)), "max")
    assert {c["SPLIT_K"] for c in small} == {1, 2, 4, 8, 16}
    # 4096 x 4096 x batch 4: 64 Mi fp32 partials per slice, past SPLIT_SCRATCH_LIMIT for every split
    huge = MM.MATMUL_TUNING.configs(MM.tuning_key(4096, 4096, 64, f16, (64, 1), (4096, 1), batch=4), "max")
    assert {c["SPLIT_K"] for c in huge} == {1} and len(huge) == len(
        [c for c in MM.config_space(f16, "max") if c["SPLIT_K"] == 1])
    # 1024 x 1024: 4 MiB per slice, so splits up to 16 (64 MiB) stay
    mid = MM.MATMUL_TUNING.configs(MM.tuning_key(1000, 1000, 64, f16, (64, 1), (1000, 1)), "default")
    assert {c["SPLIT_K"] for c in mid} == {1, 4, 16}


def test_tunable_cost():
    cost = MM.MATMUL_TUNING.cost(M=3, N=5, K=7, batch=2, itemsize=2, out_itemsize=4)
    assert cost.flops == 2 * 3 * 5 * 7 * 2 and cost.bytes == (3 * 7 + 7 * 5) * 2 * 2 + 3 * 5 * 2 * 4
    out, a = as_device(np.zeros((2, 3, 5), np.float32)), as_device(np.zeros((2, 3, 7), np.float16))
    assert MM.tuning_sizes(out, a, 6) == dict(M=3, N=5, K=7, batch=6, itemsize=2, out_itemsize=4)


def test_direct_launch_without_config_goes_through_tuning(rng):
    seen = []
    tuning.add_observer(seen.append)
    try:
        a, b = randn(rng, (3, 5, 7), np.float16), randn(rng, (3, 7, 6), np.float16)
        out = np.zeros((3, 5, 6), np.float16)
        MM.matmul(as_device(out), as_device(a), as_device(b).view_as((3, 7, 6), (42, 1, 7)), allow_tf32=True)
    finally:
        tuning.remove_observer(seen.append)
    close(out, MM.matmul_ref(a, b.reshape(3, 6, 7).transpose(0, 2, 1)), np.float16, scale=5.0)
    (record,) = seen
    assert record.tunable is MM.MATMUL_TUNING and record.config == MM.heuristic_config(5, 6, 7, np.float16, batch=3)
    assert record.key == MM.tuning_key(5, 6, 7, np.float16, (35, 7, 1), (42, 1, 7), batch=3)
    assert record.key.b_t is True and record.key.tf32 is False
    assert record.sizes == dict(M=5, N=6, K=7, batch=3, itemsize=2, out_itemsize=2)


# ---------------------------------------------------------------- the TMA (tensor descriptor) path
def tma_run(a, b, **kw):
    """run() on the descriptor kernel, after checking that choose_path would pick it on an H100.

    fp32 takes this path with TF32 only: fp32 operands are rounded to 7 significant bits, so TF32 products
    are exact and the fp32 tolerance holds on a GPU as in the interpreter (which ignores TF32)."""
    if a.dtype == np.float32:
        a, b = tf32_exact(a), tf32_exact(b)
        kw["allow_tf32"] = True
    out = kw.pop("out", None)
    if out is None:
        out = np.full(a.shape[:-1] + b.shape[-1:], np.nan, kw.pop("out_dtype", a.dtype))
    c_in = kw.get("c_in")
    assert MT.choose_path(90, as_device(out), as_device(a), as_device(b),
                          None if c_in is None else as_device(c_in)) == "tma"
    return run(a, b, out=out, path="tma", **kw)


def tf32_exact(x):
    """x rounded to multiples of 1/16 in [-8, 8]: 7 significant bits, exact in TF32's 10-bit mantissa."""
    return np.clip(np.round(x * 16) / 16, -8, 8).astype(np.float32)


@pytest.mark.parametrize("dt", FLOATS)
def test_tma_dtypes_ragged_tiles(rng, dt):
    # M, N, K are no multiples of the 16x32x16 tile: the TMA zero-fills loads and clips stores at the edges
    a, b = randn(rng, (2, 37, 56), dt), randn(rng, (2, 56, 40), dt)
    if dt == np.float32:
        a, b = tf32_exact(a), tf32_exact(b)
    out = tma_run(a, b, config=cfg(bm=16, bn=32, bk=16))
    close(out, MM.matmul_ref(a, b), dt, scale=5.0)


def test_tma_fp16_into_fp32_and_tf32(rng):
    a, b = randn(rng, (1, 24, 40), np.float16), randn(rng, (1, 40, 16), np.float16)
    out = tma_run(a, b, out_dtype=np.float32)
    np.testing.assert_allclose(out, a.astype(np.float32) @ b.astype(np.float32), rtol=1e-5, atol=1e-5)
    a, b = tf32_exact(randn(rng, (1, 16, 32))), tf32_exact(randn(rng, (1, 32, 16)))
    out = tma_run(a, b)
    np.testing.assert_allclose(out, MM.matmul_ref(a, b), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="path"):  # fp32 without TF32 runs on FMA units: the pointer kernel
        run(a, b, path="tma")
    assert MT.choose_path(90, *(as_device(x) for x in (out, a, b)), fma=True) == "ptr"


@pytest.mark.parametrize("dt", [np.float16, np.float32])
def test_tma_layouts(rng, dt):
    # A stored (K, M) (M contiguous), B stored (N, K) (a Linear weight), padded rows, a broadcast batch
    a = randn(rng, (2, 24, 40), dt).transpose(0, 2, 1)  # (2, 40, 24)
    b = randn(rng, (1, 48, 32), dt)[:, :40, :24].transpose(0, 2, 1)  # (1, 24, 40) view, row stride 32
    if dt == np.float32:
        a, b = tf32_exact(a), tf32_exact(b)
    b = np.broadcast_to(b, (2, 24, 40))
    assert MT.descriptor_view(as_device(a), True)[3] and MT.descriptor_view(as_device(b), True)[:1] == (1,)
    out = np.zeros((2, 40, 48), dt)[:, :, 8:]  # (2, 40, 40) with row stride 48 and a 16-byte offset
    tma_run(a, b, out=out, config=cfg(bm=16, bn=16, bk=16))
    close(out, MM.matmul_ref(a, b), dt, scale=5.0)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")
@pytest.mark.parametrize("act", ["none", "relu", "gelu", "gelu_tanh", "silu"])
def test_tma_epilogues(rng, act):
    a, b = tf32_exact(randn(rng, (2, 19, 32))), tf32_exact(randn(rng, (2, 32, 24)))
    bias, c_in = randn(rng, 72)[::3], randn(rng, (2, 19, 24))  # a strided bias (pointer loads)
    out = tma_run(a, b, bias=bias, activation=act, alpha=0.5, beta=-2.0, c_in=c_in, config=cfg(bm=16, bn=32))
    ref = MM.matmul_ref(a, b, bias=bias, activation=act, alpha=0.5, beta=-2.0, c_in=c_in)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_tma_wide_tile_epilogue_in_quarters(rng):
    # BLOCK_N=256: the epilogue (C_in, bias, activation, store) runs on four 64-column slices
    a, b = randn(rng, (1, 20, 16), np.float16), randn(rng, (1, 16, 296), np.float16)
    bias, c_in = randn(rng, 296, np.float16), randn(rng, (1, 20, 296), np.float16)
    out = tma_run(a, b, bias=bias, c_in=c_in, beta=1.0, activation="gelu", config=cfg(bm=16, bn=256))
    close(out, MM.matmul_ref(a, b, bias=bias, c_in=c_in, beta=1.0, activation="gelu"), np.float16, scale=5.0)


def test_tma_bias_gelu_bf16(rng):
    dt = ml_dtypes.bfloat16
    a, b, bias = randn(rng, (1, 17, 32), dt), randn(rng, (1, 32, 24), dt), randn(rng, 24, dt)
    out = tma_run(a, b, bias=bias, activation="gelu")
    close(out, MM.matmul_ref(a, b, bias=bias, activation="gelu"), dt, scale=5.0)


def test_tma_split_k(rng):
    # K=88, BLOCK_K=16: 6 K steps over 4 slices of 2, so the last slice is empty (all zero-filled)
    a, b = tf32_exact(randn(rng, (2, 7, 88))), tf32_exact(randn(rng, (2, 88, 12)))
    bias, c_in = randn(rng, 12), randn(rng, (2, 7, 12))
    config = cfg(split_k=4)
    scratch = np.full(MM.scratch_shape(config, 2, 7, 12), np.nan, np.float32)
    out = tma_run(a, b, bias=bias, c_in=c_in, alpha=2.0, beta=0.5, activation="silu", config=config, scratch=scratch)
    ref = MM.matmul_ref(a, b, bias=bias, c_in=c_in, alpha=2.0, beta=0.5, activation="silu")
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scratch.sum(0), MM.matmul_ref(a, b), rtol=1e-4, atol=1e-4)
    assert (scratch[3] == 0).all()
    with pytest.raises(ValueError, match="contiguous"):  # the kernel describes the scratch as packed
        run(a, b, config=config, path="tma", allow_tf32=True, scratch=np.zeros((4, 2, 7, 24), np.float32)[..., :12])


def test_tma_persistent_grid(rng, monkeypatch):
    # 3 programs for 2 batches x 3 x 2 tiles: each program walks several tiles, every tile is written once
    monkeypatch.setattr(tuning, "_sm_count", 3)
    config = cfg(bm=16, bn=16, group_m=2)
    assert MT.grid_size(config, 2, 40, 32) == 3 and MT.grid_size(config, 1, 8, 8) == 1
    assert MT.workspace_shape(config, 2, 40, 32) == (3 * MT.WORKSPACE_PER_PROGRAM,)
    a, b = tf32_exact(randn(rng, (2, 40, 16))), tf32_exact(randn(rng, (2, 16, 32)))
    out = tma_run(a, b, config=config)
    np.testing.assert_allclose(out, MM.matmul_ref(a, b), rtol=1e-5, atol=1e-5)


def test_tma_workspace_allocator():
    with pytest.raises(ValueError, match="workspace"):
        MT._Workspace(None)(512, 128, None)
    buf = as_device(np.zeros(1024, np.uint8))
    assert MT._Workspace(buf)(1024, 16, None) is buf
    with pytest.raises(ValueError, match="1025-byte"):
        MT._Workspace(buf)(1025, 16, None)


def test_choose_path_is_a_pure_function_of_layout():
    def arr(shape, dt=np.float16, strides=None, offset=0):
        base = as_device(np.zeros(4096, dt))
        st = strides or tuple(int(np.prod(shape[i + 1:])) for i in range(3))
        return base.view_as(shape, st, offset)

    out, a, b = arr((2, 16, 24)), arr((2, 16, 32)), arr((2, 32, 24))
    assert MT.choose_path(90, out, a, b) == "tma" and MT.choose_path(100, out, a, b) == "tma"
    assert MT.choose_path(80, out, a, b) == "ptr"  # no TMA before Hopper: the cp.async pipeline
    assert MT.choose_path(90, out, arr((2, 16, 32), offset=1), b) == "ptr"  # base not 16-byte aligned
    assert MT.choose_path(90, out, arr((2, 16, 7)), arr((2, 7, 24))) == "ptr"  # 14-byte rows
    assert MT.choose_path(90, out, arr((2, 16, 32), strides=(512, 1, 16)), b) == "tma"  # A^T
    assert MT.descriptor_view(arr((2, 16, 32), strides=(512, 1, 16)), True) == (2, 512, 16, True)
    assert MT.descriptor_view(arr((2, 16, 32), strides=(512, 1, 16))) is None  # C cannot be transposed
    assert MT.choose_path(90, arr((2, 16, 24), strides=(384, 1, 16)), a, b) == "ptr"
    assert MT.choose_path(90, out, a, arr((2, 32, 24), strides=(768, 48, 2))) == "ptr"  # no unit stride
    assert MT.descriptor_view(arr((2, 32, 24), strides=(0, 24, 1))) == (1, 768, 24, False)  # broadcast
    assert MT.descriptor_view(arr((2, 32, 24), strides=(4, 24, 1))) is None  # 8-byte batch stride
    assert MT.descriptor_view(arr((1, 1, 12), strides=(5, 3, 1))) == (1, 16, 16, False)  # free strides
    cin_rows = arr((2, 16, 24), strides=(0, 0, 1))  # an addmm bias broadcast over rows
    assert MT.choose_path(90, out, a, b, cin_rows) == "ptr" and MT.choose_path(90, out, a, b, out) == "tma"
    assert MT.choose_path(90, arr((2, 16, 6), strides=(128, 8, 1)), a, arr((2, 32, 6), strides=(256, 8, 1))) == \
        "ptr"  # N % 4: split-K's packed fp32 scratch rows would be misaligned


def test_path_argument_is_checked(rng):
    a, b = randn(rng, (1, 4, 7)), randn(rng, (1, 7, 4))
    with pytest.raises(ValueError, match="path"):
        run(a, b, path="tma")  # 28-byte rows: no descriptor
    with pytest.raises(ValueError, match="path"):
        run(a, b, path="wgmma")
    out = run(a, b, path="ptr")
    np.testing.assert_allclose(out, MM.matmul_ref(a, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dt", [dtypes.float16, dtypes.bfloat16, dtypes.float32])
def test_tma_configs(dt):
    big = MM.heuristic_config(4096, 4096, 4096, dt, path="tma")
    wide = dt is dtypes.float32
    assert (big["BLOCK_M"], big["BLOCK_N"], big["BLOCK_K"]) == ((128, 128, 32) if wide else (128, 256, 64))
    default, full = MM.config_space(dt, "default", "tma"), MM.config_space(dt, "max", "tma")
    assert 8 <= len(default) <= 12 and len(full) > 100 and default != MM.config_space(dt, "default")
    assert all(c in default for c in MM.shipped_configs(dt, "tma") if c["SPLIT_K"] == 1)
    # wgmma: 64 rows per warpgroup; the half-tile epilogue stores >= 16 bytes per row
    assert all(c["BLOCK_M"] >= 16 * c["num_warps"] and c["BLOCK_N"] >= 32 for c in default + full)
    if not wide:
        assert dict(BLOCK_M=128, BLOCK_N=256, BLOCK_K=64, num_stages=4) in [
            {k: c[k] for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K", "num_stages")} for c in default]
    with pytest.raises(ValueError, match="path"):
        MM.heuristic_config(64, 64, 64, dt, path="cp.async")


def test_tma_specs():
    names = {s.name for s in MT.SPECS}
    for variant in ("fp16", "bf16", "fp32:tf32"):  # fp32 without TF32 keeps the pointer kernel
        assert {f"matmul_tma[{variant}]@sm_90", f"matmul_tma[{variant}:splitk]@sm_90"} <= names
    for spec in MT.SPECS:
        assert spec.name.endswith("@sm_90") and spec.tensor_cores and "ieee" not in spec.name
        args = set(spec.constexprs) | set(spec.signature) | set(spec.configs[0])
        assert args >= set(spec.kernel.arg_names)
        assert "splitk" in spec.name or all(c in spec.space for c in spec.configs)
    assert MM.heuristic_config(4096, 4096, 4096, dtypes.float16, path="tma") in MT.SPECS[0].configs


def test_specs_cover_every_shipped_config():
    names = {s.name for s in MM.SPECS}
    for variant in ("fp16", "bf16", "fp32:tf32", "fp32:ieee"):
        assert {f"matmul[{variant}]", f"matmul[{variant}:splitk]", f"matmul[{variant}:addmm+bias+gelu]"} <= names
    for spec in MM.SPECS:
        args = set(spec.constexprs) | set(spec.signature) | set(spec.configs[0])
        assert args >= set(spec.kernel.arg_names)
        if spec.name.startswith("matmul["):
            assert spec.tensor_cores == ("fp32:ieee" not in spec.name)


# ---------------------------------------------------------------- backward
@pytest.mark.parametrize("dt", [np.float32, np.float16])
def test_backward_through_transposed_calls(rng, dt):
    a, b, grad = randn(rng, (2, 9, 14), dt), randn(rng, (2, 14, 11), dt), randn(rng, (2, 9, 11), dt)
    grad_a = run(grad, b.transpose(0, 2, 1))  # dA = dC @ B^T, B^T by strides only
    grad_b = run(a.transpose(0, 2, 1), grad)  # dB = A^T @ dC
    ref_a, ref_b = MM.matmul_backward_ref(grad, a, b)
    close(grad_a, ref_a, dt, scale=5.0)
    close(grad_b, ref_b, dt, scale=5.0)


def test_backward_broadcast_weight(rng):
    # x (2, 5, 6) @ w (6, 4): the reference's grad_w is per batch (output broadcast shape)
    x, w, grad = randn(rng, (2, 5, 6)), randn(rng, (6, 4)), randn(rng, (2, 5, 4))
    ref_x, ref_w = MM.matmul_backward_ref(grad, x, w)
    assert ref_x.shape == (2, 5, 6) and ref_w.shape == (2, 6, 4)
    grad_x = run(grad, np.broadcast_to(w.T, (2, 4, 6)))
    grad_w = run(x.transpose(0, 2, 1), grad)
    np.testing.assert_allclose(grad_x, ref_x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_w, ref_w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape_a,shape_b", [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 2))])
def test_backward_ref_finite_differences(rng, shape_a, shape_b):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    grad = rng.standard_normal(np.matmul(a, b).shape)
    grad_a, grad_b = MM.matmul_backward_ref(grad, a, b)
    eps = 1e-6

    def numeric(x, loss):
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + eps
            hi = loss()
            x[i] = old - eps
            lo = loss()
            x[i] = old
            g[i] = (hi - lo) / (2 * eps)
        return g

    loss = lambda: float(np.sum(MM.matmul_ref(a, b) * grad))
    np.testing.assert_allclose(grad_a, numeric(a, loss), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grad_b, numeric(b, loss), rtol=1e-6, atol=1e-8)


def test_ref_rounds_once_from_fp32(rng):
    a, b = randn(rng, (4, 300), np.float16), randn(rng, (300, 3), np.float16)
    ref = MM.matmul_ref(a, b)
    assert ref.dtype == np.float16
    np.testing.assert_array_equal(ref, (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16))
    ga, gb = MM.matmul_backward_ref(ref, a, b)
    assert ga.dtype == gb.dtype == np.float16
