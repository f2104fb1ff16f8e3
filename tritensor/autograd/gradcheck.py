"""gradcheck / gradgradcheck: analytic gradients against central finite differences (float64, cpu).

Slow mode (the default, as in PyTorch) builds both full Jacobians, one block per (output, input):
one backward per element of each output (reverse mode cannot do better) and two forward calls per
element of each input, perturbed in place in the input's memory (no copy of the input per element).
`fast_mode=True` compares a single random projection v^T J u per (output, input) instead: one
backward per output and two forward calls per input.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..tensor import Tensor
from .differentiate import grad as autograd_grad


class GradcheckError(RuntimeError):
    """Raised by `gradcheck`/`gradgradcheck` when analytical and numerical gradients disagree."""


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def _float_outputs(out) -> list:
    """The outputs gradcheck differentiates: every floating-point tensor func returned."""
    return [o for o in _as_tuple(out) if _is_tensor(o) and o.dtype.is_floating_point]


def _to_np(t) -> np.ndarray:
    return np.array(t.detach()._to_host_array(), dtype=np.float64).reshape(-1)


def _tensor_like(values: np.ndarray, like):
    """values (float64 NumPy) as a tensor with like's shape, dtype and device."""
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    t = Tensor._wrap(np.array(values, dtype=like.dtype.np).reshape(like.shape))
    return t if like.device.type == "cpu" else t.to(like.device)


class _Perturb:
    """Writes into one input's memory element by element (host-backed tensors), or falls back to evaluating
    with a perturbed copy (tensors in device memory)."""

    def __init__(self, inputs: tuple, index: int):
        self.inputs = inputs
        self.index = index
        x = inputs[index]
        self.x = x
        host = x.detach()
        self.view = host._host() if (host._np is not None or host._get_storage().host is not None) else None
        self.base = self.view.copy() if self.view is not None else x.detach()._to_host_array().astype(np.float64)

    def evaluate(self, func, values: np.ndarray | None = None, flat_index: int | None = None, value=None) -> list:
        """func's flattened float outputs with input `index` set to `values` (whole) or one element changed."""
        args = list(self.inputs)
        if self.view is not None:
            if flat_index is not None:
                idx = np.unravel_index(flat_index, self.view.shape) if self.view.ndim else ()
                self.view[idx] = value
            else:
                self.view[...] = values.reshape(self.view.shape)
        else:
            full = self.base.astype(np.float64).reshape(-1).copy()
            if flat_index is not None:
                full[flat_index] = value
            else:
                full = values.reshape(-1)
            args[self.index] = _tensor_like(full, self.x).requires_grad_(self.x.requires_grad)
        try:
            return [_to_np(o) for o in _float_outputs(func(*args))]
        finally:
            if self.view is not None:
                self.view[...] = self.base


def _numerical_jacobian_blocks(func, inputs: tuple, index: int, n_outputs: list[int], eps: float) -> list:
    """[d(output j)/d(input index) for each float output j] by central differences, each (numel_j, numel_in)."""
    p = _Perturb(inputs, index)
    flat = p.base.reshape(-1)
    n_in = flat.size
    blocks = [np.zeros((n, n_in)) for n in n_outputs]
    for k in range(n_in):
        orig = flat[k]
        hi = p.evaluate(func, flat_index=k, value=orig + eps)
        lo = p.evaluate(func, flat_index=k, value=orig - eps)
        for j, (h, low) in enumerate(zip(hi, lo)):
            blocks[j][:, k] = (h - low) / (2 * eps)
    return blocks


def _vjp(outs: list, j: int, v, diff_inputs: list) -> list:
    """[v^T d(out_j)/d(input) for each differentiable input], as flat float64 arrays (zeros where unused)."""

    if not outs[j].requires_grad:
        return [np.zeros(x.numel()) for x in diff_inputs]
    grads = autograd_grad([outs[j]], diff_inputs, [v], retain_graph=True, allow_unused=True)
    rows = []
    for x, g in zip(diff_inputs, grads):
        if g is None:
            rows.append(np.zeros(x.numel()))
            continue
        if g._shape != x._shape:
            raise GradcheckError(f"Gradient has incorrect size: got {list(g._shape)} for an input of shape "
                                 f"{list(x._shape)}")
        if g.dtype is not x.dtype:
            raise GradcheckError(f"Gradient has dtype mismatch: got {g.dtype} for an input of dtype {x.dtype}")
        rows.append(_to_np(g))
    return rows


