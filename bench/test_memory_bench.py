"""Host memory of one GPT training step on the cpu path (issue 21 part 5), against the hand-written NumPy step
of the same model (bench/numpy_gpt.py) in the same run.

- Peak: tracemalloc's peak during one step, above what was traced just before it (two steps run under
  tracing, the second measured, so the previous step's gradients being freed counts as the release it is).
  Both sides keep parameters and optimizer state from earlier steps; NumPy's gradients live in a preallocated
  flat buffer, tritensor's are freed by zero_grad() and allocated again by backward.
- Live after backward: what `loss.backward()` leaves alive beyond the parameters, their gradients, the
  optimizer's state, the buffers and the batch: Tensor objects (found through gc), NumPy arrays still held by
  the graph's nodes (saved state backward did not free: named by node class and attribute), the graph nodes
  themselves (alive while `loss` is, as in PyTorch) and the bytes still traced.

The figures go to benchmark.extra_info (and are printed with -s); the tests assert only sanity. The timings
these tests report are of steps run under tracemalloc, not speeds to compare (test_model_step_bench.py has those).

Run: python -m pytest bench/test_model_step_bench.py bench/test_memory_bench.py --benchmark-only
"""

from __future__ import annotations

import gc
import tracemalloc
import types

import numpy as np
from numpy_cnn import step_parts, tritensor_train_step
from numpy_gpt import numpy_twin_gpt

import tritensor as tt
from tritensor.benchmark.models import gpt_step
from tritensor.tensor import Tensor

_SCALARS = (int, float, str, bytes, bool, type(None), type, types.ModuleType, types.FunctionType,
            types.BuiltinFunctionType, types.MethodType)


def _gpt():
    model, optimizer, x, y = step_parts(gpt_step("cpu"))
    net = numpy_twin_gpt(model)
    xn, yn = x.numpy(), y.numpy()
    return (model, optimizer, x, y), tritensor_train_step(model, optimizer, x, y), lambda: net.step(xn, yn)


def step_peak(step) -> tuple[int, float]:
    """(peak bytes traced during one call of `step` above the traced bytes just before it, its result)."""
    gc.collect()
    tracemalloc.start()
    try:
        step()  # allocated under tracing, so this step's buffers count as freed when the next one drops them
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = step()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, result


def _known(model, optimizer, *tensors) -> set[int]:
    """ids of the tensors (and their host arrays) a step keeps by design: parameters, gradients, buffers,
    optimizer state, the batch."""
    keep = list(tensors) + list(model.parameters()) + [p.grad for p in model.parameters()] + list(model.buffers())
    keep += [v for state in optimizer.state.values() for v in state.values() if isinstance(v, Tensor)]
    ids = {id(t) for t in keep if t is not None}
    ids |= {id(t._np) for t in keep if isinstance(t, Tensor) and t._np is not None}
    base = [t._base for t in tensors if getattr(t, "_base", None) is not None]
    return ids | {id(b) for b in base} | {id(b._np) for b in base if b._np is not None}


def _graph_arrays(root, known: set[int]) -> tuple[list[str], int, int]:
    """The NumPy arrays reachable from graph node `root` (named holder.attribute), their bytes, and the number
    of graph node objects (autograd Functions) alive."""
    seen, stack, held, nbytes, nodes = set(), [(root, "")], [], 0, 0
    while stack:
        obj, where = stack.pop()
        if id(obj) in seen or id(obj) in known or isinstance(obj, _SCALARS):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            held.append(f"{where} {obj.shape} {obj.dtype}")
            nbytes += obj.nbytes
            continue
        if isinstance(obj, tt.autograd.Function):
            nodes += 1
            stack.extend((v, f"{type(obj).__name__}.{k}") for k, v in vars(obj).items())
            stack.extend((n, "") for n, _ in obj.next_functions)
            continue
        stack.extend((r, where) for r in gc.get_referents(obj))
    return held, nbytes, nodes


def live_after_backward(model, optimizer, x, y) -> dict:
    """What a step's forward + backward leaves alive once loss.backward() returns (see the module doc)."""
    optimizer.zero_grad()
    gc.collect()
    tracemalloc.start()
    try:
        out = model(x)
        loss = tt.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        del out
        loss.backward()
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    grad_bytes = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    known = _known(model, optimizer, x, y, loss)
    tensors = [t for t in gc.get_objects() if isinstance(t, Tensor) and id(t) not in known]
    held, nbytes, nodes = _graph_arrays(loss.grad_fn, known)
    return {"live_tensors": len(tensors), "live_tensor_shapes": [str(tuple(t.shape)) for t in tensors],
            "graph_arrays": len(held), "graph_array_bytes": nbytes, "graph_arrays_held_by": held,
            "graph_nodes_alive": nodes, "traced_bytes_beyond_grads": traced - grad_bytes}


def test_gpt_step_peak_memory_numpy(benchmark):
    benchmark.group = "gpt-step-memory"
    _, _, numpy_step = _gpt()
    peak, loss = benchmark.pedantic(step_peak, args=(numpy_step,), rounds=3, iterations=1)
    benchmark.extra_info["peak_bytes"] = peak
    assert peak > 0 and np.isfinite(loss)


def test_gpt_step_peak_memory_tritensor(benchmark):
    benchmark.group = "gpt-step-memory"
    parts, tt_step, numpy_step = _gpt()
    numpy_peak, numpy_loss = step_peak(numpy_step)
    _, loss = step_peak(tt_step)
    np.testing.assert_allclose(loss, numpy_loss, rtol=1e-4)  # the same two steps on the same weights
    peak, _ = benchmark.pedantic(step_peak, args=(tt_step,), rounds=3, iterations=1)
    benchmark.extra_info.update({"peak_bytes": peak, "numpy_peak_bytes": numpy_peak,
                                 "ratio": round(peak / numpy_peak, 2)})
    print(f"\ngpt-step peak memory: {benchmark.extra_info}")
    assert peak > 0 and numpy_peak > 0


def test_gpt_live_buffers_after_backward(benchmark):
    benchmark.group = "gpt-live-after-backward"
    (model, optimizer, x, y), tt_step, _ = _gpt()
    tt_step()  # optimizer state exists, as in a running training loop
    figures = benchmark.pedantic(live_after_backward, args=(model, optimizer, x, y), rounds=3, iterations=1)
    benchmark.extra_info.update(figures)
    print(f"\ngpt live after backward: {figures}")
    assert figures["graph_nodes_alive"] > 0  # the graph's structure stays while loss lives
    assert figures["live_tensors"] >= 0 and figures["graph_arrays"] >= 0
    assert all(p.grad is not None for p in model.parameters())
