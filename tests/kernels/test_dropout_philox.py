"""kernels/dropout.py's NumPy Philox (philox_uniform, dropout_mask_ref): Random123's known answer, and the same bits
as the textbook rounds written out below for any seed, offsets and size, on one thread or several (the block and
thread splits must not show). The Triton kernel's agreement with it is tests/kernels/test_softmax_loss.py's."""

import numpy as np
import pytest
from tritensor.kernels import dropout as KD
from tritensor.kernels import host_threads

_SCALE = np.float32(4.6566127342e-10)


def textbook_uniform(seed: int, offsets) -> np.ndarray:
    """tl.rand(seed, offsets): Philox4x32-10 on (offset, 0, 0, 0) with key (seed_lo, seed_hi), one round at a time
    on whole arrays, then Triton's int31 -> [0, 1) conversion."""
    c0 = np.asarray(offsets).astype(np.uint32)
    c1 = c2 = c3 = np.zeros_like(c0)
    k0, k1 = np.uint32(seed & 0xFFFFFFFF), np.uint32((seed >> 32) & 0xFFFFFFFF)
    for _ in range(10):
        prod_b = np.uint64(0xCD9E8D57) * c2.astype(np.uint64)
        prod_a = np.uint64(0xD2511F53) * c0.astype(np.uint64)
        c0, c1, c2, c3 = ((prod_b >> np.uint64(32)).astype(np.uint32) ^ c1 ^ k0, prod_b.astype(np.uint32),
                          (prod_a >> np.uint64(32)).astype(np.uint32) ^ c3 ^ k1, prod_a.astype(np.uint32))
        k0, k1 = np.uint32((int(k0) + 0x9E3779B9) & 0xFFFFFFFF), np.uint32((int(k1) + 0xBB67AE85) & 0xFFFFFFFF)
    r = c0.view(np.int32)
    return np.where(r < 0, ~r, r).astype(np.float32) * _SCALE


def test_random123_known_answer():
    # Random123's kat_vectors: philox4x32-10, counter 0 and key 0 give 6627e8d5 e169c58d bc57ac4c 9b00dbd8; tl.rand
    # keeps the first word (positive as an int32).
    assert KD.philox_uniform(0, np.array([0]))[0] == np.float32(0x6627E8D5) * _SCALE
    assert textbook_uniform(0, [0])[0] == np.float32(0x6627E8D5) * _SCALE


@pytest.mark.parametrize("seed", [0, 1, 987654321, 2**31 - 1, 7 + (5 << 32), 2**64 - 1])
@pytest.mark.parametrize("n", [1, 5, 1000, KD._PHILOX_BLOCK + 3])
def test_same_bits_as_the_textbook_rounds(rng, seed, n):
    offsets = rng.integers(-2**31, 2**31, n).astype(np.int32)  # attention's offsets: any int32, negatives included
    np.testing.assert_array_equal(KD.philox_uniform(seed, offsets).view(np.int32),
                                  textbook_uniform(seed, offsets).view(np.int32))
    positions = np.arange(n)
    np.testing.assert_array_equal(KD.philox_uniform(seed, positions), textbook_uniform(seed, positions))


def test_offsets_keep_their_shape():
    offsets = np.arange(24).reshape(2, 3, 4)
    got = KD.philox_uniform(11, offsets)
    assert got.shape == (2, 3, 4) and got.dtype == np.float32
    np.testing.assert_array_equal(got.reshape(-1), textbook_uniform(11, np.arange(24)))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_mask_the_same_on_any_thread_count(threads):
    shape = (3, KD._PHILOX_BLOCK + 17)  # several blocks, split over the threads
    want = (textbook_uniform(42, np.arange(np.prod(shape))) < np.float32(0.75)).reshape(shape)
    old = host_threads.get_num_threads()
    host_threads.set_num_threads(threads)
    try:
        np.testing.assert_array_equal(KD.dropout_mask_ref(shape, 0.25, 42), want)
    finally:
        host_threads.set_num_threads(old)


def test_empty_mask():
    assert KD.dropout_mask_ref((0, 4), 0.5, 3).shape == (0, 4)
    assert KD.philox_uniform(3, np.zeros((0,), np.int32)).shape == (0,)
