"""The map kernel's fast layouts: flat (dense, same-layout operands) and rows (2-D, row-vector broadcast).

`elementwise.launch_map` picks the cheapest kernel an op's operands allow, running the same OP with
the same N_IN/N_OUT/p0/p1 constexpr machinery as the strided `map_kernel`:

- `flat_map_kernel`: every operand dense and laid out alike (contiguous, or one shared permutation
  such as channels-last), so element k of every operand is at memory position k. No index math at
  all: an unmasked bulk launch over the multiple-of-BLOCK prefix (Triton specialises 16-byte-aligned
  pointers, so it compiles to 128-bit loads/stores) and one masked launch for the tail.
- `row_map_kernel`: a 2-D launch (rows x columns) whose operands all have unit column stride and
  each its own row pitch; a row-vector operand (pitch 0: the bias of x[M, N] + b[N]) is read once
  per tile column instead of once per element.
- everything else (transposes, column broadcasts, more than 2 collapsed dims) stays on the N-d
  strided `map_kernel`.

A contiguous launch of one output and one or two inputs that was made before is repeated whole by its remembered
plan (`launch_planned`): the per-op cuda hot path of issue 21 part 3. `launch_dense` runs the same plans straight
from addresses, for a launch wrapper that declares its map op (`elementwise.runs_map`) and operands that a caller
knows are contiguous alike (ops/dispatch.launch_declared): no DeviceArrays at all.
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import launcher, tuning
from .device_array import DeviceArray, contiguous_strides
from .launch_spec import KernelSpec
from .launcher import FastJITFunction, fast_jit
from .launcher import enabled as launcher_enabled
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2


def _map_cost(numel: int, itemsizes: int) -> Cost:
    return Cost(float(numel) * itemsizes, float(numel))


# ---------------------------------------------------------------- the flat path
@triton.jit
def _flat_load(ptr, start, offs, numel, MASKED: tl.constexpr, SCALAR: tl.constexpr):
    # Masked lanes read 1, inside the domain of every OP (0 would be 0/0, log(0), ... in the interpreter).
    if SCALAR:
        # One element broadcast to the whole launch (x + 1.0, a fill): read once, splat in registers. A splat,
        # not x + 0: a fill reads its uninitialised output here, and arithmetic on a signalling-NaN pattern
        # raises in the interpreter.
        x = compute_type(tl.load(ptr))
        return tl.broadcast_to(x, offs.shape)
    elif MASKED:
        return compute_type(tl.load((ptr + start) + offs, mask=offs < numel, other=1.0))
    else:
        return compute_type(tl.load((ptr + start) + offs))


@triton.jit
def _flat_store(ptr, offs, value, numel, MASKED: tl.constexpr):
    if MASKED:
        tl.store(ptr + offs, cast_to(value, ptr.dtype.element_ty), mask=offs < numel)
    else:
        tl.store(ptr + offs, cast_to(value, ptr.dtype.element_ty))


@fast_jit
def flat_map_kernel(
    out0_ptr, out1_ptr,  # outputs (out1 unused when N_OUT == 1)
    in0_ptr, in1_ptr, in2_ptr,  # inputs (unused ones when N_IN < 3)
    numel,  # elements in this launch (read only when MASKED)
    p0, p1,  # scalar parameters of OP
    OP: tl.constexpr,  # @triton.jit fn(*inputs, p0, p1) -> value, or (value0, value1) when N_OUT == 2
    N_IN: tl.constexpr,  # inputs read: 1, 2 or 3
    N_OUT: tl.constexpr,  # outputs written: 1 or 2
    BLOCK: tl.constexpr,  # elements per program
    MASKED: tl.constexpr,  # False: the bulk (every program full); True: the tail (one program, < BLOCK)
    SCALARS: tl.constexpr = 0,  # bit i set: input i is one element broadcast to every position
):
    # The program's start moves the pointers as one int64 scalar, so tensors past 2**31 elements work
    # while the per-element offsets stay 32-bit; with no mask and no division the loads vectorise.
    start = tl.program_id(0).to(tl.int64) * BLOCK
    offs = tl.arange(0, BLOCK)
    x0 = _flat_load(in0_ptr, start, offs, numel, MASKED, SCALARS & 1)
    if N_IN == 1:
        result = OP(x0, p0, p1)
    elif N_IN == 2:
        result = OP(x0, _flat_load(in1_ptr, start, offs, numel, MASKED, SCALARS & 2), p0, p1)
    else:
        result = OP(x0, _flat_load(in1_ptr, start, offs, numel, MASKED, SCALARS & 2),
                    _flat_load(in2_ptr, start, offs, numel, MASKED, SCALARS & 4), p0, p1)
    if N_OUT == 1:
        _flat_store(out0_ptr + start, offs, result, numel, MASKED)
    else:
        _flat_store(out0_ptr + start, offs, result[0], numel, MASKED)
        _flat_store(out1_ptr + start, offs, result[1], numel, MASKED)


def _flat_heuristic(key: tuple) -> dict:
    # 8 elements per thread: two 128-bit accesses per operand for 32-bit types, one for 16-bit types
    # (which take 8 warps so that a program still covers 2048 elements); 16 when an operand is 1 byte
    # (bool, int8, uint8), so that it too moves 16 contiguous bytes (one 128-bit access); 4 for 64-bit
    # operands (two 128-bit accesses each: 8 spill fp64 div_floor and int64 div_trunc on sm_80).
    narrowest = key[2]
    if narrowest == 1:
        return dict(BLOCK=4096, num_warps=8, maxnreg=MAXNREG)
    if narrowest >= 8:
        return dict(BLOCK=512, num_warps=4, maxnreg=MAXNREG)
    return dict(BLOCK=2048, num_warps=8, maxnreg=MAXNREG) if narrowest == 2 else \
        dict(BLOCK=1024, num_warps=4, maxnreg=MAXNREG)


# Left to itself ptxas holds the flat kernel to 32-48 registers and spills a few bytes (fp32 sin/cos backward
# unaligned on sm_80: 32 + 4 B; where's backward with a bool operand at 16 elements a thread: 48 + 16 B); an
# explicit cap lets it take what each OP needs. 64 is too few for div_floor/remainder/pow's backward (they
# spill 16-344 B at 64); 128 compiles every flat build of every map op spill-free on sm_80 and sm_90.
MAXNREG = 128
# At most 8 elements per thread (fp64 asin spills beyond that) but for ops with a 1-byte operand
# (cheap: comparisons, bit ops, casts), the last config; 512 x 4 warps trades 128-bit fp16 accesses
# for twice the programs, which small tensors may prefer.
FLAT_TUNING = Tunable(
    "elementwise.map_flat",
    space=[dict(c, maxnreg=MAXNREG) for c in (dict(BLOCK=1024, num_warps=4), dict(BLOCK=2048, num_warps=8),
                                              dict(BLOCK=512, num_warps=4), dict(BLOCK=1024, num_warps=8),
                                              dict(BLOCK=4096, num_warps=8))],
    heuristic=_flat_heuristic,
    cost=_map_cost,
)


def flat_layout(shape: tuple, arrays: list[DeviceArray], n_outs: int) -> int | None:
    """The SCALARS bitmask of a flat launch, or None when there is none.

    Flat means: every array but the scalar inputs (one element broadcast: all strides 0) is dense (no
    gaps, no overlap) with the same strides, so element k of each in memory order is the same logical
    element, whatever the permutation.
    """
    dims = [d for d, n in enumerate(shape) if n != 1]  # a size-1 dim's stride is meaningless
    zero = (0,) * len(dims)
    layouts = [tuple(a.strides[d] for d in dims) for a in arrays]
    scalars = sum(1 << k for k, st in enumerate(layouts[n_outs:]) if st == zero and dims)
    strides = {st for k, st in enumerate(layouts) if k < n_outs or not scalars >> (k - n_outs) & 1}
    if len(strides) != 1:
        return None
    expected = 1
    for stride, size in sorted(zip(strides.pop(), (shape[d] for d in dims))):
        if stride != expected:
            return None
        expected *= size
    return scalars


def launch_flat(op, outs: list[DeviceArray], ins: list[DeviceArray], p0, p1, repeatable: bool,
                scalars: int = 0) -> None:
    """Run `op` over dense same-layout operands as one flat range; `scalars` from `flat_layout`."""
    numel = outs[0].numel()
    n_outs, n_ins = len(outs), len(ins)
    # The five pointer arguments in order: unused outputs/inputs repeat the first.
    padded = outs + outs[:1] * (2 - n_outs) + ins + ins[:1] * (3 - n_ins)
    direct = _direct_base(padded, p0, p1) if _DIRECT_ON and not scalars else None
    memo = (id(op), n_outs, n_ins, numel, direct[1]) if direct is not None else None
    tuned = _TUNING_KEYS.get(memo) if memo is not None else None
    if tuned is None or tuned[0] is not op:
        arrays = outs + ins
        itemsizes = [a.dtype.itemsize for a in arrays]
        # Scalar operands change the kernel variant but not which BLOCK/num_warps suits it: one tuning serves both.
        tuned = (op, (op.__name__, outs[0].dtype.name, min(itemsizes), next_pow2(numel)),
                 {"numel": numel, "itemsizes": sum(itemsizes)})
        if memo is not None:
            if len(_TUNING_KEYS) >= _DIRECT_MAX:
                _TUNING_KEYS.clear()
            _TUNING_KEYS[memo] = tuned
    # Which of the five is a scalar input (one element broadcast: it stays at that element).
    is_scalar = [k >= 2 and scalars >> (k - 2 if k - 2 < n_ins else 0) & 1 for k in range(5)] if scalars else None

    def run(config):
        block = config["BLOCK"]
        bulk = numel - numel % block
        # The constexprs, and as the direct key holds them: OP by identity (a JITFunction hashes by its source).
        constexprs = (op, n_ins, n_outs, scalars, config, (id(op), n_ins, n_outs, _config_key(config)))
        if bulk:
            _launch_range((bulk // block,), padded, is_scalar, direct, 0, bulk, p0, p1, False, constexprs)
        if bulk < numel:
            # The tail starts at a multiple of BLOCK, so its pointers keep the bulk's alignment.
            _launch_range((1,), padded, is_scalar, direct, bulk, numel - bulk, p0, p1, True, constexprs)

    tuning.launch(FLAT_TUNING, tuned[1], tuned[2], run, repeatable)


# ---------------------------------------------------------------- the direct launch of a remembered flat launch
# A flat launch's arguments are five pointers, numel and two scalars, so the facts Triton specialises on are cheap
# to state here: each pointer's dtype and 16-byte alignment, numel's and the scalars' kinds. Keyed by them (and the
# constexprs), the launcher's DirectLaunch repeats a remembered launch with plain addresses, skipping the views,
# the binder and its key (kernels/launcher.py); anything it cannot serve falls back to `flat_map_kernel[grid]`.
# Launches with scalar (broadcast) inputs keep Triton's path: they are not the per-op hot path.
_DIRECT_ON = isinstance(flat_map_kernel, FastJITFunction)  # interpreted kernels take arrays, not addresses
_DIRECT: dict = {}
# (id(OP), outputs, inputs, numel, the launch's facts) -> (OP, its tuning key, its sizes): the launch's tuning key
# without its per-call arithmetic (OP is held, so its id stays its own).
_TUNING_KEYS: dict = {}
_DIRECT_MAX = 4096  # remembered direct launches before the memo starts over (a bound on its memory)
_I32 = 2 ** 31


def _scalar_fact(value):
    """Triton's specialisation of a scalar argument, or None for one the direct path leaves to Triton."""
    kind = value.__class__
    if kind is float or kind is bool:
        return kind
    if kind is int and -_I32 <= value < _I32:
        return (value == 1) - (not value & 15)
    return None