def _analytic_jacobian_blocks(outs: list, diff_inputs: list) -> list:
    """blocks[j][i] = d(out_j)/d(input i), one backward per output element."""
    blocks = []
    for j, o in enumerate(outs):
        n = o.numel()
        per_input = [np.zeros((n, x.numel())) for x in diff_inputs]
        onehot = np.zeros(n)
        for k in range(n):
            onehot[k] = 1.0
            rows = _vjp(outs, j, _tensor_like(onehot, o), diff_inputs)
            onehot[k] = 0.0
            for i, r in enumerate(rows):
                per_input[i][k] = r
        blocks.append(per_input)
    return blocks


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, fast_mode: bool = False, **_ignored) -> bool:
    """True when the autograd Jacobian of func matches central differences, for every floating-point output and
    every input that requires grad; otherwise raises GradcheckError (or returns False with
    raise_exception=False). Also checks that backward is reentrant (the same result twice, within nondet_tol)."""
    inputs = _as_tuple(inputs)
    indices = [i for i, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad]
    if not indices:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them "
                         "have requires_grad=True.")
    for i in indices:
        if inputs[i].dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. "
                          "gradcheck is meant for float64 inputs.", stacklevel=2)
    diff_inputs = [inputs[i] for i in indices]
    outs = _float_outputs(func(*inputs))
    if not outs:
        return _fail("gradcheck: the function returned no floating-point tensor to check", raise_exception)
    if fast_mode:
        return _fast_check(func, inputs, indices, outs, eps, atol, rtol, nondet_tol, raise_exception)

    analytic = _analytic_jacobian_blocks(outs, diff_inputs)
    analytic2 = _analytic_jacobian_blocks(outs, diff_inputs)
    n_outputs = [o.numel() for o in outs]
    for pos, i in enumerate(indices):
        numerical = _numerical_jacobian_blocks(func, inputs, i, n_outputs, eps)
        for j in range(len(outs)):
            a, n = analytic[j][pos], numerical[j]
            if not np.allclose(a, n, atol=atol, rtol=rtol):
                return _fail(f"Jacobian mismatch for output {j} with respect to input {i},\n"
                             f"numerical:{n}\nanalytical:{a}\n", raise_exception)
            if np.abs(a - analytic2[j][pos]).max(initial=0.0) > nondet_tol:
                return _fail(f"Backward is not reentrant, i.e., running backward with same input and grad_output "
                             f"multiple times gives different values, although analytical gradient matches "
                             f"numerical gradient. The tolerance for nondeterminism was {nondet_tol}.",
                             raise_exception)
    return True


def _fast_check(func, inputs, indices, outs, eps, atol, rtol, nondet_tol, raise_exception) -> bool:
    rng = np.random.default_rng(0)
    diff_inputs = [inputs[i] for i in indices]
    us = []
    for x in diff_inputs:
        u = rng.standard_normal(x.numel())
        us.append(u / max(np.linalg.norm(u), 1e-12))
    vs = [rng.standard_normal(o.numel()) for o in outs]
    for j, o in enumerate(outs):
        v = _tensor_like(vs[j], o)
        rows = _vjp(outs, j, v, diff_inputs)
        rows2 = _vjp(outs, j, v, diff_inputs)
        for pos, i in enumerate(indices):
            if np.abs(rows[pos] - rows2[pos]).max(initial=0.0) > nondet_tol:
                return _fail("Backward is not reentrant, i.e., running backward with same input and grad_output "
                             f"multiple times gives different values. The tolerance for nondeterminism was "
                             f"{nondet_tol}.", raise_exception)
            analytic = float(rows[pos] @ us[pos])
            p = _Perturb(inputs, i)
            base = p.base.reshape(-1)
            hi = p.evaluate(func, values=base + eps * us[pos])
            lo = p.evaluate(func, values=base - eps * us[pos])
            numerical = float(((hi[j] - lo[j]) / (2 * eps)) @ vs[j])
            if not np.isclose(analytic, numerical, atol=atol, rtol=rtol):
                return _fail(f"Jacobian mismatch for output {j} with respect to input {i},\n"
                             f"numerical:{numerical}\nanalytical:{analytic}\n(fast mode: v^T J u for random u, v; "
                             "run with fast_mode=False for the full Jacobians)\n", raise_exception)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, nondet_tol: float = 0.0, fast_mode: bool = False,
                  **_ignored) -> bool:
    """gradcheck of (inputs, v) -> v^T d(func)/d(inputs), computed with create_graph=True: second derivatives,
    including the derivative with respect to the incoming gradient v (random when grad_outputs is None)."""

    inputs = _as_tuple(inputs)
    indices = [i for i, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad]
    outs = _float_outputs(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(_tensor_like(rng.standard_normal(o.numel()), o).requires_grad_() for o in outs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outs):
        raise ValueError(f"gradgradcheck: got {len(grad_outputs)} grad_outputs for {len(outs)} floating-point "
                         "outputs")
    n_in = len(inputs)

    def first_grads(*args):
        ins, vs = args[:n_in], args[n_in:]
        os = _float_outputs(func(*ins))
        pairs = [(o, v) for o, v in zip(os, vs) if o.requires_grad]
        grads = autograd_grad([o for o, _ in pairs], [ins[i] for i in indices], [v for _, v in pairs],
                              create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_grads, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol, fast_mode=fast_mode)
