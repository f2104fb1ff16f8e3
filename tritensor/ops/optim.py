"""The fused optimizer step over kernels/optim_multi.py: the one entry point tritensor.optim's
elementwise optimizers call, with all parameters of a group at once.

On cpu each parameter is updated by its rule's NumPy reference. On cuda the parameters are bucketed
by (parameter dtype, gradient dtype) and each bucket is ONE launch of the multi-tensor step kernel:
its table of addresses (parameters, gradients, states) is cached by those addresses, so a training
loop whose gradients keep their memory uploads it once, and only the per-tensor scalars (lr, bias
corrections) travel each step. Every updated tensor's version is bumped (a graph that saved the old
parameter then refuses to backward, as in PyTorch).

PyTorch has no public name for this, so nothing here is a tt.* name.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from .. import dtypes as D
from ..autograd.grad_mode import no_grad
from ..kernels import optim_adam as KA
from ..kernels import optim_multi as K
from ..kernels.device_array import DeviceArray
from ..tensor import Tensor

__all__: list[str] = []

_TABLES: OrderedDict = OrderedDict()
# Rules whose cpu reference has a form taking several parameters that share one row of scalars (same values, fewer
# NumPy calls): rule name -> (params, grads, states, row, flags) -> None, over lists of host arrays.
_HOST_BATCHED = {"adam": KA.adam_batch_ref}
_TABLE_CACHE_SIZE = 16


def _check(rule: K.StepRule, params: list[Tensor], grads: list[Tensor], states: list[list[Tensor]],
           scalars: Sequence[Sequence[float]]) -> int:
    """Validate the lists before anything is updated; returns the state count of the call."""
    if not (len(grads) == len(states) == len(scalars) == len(params)):
        raise ValueError(f"fused step {rule.name!r}: {len(params)} parameters but {len(grads)} gradients, "
                         f"{len(states)} state lists and {len(scalars)} scalar rows")
    n_state = len(states[0]) if states else 0
    if n_state > rule.n_state:
        raise ValueError(f"fused step {rule.name!r} takes at most {rule.n_state} state tensors, got {n_state}")
    n_scalars = K.N_SCALARS
    for p, g, st, c in zip(params, grads, states, scalars):
        device, shape, dtype = p.device, p._shape, p.dtype
        if g.device is not device and g.device != device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{device} and {g.device}! (parameter and its .grad)")
        if g._shape != shape:
            raise RuntimeError(f"parameter of shape {list(shape)} has a gradient of shape {list(g._shape)}")
        if not dtype.is_floating_point or not g.dtype.is_floating_point:
            raise RuntimeError(f"optimizers update floating point tensors; got a {dtype.name} parameter with a "
                               f"{g.dtype.name} gradient")
        if len(st) != n_state:
            raise ValueError(f"fused step {rule.name!r}: every parameter of one call has {n_state} state tensors")
        for s in st:
            if (s.device is not device and s.device != device) or s._shape != shape or s.dtype is not dtype:
                raise RuntimeError(f"optimizer state of shape {list(s._shape)}, {s.dtype.name} on {s.device} does "
                                   f"not match its parameter ({list(shape)}, {dtype.name} on {device})")
        if len(c) > n_scalars:
            raise ValueError(f"fused step {rule.name!r}: at most {n_scalars} scalars per parameter")
    return n_state


# FLAGS masks by (rule name, the flags' items), for flags that are all Python bools: an optimizer passes the
# same few flag dicts every step, and flag_bits' set comparison cost as much as a small parameter's update.
_BITS: dict = {}
_BITS_CACHE_SIZE = 64


def _flag_bits(rule: K.StepRule, name: str, flags: dict[str, bool]) -> int:
    key = (name, tuple(flags.items()))
    try:
        return _BITS[key]
    except (KeyError, TypeError):  # TypeError: an unhashable flag value, computed (and checked) every time
        pass
    bits = K.flag_bits(rule, flags)
    if len(_BITS) < _BITS_CACHE_SIZE and all(v is True or v is False for v in flags.values()):
        _BITS[key] = bits
    return bits


def fused_step_(rule: str, params: list[Tensor], grads: list[Tensor], states: list[list[Tensor]],
                scalars: Sequence[Sequence[float]], flags: dict[str, bool]) -> None:
    """Update every parameter (and its state tensors) in place by the step rule called `rule`.

    grads[i] is params[i]'s gradient (same shape and device, any float dtype); states[i] its state tensors
    (the parameter's shape, dtype and device; the same count for every parameter); scalars[i] its per-tensor
    scalars (at most 8, Python floats); flags: the rule's named flags. One kernel launch per (parameter
    dtype, gradient dtype) on cuda; the rule's NumPy reference per parameter on cpu.
    """
    step_rule = K.step_rule(rule)
    bits = _flag_bits(step_rule, rule, flags)
    n_state = _check(step_rule, params, grads, states, scalars)
    # The cpu references run on NumPy arrays (nothing for autograd to record): no_grad only around launches.
    ref = step_rule.ref
    batched = _HOST_BATCHED.get(step_rule.name)
    buckets: dict | None = None
    last = row = None
    run: list | None = None  # with a batched reference: the cpu parameters so far that share `row`
    for p, g, st, c in zip(params, grads, states, scalars):
        if p.device.type == "cpu":
            if c is not last:  # an optimizer usually passes one row object for a whole group
                if run:
                    batched(*run, row, bits)
                last, row = c, _row(c)
                run = None if batched is None else ([], [], [])
            host = (p._np if p._np is not None else p._host(), g._np if g._np is not None else g._host(),
                    [s._np if s._np is not None else s._host() for s in st])
            if run is None:
                ref(*host, row, bits)
            else:
                for column, a in zip(run, host):
                    column.append(a)
        else:
            if buckets is None:
                buckets = {}
            buckets.setdefault((p.device, p.dtype, g.dtype), []).append((p, g, st, c))
    if run:
        batched(*run, row, bits)
    if buckets is not None:
        with no_grad():
            for members in buckets.values():
                _launch(step_rule, bits, n_state, *(list(col) for col in zip(*members)))
    for p, st in zip(params, states):  # (Tensor._bump_version, inlined: three per parameter per step)
        (p._storage or p._get_storage()).version += 1
        for s in st:
            (s._storage or s._get_storage()).version += 1


def step_counts_(steps: list[Tensor]) -> list[float]:
    """Each optimizer step count (a scalar tensor, float32 in PyTorch's state) += 1 in place; the new counts.

    A cpu count that needs no grad is bumped in its own NumPy memory (a tensor op per parameter per step cost more
    than a small parameter's whole update): count + 1 is exact in a Python float for any float32 count below
    2**53, so the one rounding in `fill` is add_(1)'s rounding. Others take add_(1) and item()."""
    counts = []
    for step in steps:
        if step.device.type == "cpu" and not step._requires_grad:
            arr = step._np if step._np is not None else step._host()
            arr.fill(float(arr) + 1)
            counts.append(float(arr))
        else:
            step.add_(1)
            counts.append(step.item())
    return counts


def _row(c: Sequence[float]) -> tuple[float, ...]:
    return tuple(map(float, c)) + (0.0,) * (K.N_SCALARS - len(c))


def _launch(rule: K.StepRule, bits: int, n_state: int, params: list[Tensor], grads: list[Tensor],
            states: list[list[Tensor]], scalars: list[Sequence[float]]) -> None:
    """One kernel launch for one bucket; strided operands go through contiguous copies."""
    written = [p if p.is_contiguous() else p.detach().contiguous() for p in params]
    state_cols = [[st[j] for st in states] for j in range(n_state)]
    written_states = [[s if s.is_contiguous() else s.contiguous() for s in col] for col in state_cols]
    grads = [g if g.is_contiguous() else g.contiguous() for g in grads]
    table = _table(written, grads, written_states)
    ctype = np.float64 if params[0].dtype == D.float64 else np.float32
    host = np.array([_row(c) for c in scalars], dtype=ctype)
    scalar_dev = Tensor._from_host(host, params[0].device)
    K.multi_tensor_step(rule, bits, n_state, table, scalar_dev._dev())
    for original, copy in zip(params + [s for col in state_cols for s in col],
                              written + [s for col in written_states for s in col]):
        if copy is not original:
            original.copy_(copy)


def _table(params: list[Tensor], grads: list[Tensor], state_cols: list[list[Tensor]]) -> K.StepTable:
    """The device table of one bucket, cached by its addresses (the table Tensor stays alive in the cache)."""
    roles = [params, grads, *state_cols]
    addrs = np.array([[t._dev().data_ptr() for t in role] for role in roles], dtype=np.int64)
    sizes = [p.numel() for p in params]
    device, pdtype, gdtype = params[0].device, params[0].dtype, grads[0].dtype
    key = (device, pdtype, gdtype, addrs.tobytes(), tuple(sizes))
    hit = _TABLES.get(key)
    if hit is not None:
        _TABLES.move_to_end(key)
        return hit[1]
    host, chunk_len, chunks = K.host_table(addrs, sizes)
    memory = Tensor._from_host(host, device)
    dev = memory._dev()
    views, offset = [], dev.offset
    for n in (addrs.size, len(sizes), chunks, chunks):
        views.append(dev.view_as((n,), (1,), offset))
        offset += n
    # The kernel takes element types from pointers it never reads: the table's own memory, typed as the
    # parameters' and gradients' dtypes, so a cached table keeps no parameter alive.
    table = K.StepTable(*views, DeviceArray(dev.storage, 0, (1,), (1,), pdtype),
                        DeviceArray(dev.storage, 0, (1,), (1,), gdtype), len(params), int(sum(sizes)),
                        bool(np.all(addrs % 16 == 0)), chunk_len)
    _TABLES[key] = (memory, table)
    if len(_TABLES) > _TABLE_CACHE_SIZE:
        _TABLES.popitem(last=False)
    return table