def _direct_base(padded: list[DeviceArray], p0, p1):
    """(addresses, the launch's facts) of a flat launch with no scalar input, or None when it takes Triton's
    path (a scalar parameter the direct key does not cover)."""
    f0, f1 = _scalar_fact(p0), _scalar_fact(p1)
    if f0 is None or f1 is None:
        return None
    a, b, c, d, e = padded
    pa = a.data_ptr()
    pb = pa if b is a else b.data_ptr()
    pc = c.data_ptr()
    pd = pc if d is c else d.data_ptr()
    pe = pc if e is c else e.data_ptr()
    ptrs = [pa, pb, pc, pd, pe]
    # A range's start moves every pointer by a multiple of BLOCK elements (of 512 bytes at least): the same
    # alignment for the bulk and the tail.
    aligned = (not pa & 15, not pb & 15, not pc & 15, not pd & 15, not pe & 15)
    return ptrs, (a.dtype, b.dtype, c.dtype, d.dtype, e.dtype, aligned, f0, f1)


_CONFIG_KEYS: dict = {}  # id(config) -> (config, its items): the config is held, so its id stays its own


def _config_key(config: dict) -> tuple:
    found = _CONFIG_KEYS.get(id(config))
    if found is not None and found[0] is config:
        return found[1]
    if len(_CONFIG_KEYS) >= 256:
        _CONFIG_KEYS.clear()
    key = tuple(config.items())
    _CONFIG_KEYS[id(config)] = (config, key)
    return key


