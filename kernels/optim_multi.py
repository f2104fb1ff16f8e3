"""The fused multi-tensor optimizer step: one launch updates every parameter of a group (of one dtype).

An optimizer step is elementwise, but a model has hundreds of parameters; one launch per parameter
(PyTorch's single-tensor path) spends a small model's step in launch latency, and even its `foreach`
path launches once per operation. Here one program per chunk of one tensor loads the parameter, its
gradient and its state once, runs the optimizer's update rule in registers and stores the results:
one launch and one pass over memory for the whole group.

The launch reads a table the ops layer builds (tritensor/ops/optim.py), in one int64 device array:

    addrs[(2 + N_STATE) * T]  row 0: the parameters' data addresses, row 1: the gradients', then one row
                              per state tensor (state i of parameter t at (2 + i) * T + t)
    sizes[T]                  element counts
    ctensor[C], cstart[C]     each chunk's tensor and first element (kernels/multi_tensor.py's chunking)

and a (T, N_SCALARS) array of per-tensor scalars in the compute dtype (the learning rate, bias
corrections from that parameter's own step count, ...), uploaded every step so that a scheduler's new
lr never recompiles anything.

An optimizer is a `StepRule`: a `@triton.jit` update on blocks in the compute dtype (fp32, fp64 for
fp64 tensors; 16-bit tensors are upcast on load and rounded on store) and the NumPy reference that is
the cpu path. Every `kernels/optim_*.py` module lists its rules in `RULES`; `step_rule(name)` finds them.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .multi_tensor import build_table, chunk_length
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

N_SCALARS = 8  # c0..c7 of an update
MAX_STATE = 3  # s0..s2 of an update

# A chunk streams BLOCK elements at a time: wider blocks amortise the per-chunk table reads on large
# parameters, narrower ones keep registers low for rules with three states.
_SPACE = [dict(BLOCK=1024, num_warps=4), dict(BLOCK=512, num_warps=4), dict(BLOCK=2048, num_warps=8),
          dict(BLOCK=4096, num_warps=8)]


class StepRule(NamedTuple):
    """One optimizer's elementwise update, for the fused step.

    update: @triton.jit (p, g, s0, s1, s2, c0, ..., c7, FLAGS: constexpr) -> (p, s0, s1, s2), on blocks in the
      compute dtype; states past the call's count are placeholders it must return unchanged.
    ref: (p, g, states, c, flags) -> None, the same update on host arrays in place (the cpu path).
    n_state: the most state tensors a call passes (each the parameter's shape and dtype).
    flag_names: bit i of FLAGS is flag_names[i].
    aot_flags: the builds the AOT matrix compiles, by case name: a FLAGS value (with n_state states), or
      (FLAGS, states) for a case that passes fewer.
    """

    name: str
    update: Callable
    ref: Callable
    n_state: int
    flag_names: tuple[str, ...]
    aot_flags: dict[str, int | tuple[int, int]]


@triton.jit
def lerp(start, end, weight):
    """PyTorch's lerp: the formula on the side of the nearer endpoint (exact at weight 0 and 1)."""
    return tl.where(tl.abs(weight) < 0.5, start + weight * (end - start), end - (end - start) * (1 - weight))


@triton.jit
def div_rn(a, b):
    """a / b correctly rounded, as PyTorch's division (fp32 `/` on NVIDIA GPUs is approximate; fp64's is IEEE)."""
    if a.dtype.is_fp64():
        return a / b
    else:
        return tl.div_rn(a, b)


@triton.jit
def sqrt_rn(x):
    """sqrt(x) correctly rounded, as PyTorch's (tl.sqrt is approximate in fp32)."""
    if x.dtype.is_fp64():
        return tl.sqrt(x)
    else:
        return tl.sqrt_rn(x)


@triton.jit
def _load(base, offs, mask, ctype: tl.constexpr, MASKED: tl.constexpr):
    if MASKED:
        x = tl.load(base + offs, mask=mask, other=0)
    else:
        x = tl.load(base + offs)
    return compute_type(x).to(ctype)


@triton.jit
def _store(base, offs, x, mask, MASKED: tl.constexpr):
    if MASKED:
        tl.store(base + offs, cast_to(x, base.dtype.element_ty), mask=mask)
    else:
        tl.store(base + offs, cast_to(x, base.dtype.element_ty))


@triton.jit
def _step_block(p_base, g_base, s0_base, s1_base, s2_base, offs, mask, c0, c1, c2, c3, c4, c5, c6, c7,
                UPDATE: tl.constexpr, FLAGS: tl.constexpr, N_STATE: tl.constexpr, MASKED: tl.constexpr):
    ctype: tl.constexpr = c0.dtype
    p = _load(p_base, offs, mask, ctype, MASKED)
    g = _load(g_base, offs, mask, ctype, MASKED)
    s0 = p
    s1 = p
    s2 = p
    if N_STATE > 0:
        s0 = _load(s0_base, offs, mask, ctype, MASKED)
    if N_STATE > 1:
        s1 = _load(s1_base, offs, mask, ctype, MASKED)
    if N_STATE > 2:
        s2 = _load(s2_base, offs, mask, ctype, MASKED)
    p, s0, s1, s2 = UPDATE(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS)
    _store(p_base, offs, p, mask, MASKED)
    if N_STATE > 0:
        _store(s0_base, offs, s0, mask, MASKED)
    if N_STATE > 1:
        _store(s1_base, offs, s1, mask, MASKED)
    if N_STATE > 2:
        _store(s2_base, offs, s2, mask, MASKED)


@triton.jit
def _base(addr_ptr, row, T, t, like_ptr, ALIGNED: tl.constexpr):
    base = tl.load(addr_ptr + row * T + t).to(like_ptr.dtype)
    if ALIGNED:
        base = tl.multiple_of(base, 16)
    return base


@fast_jit
def multi_tensor_step_kernel(
    addr_ptr,  # ((2 + N_STATE) * T,) int64: parameter, gradient and state addresses, row-major by role
    size_ptr,  # (T,) int64 element counts
    ctensor_ptr,  # (C,) int64 tensor index of each chunk
    cstart_ptr,  # (C,) int64 first element of each chunk
    scalar_ptr,  # (T, N_SCALARS) per-tensor scalars, in the compute dtype
    param_like_ptr,  # never read: its pointer type is the element type of the parameters and states
    grad_like_ptr,  # never read: the gradients' element type
    T,  # tensors
    chunk_len,  # elements per chunk (a multiple of BLOCK)
    UPDATE: tl.constexpr,  # the rule's update
    FLAGS: tl.constexpr,  # the rule's flag bits
    N_STATE: tl.constexpr,  # state tensors per parameter (0..3)
    ALIGNED: tl.constexpr,  # every address 16-byte aligned
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    t = tl.load(ctensor_ptr + pid)
    start = tl.load(cstart_ptr + pid)
    n = tl.load(size_ptr + t)
    p_base = _base(addr_ptr, 0, T, t, param_like_ptr, ALIGNED)
    g_base = _base(addr_ptr, 1, T, t, grad_like_ptr, ALIGNED)
    s0_base = p_base
    s1_base = p_base
    s2_base = p_base
    if N_STATE > 0:
        s0_base = _base(addr_ptr, 2, T, t, param_like_ptr, ALIGNED)
    if N_STATE > 1:
        s1_base = _base(addr_ptr, 3, T, t, param_like_ptr, ALIGNED)
    if N_STATE > 2:
        s2_base = _base(addr_ptr, 4, T, t, param_like_ptr, ALIGNED)
    if ALIGNED:
        start = tl.multiple_of(start, BLOCK)
    row = scalar_ptr + t * 8  # N_SCALARS
    c0 = tl.load(row)
    c1 = tl.load(row + 1)
    c2 = tl.load(row + 2)
    c3 = tl.load(row + 3)
    c4 = tl.load(row + 4)
    c5 = tl.load(row + 5)
    c6 = tl.load(row + 6)
    c7 = tl.load(row + 7)
    lanes = tl.arange(0, BLOCK)
    end = tl.minimum(start + chunk_len, n)
    for off in range(0, chunk_len, BLOCK):
        offs = start + off + lanes
        if start + off + BLOCK <= end:  # a full block: unmasked, so aligned loads and stores are 128-bit
            _step_block(p_base, g_base, s0_base, s1_base, s2_base, offs, offs < end, c0, c1, c2, c3, c4, c5, c6,
                        c7, UPDATE, FLAGS, N_STATE, False)
        elif start + off < end:
            _step_block(p_base, g_base, s0_base, s1_base, s2_base, offs, offs < end, c0, c1, c2, c3, c4, c5, c6,
                        c7, UPDATE, FLAGS, N_STATE, True)


def _step_cost(n: int, chunks: int, itemsize: int, grad_itemsize: int, states: int) -> Cost:
    """Reads the gradient, reads and writes the parameter and each state once, plus the chunk table."""
    return Cost(float(n) * (grad_itemsize + 2 * itemsize * (1 + states)) + 24.0 * chunks, float(n) * (4 + 4 * states))


# Keys: (rule, flags, states, param dtype, grad dtype, aligned, chunk_len, next_pow2(chunks)). Steps update
# their operands in place, so the tuner never times them on a user's tensors (repeatable=False).
STEP_TUNING = Tunable("optim.step", _SPACE, lambda key: dict(_SPACE[0]), _step_cost, repeatable=False)


class StepTable(NamedTuple):
    """One bucket's device table (views of one int64 array) and launch facts; see the module docstring."""

    addrs: DeviceArray
    sizes: DeviceArray
    ctensor: DeviceArray
    cstart: DeviceArray
    param_like: DeviceArray
    grad_like: DeviceArray
    tensors: int
    numel: int
    aligned: bool
    chunk_len: int


def host_table(addrs: np.ndarray, sizes: list[int]) -> tuple[np.ndarray, int, int]:
    """(the int64 table [addrs, sizes, ctensor, cstart], chunk_len, chunks) for addresses of shape
    (2 + states, T) and the tensors' element counts."""
    chunk_len = chunk_length(sum(sizes))
    ctensor, cstart = build_table(sizes, chunk_len)
    table = np.concatenate([addrs.reshape(-1), np.asarray(sizes, dtype=np.int64), ctensor, cstart])
    return table, chunk_len, int(ctensor.size)


def multi_tensor_step(rule: StepRule, flags: int, n_state: int, table: StepTable, scalars: DeviceArray) -> None:
    """One fused step of `rule` over every tensor of the table, in place; scalars: (T, N_SCALARS) in the
    compute dtype (fp64 for fp64 parameters, else fp32)."""
    C = table.ctensor.shape[0]
    if C == 0:
        return

    def run(cfg):
        multi_tensor_step_kernel[(C,)](
            table.addrs, table.sizes, table.ctensor, table.cstart, scalars, table.param_like, table.grad_like,
            table.tensors, table.chunk_len, UPDATE=rule.update, FLAGS=flags, N_STATE=n_state,
            ALIGNED=table.aligned, **cfg)

    key = (rule.name, flags, n_state, table.param_like.dtype.name, table.grad_like.dtype.name, table.aligned,
           table.chunk_len, next_pow2(C))
    sizes = dict(n=table.numel, chunks=C, itemsize=table.param_like.dtype.itemsize,
                 grad_itemsize=table.grad_like.dtype.itemsize, states=n_state)
    tuning.launch(STEP_TUNING, key, sizes, run, repeatable=False)


# ---------------------------------------------------------------- rules
_RULES: dict[str, StepRule] = {}


def step_rule(name: str) -> StepRule:
    """The StepRule called `name`, from the RULES of every kernels/optim_*.py module."""
    if not _RULES:
        for info in pkgutil.iter_modules([os.path.dirname(__file__)]):
            if info.name.startswith("optim_") and info.name != "optim_multi":
                module = importlib.import_module(f"{__package__}.{info.name}")
                _RULES.update({rule.name: rule for rule in getattr(module, "RULES", ())})
    if name not in _RULES:
        raise ValueError(f"no fused optimizer step called {name!r}; known: {sorted(_RULES)}")
    return _RULES[name]


def flag_bits(rule: StepRule, flags: dict[str, bool]) -> int:
    """The FLAGS mask of `flags` (every name of rule.flag_names, nothing else)."""
    if set(flags) != set(rule.flag_names):
        raise ValueError(f"optimizer step {rule.name!r} takes the flags {list(rule.flag_names)}, got {sorted(flags)}")
    return sum(1 << i for i, name in enumerate(rule.flag_names) if flags[name])


# ---------------------------------------------------------------- NumPy helpers for the references
def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a reference computes in: float64 for float64 arrays, float32 otherwise (as the kernel)."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def load(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """a in the compute dtype (a itself when it already has it)."""
    return a if a.dtype == dtype else a.astype(dtype)


def store(dst: np.ndarray, value: np.ndarray) -> None:
    """value rounded into dst (nothing to do when value is dst)."""
    if value is not dst:
        np.copyto(dst, value, casting="unsafe")


def lerp_ref(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """PyTorch's two-sided lerp on arrays."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


# ---------------------------------------------------------------- declarations for the tuner / AOT check
def _signature(dtype: str) -> dict[str, str]:
    ctype = "fp64" if dtype == "fp64" else "fp32"
    return {"addr_ptr": "*i64", "size_ptr": "*i64", "ctensor_ptr": "*i64", "cstart_ptr": "*i64",
            "scalar_ptr": f"*{ctype}", "param_like_ptr": f"*{dtype}", "grad_like_ptr": f"*{dtype}", "T": "i32",
            "chunk_len": "i32"}


def rule_specs(rule: StepRule) -> list[KernelSpec]:
    """The AOT/tuner declarations of one rule: fp32, bf16 and fp16 parameters, each of its aot_flags cases."""
    specs = []
    for case, build in rule.aot_flags.items():
        flags, n_state = build if isinstance(build, tuple) else (build, rule.n_state)
        specs += [KernelSpec(f"optim.{rule.name}[{dtype}:{case}]", multi_tensor_step_kernel, _signature(dtype),
                             dict(UPDATE=rule.update, FLAGS=flags, N_STATE=n_state, ALIGNED=True), _SPACE[:1],
                             _SPACE)
                  for dtype in ("fp32", "bf16", "fp16")]
    return specs
