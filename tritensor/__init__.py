"""tritensor: a GPU-first tensor library. Every op is a Triton kernel with a NumPy reference.

    import tritensor as tt
    x = tt.randn(3, 4, device="cuda")   # a GPU, or TRITON_INTERPRET=1 to run the kernels on the CPU
"""

from __future__ import annotations

import importlib as _importlib
import os as _os

# Triton 3.9 warns on every import unless FP fusion is chosen explicitly; keep its current default.
_os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

from . import autograd, autotune, backends, cuda  # autotune: installs the config selector every launch asks
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
    get_default_device,
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
    set_default_device,
    tensor,
    zeros,
    zeros_like,
)
from .determinism import (
    are_deterministic_algorithms_enabled,
    is_deterministic_algorithms_warn_only_enabled,
    use_deterministic_algorithms,
)
from .device import device
from .dtypes import (
    bfloat16,
    bool,
    can_cast,
    cdouble,
    cfloat,
    complex64,
    complex128,
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
from .formatting import set_printoptions
from .ops.api import *
from .kernels.host_threads import get_num_threads, set_num_threads  # the cpu path's intra-op threads
from . import amp  # after the ops it wraps; registers tt.cuda.amp
from .amp import autocast
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import Size, Tensor, layout, sparse_coo, sparse_csr, strided
from .cuda import OutOfMemoryError
from .untyped_storage import TypedStorage, UntypedStorage
from .legacy_tensor_types import *  # noqa: F403 - tt.FloatTensor & co. (and tt.cuda.FloatTensor & co.)

__version__ = "0.1.0"

# The packages above the op layer load on first use (`tt.nn`, `import tritensor.nn`): importing tritensor, or
# tritensor.autotune / tritensor.kernels, stays cheap and never drags nn/optim/data in.
_LAZY_MODULES = frozenset({"accelerator", "data", "distributed", "distributions", "fft", "io", "linalg",
                           "multiprocessing", "nn", "onnx", "optim", "profiler", "serialization", "sparse", "special",
                           "utils"})
_LAZY_NAMES = {"load": "io", "save": "io"}


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return _importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(_importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'tritensor' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_NAMES))


def is_tensor(obj) -> bool:
    """True if obj is a tritensor Tensor (nn.Parameter included)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of input."""
    return input.numel()