def _launch_range(grid, padded, is_scalar, direct, start, count, p0, p1, masked, constexprs) -> None:
    """One flat launch over elements [start, start + count) of every operand (a scalar input stays at its one
    element): directly when it was launched before with the same facts, else through `flat_map_kernel[grid]`.
    `constexprs`: (OP, N_IN, N_OUT, SCALARS, config, their direct key)."""
    key = launch = None
    if direct is not None and count < _I32:
        ptrs, facts = direct
        key = (constexprs[5], facts, masked, (count == 1) - (not count & 15))
        launch = _DIRECT.get(key)
        if launch is not None:
            if start:
                ptrs = [p + start * a.dtype.itemsize for p, a in zip(ptrs, padded)]
            if launch(grid, *ptrs, count, p0, p1):
                return
    args = [a.view_as((1,), (1,)) if is_scalar and is_scalar[k] else a.view_as((count,), (1,), a.offset + start)
            for k, a in enumerate(padded)]
    op, n_ins, n_outs, scalars, config, _ = constexprs
    kwargs = dict(MASKED=masked, OP=op, N_IN=n_ins, N_OUT=n_outs, SCALARS=scalars, **config)
    flat_map_kernel[grid](*args, count, p0, p1, **kwargs)
    if key is not None and (launch is None or launch.stale()):
        made = flat_map_kernel.direct((*args, count, p0, p1), kwargs)
        if made is not None:
            if len(_DIRECT) >= _DIRECT_MAX:
                _DIRECT.clear()
            _DIRECT[key] = made


