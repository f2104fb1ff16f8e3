"""tritensor: a GPU-first tensor library. Every op is a Triton kernel with a NumPy reference.

    import tritensor as tt
    x = tt.randn(3, 4, device="cuda")   # a GPU, or TRITON_INTERPRET=1 to run the kernels on the CPU
"""

from __future__ import annotations

import os as _os

# Triton 3.9 warns on every import unless FP fusion is chosen explicitly; keep its current default.
_os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

from . import autograd, backends, cuda
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled
from .autograd.grad_mode import is_grad_enabled, is_inference_mode_enabled
from .backends import get_float32_matmul_precision, set_float32_matmul_precision
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    empty_strided,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .device import device
from .dtypes import (
    bfloat16,
    bool,
    can_cast,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    set_default_dtype,
    short,
    uint8,
)
from .ops.api import *
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import Size, Tensor

# The layers above the op API (they import the names defined above).
from . import data, io, nn, optim, utils
from .io import load, save

__version__ = "0.1.0"


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


# softmax / log_softmax live in nn.functional (fused kernels); PyTorch also offers them as tt.* and methods.
softmax = nn.functional.softmax
log_softmax = nn.functional.log_softmax
Tensor.softmax = lambda self, dim, **kwargs: nn.functional.softmax(self, dim, **kwargs)
Tensor.log_softmax = lambda self, dim, **kwargs: nn.functional.log_softmax(self, dim, **kwargs)
