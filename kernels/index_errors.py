"""The kernel side of tritensor/device_errors.py: how an index-taking kernel reports an index out of range."""

import triton
import triton.language as tl


@triton.jit
def report_out_of_range(err_ptr, err_code, index, bad):
    """Store `err_code` and the offending index into the device's error word for the lanes where `bad`.

    err_ptr: int64[2] error word (code, index); err_code: the op's registered code (a runtime int, so a new
    message never recompiles); index: the lane's index values; bad: which lanes are out of range. Lanes race
    to write: any one offending index is reported, as PyTorch reports the first it meets.
    """
    zero = tl.zeros_like(index).to(tl.int64)
    tl.store(err_ptr + zero, zero + err_code, mask=bad)
    tl.store(err_ptr + 1 + zero, index.to(tl.int64), mask=bad)