# ---------------------------------------------------------------- the remembered plan of a whole dense launch
# An op of one output and one or two inputs, all contiguous (a model's everyday elementwise op), repeats the same
# launches call after call: same tuning key and config, same bulk/tail split, same direct launches. Keyed by what
# decides all of that (OP, the shape, the dtypes, which pointers are 16-byte aligned, the scalars' facts), a plan
# holds them; `launch_map` asks for a plan first and makes one after a launch that had none. A plan keeps two tokens,
# compared by identity on every call, that any change replaces: tuning's (its config still chosen, no observer, no
# dry run) and the launcher's (the cached path on, no launches forgotten). What no token states (Triton's knobs,
# hooks and globals, a patched `run`, the device) its first direct launch's `launch_state` reads, once for all of
# them. A plan refuses (its caller takes the general path, which decides afresh) whenever any of those changed.
# `launch_dense` builds the same key from addresses and a declared op's facts and runs the same checks (`_run_plan`).
_PLANS: dict = {}


class _Plan:
    __slots__ = ("op", "strides", "tuned", "launched", "first", "calls")

    def __init__(self, op, strides: tuple, tuned: object, launched: object, first, calls: tuple) -> None:
        self.op, self.strides, self.tuned, self.launched, self.first, self.calls = op, strides, tuned, launched, \
            first, calls


