"""The device error word: an index-taking kernel flags an out-of-range index, the op raises PyTorch's error at
the next synchronisation point (at once under the interpreter), and the word is clean again afterwards."""

import types

import numpy as np
import pytest
import triton
import triton.language as tl
from tritensor.kernels.index_errors import report_out_of_range

import tritensor as tt
from tests.conftest import as_device
from tritensor import device_errors
from tritensor.cuda import driver

CUDA = tt.device("cuda", 0)


@triton.jit
def _take_kernel(out_ptr, src_ptr, idx_ptr, n, size, err_ptr, err_code, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    mask = offs < n
    idx = tl.load(idx_ptr + offs, mask=mask, other=0)
    bad = mask & ((idx < 0) | (idx >= size))
    report_out_of_range(err_ptr, err_code, idx, bad)
    tl.store(out_ptr + offs, tl.load(src_ptr + idx, mask=mask & ~bad), mask=mask & ~bad)


def _take(src: np.ndarray, idx: np.ndarray, code: int) -> np.ndarray:
    out = np.zeros(len(idx), src.dtype)
    _take_kernel[(1,)](as_device(out), as_device(src), as_device(idx), len(idx), len(src),
                       device_errors.error_word(CUDA), code, BLOCK=16)
    return out


def test_valid_indices_raise_nothing():
    code = device_errors.expect(CUDA, IndexError, "index {index} is out of bounds for size 4")
    out = _take(np.arange(4.0, dtype=np.float32) * 10, np.array([3, 0, 2], np.int64), code)
    device_errors.after_launch(CUDA)
    assert out.tolist() == [30.0, 0.0, 20.0]


def test_flagged_index_raises_registered_error_once():
    code = device_errors.expect(CUDA, IndexError, "index {index} is out of bounds for size 4")
    _take(np.arange(4.0, dtype=np.float32), np.array([1, 7, 2], np.int64), code)
    with pytest.raises(IndexError, match="^index 7 is out of bounds for size 4$"):
        device_errors.raise_if_flagged(CUDA)  # what the next synchronisation point does on a GPU
    device_errors.raise_if_flagged(CUDA)  # cleared: the error is reported once


def test_after_launch_raises_at_once_under_the_interpreter():
    code = device_errors.expect(CUDA, RuntimeError, "Target {index} is out of bounds.")
    _take(np.arange(4.0, dtype=np.float32), np.array([-3], np.int64), code)
    with pytest.raises(RuntimeError, match=r"Target -3 is out of bounds\."):
        device_errors.after_launch(CUDA)


def test_codes_are_reused_per_message():
    first = device_errors.expect(CUDA, IndexError, "index {index} out of range in self")
    second = device_errors.expect(CUDA, IndexError, "index {index} out of range in self")
    other = device_errors.expect(CUDA, RuntimeError, "index {index} out of range in self")
    assert first == second != other and first > 0 and other > 0
    device_errors.raise_if_flagged(CUDA)  # nothing flagged


def test_synchronize_is_a_synchronisation_point(monkeypatch):
    # The driver's sync needs a GPU; stand in for it so that only what follows the sync is exercised.
    monkeypatch.setattr(driver, "_device", lambda index: types.SimpleNamespace(sync=lambda: None))
    code = device_errors.expect(CUDA, IndexError, "index {index} is out of range")
    _take(np.arange(4.0, dtype=np.float32), np.array([9], np.int64), code)
    with pytest.raises(IndexError, match="^index 9 is out of range$"):
        driver.synchronize(0)
    driver.synchronize(0)  # reported once


def test_codes_stay_unique_when_old_messages_are_dropped(monkeypatch):
    monkeypatch.setattr(device_errors, "_MAX_MESSAGES", 3)
    codes = [device_errors.expect(CUDA, IndexError, f"unique message {i}: {{index}}") for i in range(20)]
    device_errors.raise_if_flagged(CUDA)  # nothing flagged: old messages may be pruned
    later = [device_errors.expect(CUDA, IndexError, f"later message {i}: {{index}}") for i in range(5)]
    assert len(set(codes + later)) == len(codes + later)
    _take(np.arange(4.0, dtype=np.float32), np.array([11], np.int64), later[-1])
    with pytest.raises(IndexError, match="^later message 4: 11$"):
        device_errors.raise_if_flagged(CUDA)