def launch_planned(op, outs: list[DeviceArray], ins: list[DeviceArray], p0, p1):
    """Launch `op` (as `launch_map` would) by its remembered plan: True when launched; else the plan key to
    `remember_plan` after the general path launched it (no plan yet, or a stale one), or None (no plan to make)."""
    if len(outs) != 1 or not _DIRECT_ON:
        return None
    f0, f1 = p0.__class__, p1.__class__
    if f0 is not float:
        f0 = _scalar_fact(p0)
    if f1 is not float:
        f1 = _scalar_fact(p1)
    if f0 is None or f1 is None:  # a scalar only Triton's binder specialises: never planned
        return None
    out = outs[0]
    strides = out.strides
    # The addresses, as DeviceArray.data_ptr makes them (inlined: this runs for every operand of every launch).
    po = out.storage.data_ptr() + out.offset * out.dtype.itemsize
    if len(ins) == 1:
        a = ins[0]
        if a.strides != strides:
            return None
        pa = pb = a.storage.data_ptr() + a.offset * a.dtype.itemsize
        key = (id(op), out.shape, out.dtype, a.dtype, (po & 15 and 1) | (pa & 15 and 2), f0, f1)
    elif len(ins) == 2:
        a, b = ins
        if a.strides != strides or b.strides != strides:
            return None
        pa = a.storage.data_ptr() + a.offset * a.dtype.itemsize
        pb = b.storage.data_ptr() + b.offset * b.dtype.itemsize
        key = (id(op), out.shape, out.dtype, a.dtype, b.dtype, (po & 15 and 1) | (pa & 15 and 2) | (pb & 15 and 4),
               f0, f1)
    else:
        return None
    return _run_plan(key, op, strides, po, pa, pb, p0, p1)


def _run_plan(key: tuple, op, strides: tuple, po: int, pa: int, pb: int, p0, p1):
    """Launch the plan of `key` on operands at these addresses with these (shared) strides: True when launched,
    else `launch_planned`'s key or None."""
    plan = _PLANS.get(key)
    if plan is None or plan.op is not op:
        # With the cached path off nothing is remembered to make a plan of: no key, no futile remember_plan.
        return key if launcher_enabled() else None
    if strides is not plan.strides and strides != plan.strides:  # not contiguous: the general path finds the layout
        return None
    if plan.tuned is not tuning.epoch_token or plan.launched is not launcher.epoch_token:
        # Another config may be chosen, an observer or a dry run came, the path was turned off or a kernel forgot its
        # launches: the general path decides afresh, and the plan is made again from what it remembered.
        return key if launcher_enabled() else None
    ready = plan.first.launch_state()
    if ready is None:
        return None
    stream, enter, leave = ready
    for launch, grid, function, packed, count, oo, oa, ob, tail in plan.calls:
        launch(grid, 1, 1, stream, function, packed, None, enter, leave, po + oo, po + oo, pa + oa, pb + ob,
               pa + oa, count, p0, p1, *tail)
    return True


def plan_fact(value) -> type | int | None:
    """What a plan's key holds of a scalar parameter (as `launch_planned` states it), or None for a scalar that
    only Triton's binder specialises (never planned)."""
    return float if value.__class__ is float else _scalar_fact(value)


def launch_dense(declared: tuple, shape: tuple, strides: tuple, dtype, out: int, a: int, b: int | None = None) -> bool:
    """Launch a declared map op by its plan straight from addresses: `declared` is a launch wrapper's `map_op`
    (elementwise.runs_map: OP, p0, p1 and their `plan_fact`s); `out`, `a` (and `b`) the addresses of a fresh output
    and its one or two inputs, all of `shape`, `strides` and `dtype`. The plan and its checks are
    `launch_planned`'s, for the DeviceArrays these operands would make; True when launched. False (nothing launched)
    when there is no plan to run (none made yet, a stale one, strides not the plan's): the caller then calls the
    wrapper, whose general launch decides afresh and makes the plan for the next call."""
    op, p0, p1, f0, f1 = declared
    if not _DIRECT_ON or f0 is None or f1 is None:
        return False
    if b is None:  # a unary op: the plan passes its input twice, as launch_planned does
        key = (id(op), shape, dtype, dtype, (out & 15 and 1) | (a & 15 and 2), f0, f1)
        return _run_plan(key, op, strides, out, a, a, p0, p1) is True
    key = (id(op), shape, dtype, dtype, dtype, (out & 15 and 1) | (a & 15 and 2) | (b & 15 and 4), f0, f1)
    return _run_plan(key, op, strides, out, a, b, p0, p1) is True


def remember_plan(key: tuple, op, outs: list[DeviceArray], ins: list[DeviceArray], p0, p1) -> None:
    """Make the plan of `key` from what the general path just remembered of the same launch (its tuning key
    and config, its direct launches); none when the launch was not flat or is not remembered whole, or while
    launches do more than run (observers, a dry run) or the cached path is off."""
    tuned = tuning.epoch()
    if tuned is None or not launcher_enabled():
        return
    launched = launcher.epoch_token
    out = outs[0]
    shape, strides = out.shape, out.strides
    numel = out.numel()
    if not numel or strides != contiguous_strides(shape):
        return
    padded = outs * 2 + ins + ins[:1] * (3 - len(ins))
    direct = _direct_base(padded, p0, p1)
    if direct is None:
        return
    facts = direct[1]
    memoed = _TUNING_KEYS.get((id(op), 1, len(ins), numel, facts))
    if memoed is None or memoed[0] is not op:
        return
    config = tuning.remembered((id(FLAT_TUNING), memoed[1]))
    if config is None:
        return
    block = config["BLOCK"]
    bulk = numel - numel % block
    constexprs = (id(op), len(ins), 1, _config_key(config))
    directs, calls = [], []
    arrays = [out, *ins, ins[-1]]  # out, then the two inputs as the plan passes them (a unary op's twice)
    for start, count, masked, grid in ((0, bulk, False, bulk // block), (bulk, numel - bulk, True, 1)):
        if not count:
            continue
        launch = _DIRECT.get((constexprs, facts, masked, (count == 1) - (not count & 15)))
        if count >= _I32 or launch is None or launch.stale():
            return
        offsets = [start * a.dtype.itemsize for a in arrays[:3]]
        directs.append(launch)
        calls.append((launch.launch, grid, launch.function, launch.packed, count, *offsets, launch.tail))
    if len(_PLANS) >= _DIRECT_MAX:
        _PLANS.clear()
    _PLANS[key] = _Plan(op, strides, tuned, launched, directs[0], tuple(calls))


def flat_signature(dtype: str) -> dict[str, str]:
    """flat_map_kernel's runtime arguments, every operand of `dtype`."""
    sig = {name: f"*{dtype}" for name in ("out0_ptr", "out1_ptr", "in0_ptr", "in1_ptr", "in2_ptr")}
    sig.update(numel="i32", p0="fp32", p1="fp32")
    return sig


_ITEMSIZES = {"i1": 1, "u1": 1, "i8": 1, "u8": 1, "i16": 2, "fp16": 2, "bf16": 2, "i32": 4, "fp32": 4, "i64": 8,
              "fp64": 8}


def flat_twin(spec: KernelSpec) -> KernelSpec:
    """The flat bulk build of a strided `map_kernel` spec: same OP, operand types and scalars.

    A dense launch of any map op runs flat_map_kernel, not the strided kernel its module declares, so
    the AOT matrix compiles this twin too (autotune.registry adds one per map spec)."""
    c = spec.constexprs
    used = [f"out{k}_ptr" for k in range(c["N_OUT"])] + [f"in{k}_ptr" for k in range(c["N_IN"])]
    pointers = {name: spec.signature[name] for name in ("out0_ptr", "out1_ptr", "in0_ptr", "in1_ptr", "in2_ptr")}
    sig = {**pointers, "numel": "i32", **{p: spec.signature[p] for p in ("p0", "p1") if p in spec.signature}}
    narrowest = min(_ITEMSIZES[pointers[name].lstrip("*")] for name in used)
    space = FLAT_TUNING.all_configs()
    return KernelSpec(spec.name[:-1] + ":flat]", flat_map_kernel, sig, {**c, "MASKED": False, "SCALARS": 0},
                      [FLAT_TUNING.heuristic(("", "", narrowest, 0))], space if narrowest == 1 else space[:4])


# ---------------------------------------------------------------- the row path
@triton.jit
def _row_load(ptr, rows, cols, pitch, M, N, ROW_VECTOR: tl.constexpr, BLOCK_M: tl.constexpr,
              BLOCK_N: tl.constexpr):
    if ROW_VECTOR:
        # The same columns for every row, loaded in the tile's own shape: a 1-D load broadcast in
        # registers would get another layout and cost a shared-memory round trip to convert.
        offs = tl.broadcast_to(cols[None, :], (BLOCK_M, BLOCK_N))
        return compute_type(tl.load(ptr + offs, mask=offs < N, other=1.0))
    else:
        mask = (rows < M)[:, None] & (cols < N)[None, :]
        offs = (rows.to(tl.int64) * pitch)[:, None] + cols[None, :]
        return compute_type(tl.load(ptr + offs, mask=mask, other=1.0))


@triton.jit
def _row_store(ptr, rows, cols, pitch, value, M, N):
    mask = (rows < M)[:, None] & (cols < N)[None, :]
    offs = (rows.to(tl.int64) * pitch)[:, None] + cols[None, :]
    tl.store(ptr + offs, cast_to(value, ptr.dtype.element_ty), mask=mask)


@fast_jit
def row_map_kernel(
    out0_ptr, out1_ptr,  # outputs (out1 unused when N_OUT == 1)
    in0_ptr, in1_ptr, in2_ptr,  # inputs (unused ones when N_IN < 3)
    M, N,  # rows, columns (every operand has unit column stride)
    o0_pitch, o1_pitch,  # outputs' row strides, in elements
    i0_pitch, i1_pitch, i2_pitch,  # inputs' row strides (ignored for ROW_VECTORS inputs)
    p0, p1,  # scalar parameters of OP
    OP: tl.constexpr,  # as in flat_map_kernel
    N_IN: tl.constexpr,  # inputs read: 1, 2 or 3
    N_OUT: tl.constexpr,  # outputs written: 1 or 2
    ROW_VECTORS: tl.constexpr,  # bit i set: input i is one row broadcast to every row (row stride 0)
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_N: tl.constexpr,  # columns per program
):
    # Row tiles on the grid's x axis (up to 2**31 - 1 programs), column tiles on y (65535 at most:
    # row_layout bounds N): no division at all, not even per program.
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    x0 = _row_load(in0_ptr, rows, cols, i0_pitch, M, N, ROW_VECTORS & 1, BLOCK_M, BLOCK_N)
    if N_IN == 1:
        result = OP(x0, p0, p1)
    elif N_IN == 2:
        x1 = _row_load(in1_ptr, rows, cols, i1_pitch, M, N, ROW_VECTORS & 2, BLOCK_M, BLOCK_N)
        result = OP(x0, x1, p0, p1)
    else:
        x1 = _row_load(in1_ptr, rows, cols, i1_pitch, M, N, ROW_VECTORS & 2, BLOCK_M, BLOCK_N)
        x2 = _row_load(in2_ptr, rows, cols, i2_pitch, M, N, ROW_VECTORS & 4, BLOCK_M, BLOCK_N)
        result = OP(x0, x1, x2, p0, p1)
    if N_OUT == 1:
        _row_store(out0_ptr, rows, cols, o0_pitch, result, M, N)
    else:
        _row_store(out0_ptr, rows, cols, o0_pitch, result[0], M, N)
        _row_store(out1_ptr, rows, cols, o1_pitch, result[1], M, N)


MAX_ROW_N = 1 << 23  # 256-wide column tiles: at most 2**15 on the grid's y axis (its limit is 65535)
_ROW_TILES = ((1024, 4), (2048, 8), (2048, 4), (4096, 8))  # (elements per program, warps): <= 16 per thread


def _row_config(n_bucket: int, tile: int, warps: int) -> dict:
    # Columns up to 256 wide, so a tile spans >= 4 rows and a row vector's load serves them all.
    block_n = min(n_bucket, 256)
    return dict(BLOCK_M=max(1, tile // block_n), BLOCK_N=block_n, num_warps=warps)


def _row_space(key: tuple, space: str) -> list[dict]:
    tiles = _ROW_TILES if space == "max" else _ROW_TILES[:2] + _ROW_TILES[3:] * (key[2] == 1)
    return [_row_config(key[-1], tile, warps) for tile, warps in tiles]


def _row_heuristic(key: tuple) -> dict:
    # 8 elements per thread, as the flat path: 128-bit accesses for 16- and 32-bit types when N allows;
    # 16 when an operand is 1 byte, so that it too moves 16 contiguous bytes per thread.
    return _row_config(key[-1], *_ROW_TILES[3 if key[2] == 1 else 1 if key[2] == 2 else 0])


ROW_TUNING = Tunable("elementwise.map_rows", space=_row_space, heuristic=_row_heuristic, cost=_map_cost)
ROW_SPACE_N = 4096  # the column bucket the KernelSpecs compile (a transformer's hidden size)


def row_layout(cshape: tuple, cstrides: list[tuple], n_outs: int) -> bool:
    """True for a collapsed 2-D launch whose operands all have unit column stride (an input's row
    pitch is free, 0 for a row vector) and whose outputs' rows do not overlap."""
    return (len(cshape) == 2 and cshape[1] <= MAX_ROW_N and all(s[1] == 1 for s in cstrides)
            and all(s[0] >= cshape[1] for s in cstrides[:n_outs]))


def launch_rows(op, outs: list[DeviceArray], ins: list[DeviceArray], cshape: tuple, cstrides: list[tuple],
                p0, p1, repeatable: bool) -> None:
    """Run `op` over a collapsed (M, N) launch (see `row_layout`); `cstrides` per out, then per input."""
    M, N = cshape
    arrays = outs + ins
    views = [a.view_as(cshape, s) for a, s in zip(arrays, cstrides)]
    pitches = [s[0] for s in cstrides]
    o, i = views[: len(outs)], views[len(outs):]
    o_all, i_all = o + [o[0]] * (2 - len(o)), i + [i[0]] * (3 - len(i))
    o_pitch = pitches[: len(outs)] + pitches[:1] * (2 - len(outs))
    i_pitch = pitches[len(outs):] + pitches[len(outs):len(outs) + 1] * (3 - len(ins))
    row_vectors = sum(1 << k for k, p in enumerate(pitches[len(outs):]) if p == 0)

    def run(config):
        grid = (triton.cdiv(M, config["BLOCK_M"]), triton.cdiv(N, config["BLOCK_N"]))
        row_map_kernel[grid](*o_all, *i_all, M, N, *o_pitch, *i_pitch, p0, p1, OP=op, N_IN=len(ins),
                             N_OUT=len(outs), ROW_VECTORS=row_vectors, **config)

    narrowest = min(a.dtype.itemsize for a in arrays)
    key = (op.__name__, outs[0].dtype.name, narrowest, row_vectors, next_pow2(M), next_pow2(N))
    sizes = dict(numel=M * N, itemsizes=sum(a.dtype.itemsize for a in arrays))
    tuning.launch(ROW_TUNING, key, sizes, run, repeatable)


def row_signature(dtype: str) -> dict[str, str]:
    """row_map_kernel's runtime arguments, every operand of `dtype`."""
    sig = {name: f"*{dtype}" for name in ("out0_ptr", "out1_ptr", "in0_ptr", "in1_ptr", "in2_ptr")}
    sig.update({name: "i32" for name in ("M", "N", "o0_pitch", "o1_pitch", "i0_pitch", "i1_pitch", "i2_pitch")})
    sig.update(p0="fp32", p1="fp32")
    return sig


def row_heuristic_config(dtype_itemsize: int) -> dict:
    """The row heuristic's config for an ROW_SPACE_N-column launch (what CI compiles)."""
    return _row_heuristic(("", "", dtype_itemsize, 0, 0, ROW_SPACE_N))


def row_space_configs() -> list[dict]:
    """The row space for ROW_SPACE_N columns (what `--full` compiles)."""
    return _row_space(("", "", 4, 0, 0, ROW_SPACE_N), "max")
