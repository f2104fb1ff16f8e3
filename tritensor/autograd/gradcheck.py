"""gradcheck / gradgradcheck: analytic gradients against central finite differences (float64, cpu)."""

from __future__ import annotations

import numpy as np


def _inputs_needing_grad(inputs) -> list:
    return [i for i, x in enumerate(inputs) if getattr(x, "requires_grad", False)]


def _numerical_jacobian(fn, inputs, index: int, eps: float) -> np.ndarray:
    """d(flattened outputs)/d(flattened inputs[index]) by central differences."""
    from ..tensor import Tensor

    x = inputs[index]
    base = x.detach().cpu()._host().astype(np.float64)
    flat = base.reshape(-1)
    cols = []
    for k in range(flat.size):
        values = []
        for sign in (1, -1):
            perturbed = flat.copy()
            perturbed[k] += sign * eps
            args = list(inputs)
            args[index] = Tensor._wrap(perturbed.reshape(base.shape).astype(x.dtype.np)).to(x.device)
            args[index].requires_grad_(x.requires_grad)
            out = fn(*args)
            outs = out if isinstance(out, tuple) else (out,)
            values.append(np.concatenate([o.detach().cpu()._host().astype(np.float64).reshape(-1)
                                          for o in outs if o.dtype.is_floating_point]))
        cols.append((values[0] - values[1]) / (2 * eps))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def _analytic_jacobian(fn, inputs, indices: list) -> list[np.ndarray]:
    from .. import autograd
    from ..creation import zeros_like

    out = fn(*inputs)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.dtype.is_floating_point]
    rows = {i: [] for i in indices}
    for j, o in enumerate(outs):
        for k in range(o.numel()):
            grad_outputs = [zeros_like(p) for p in outs]
            grad_outputs[j].view(-1)[k] = 1.0
            grads = autograd.grad(outs, [inputs[i] for i in indices], grad_outputs, retain_graph=True,
                                  allow_unused=True)
            for i, g in zip(indices, grads):
                n = inputs[i].numel()
                rows[i].append(np.zeros(n) if g is None else g.detach().cpu()._host().astype(np.float64).reshape(-1))
    return [np.stack(rows[i]) if rows[i] else np.zeros((0, inputs[i].numel())) for i in indices]


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **_ignored) -> bool:
    """True when the autograd Jacobian of func matches central differences for every input requiring grad."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    indices = _inputs_needing_grad(inputs)
    for i in indices:
        if inputs[i].dtype.name != "float64":
            import warnings

            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. "
                          "gradcheck is meant for float64 inputs.", stacklevel=2)
    analytic = _analytic_jacobian(func, inputs, indices)
    for i, a in zip(indices, analytic):
        numerical = _numerical_jacobian(func, inputs, i, eps).reshape(a.shape)
        if not np.allclose(a, numerical, atol=atol, rtol=rtol):
            if raise_exception:
                raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                     f"numerical:{numerical}\nanalytical:{a}\n")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, **_ignored) -> bool:
    """gradcheck of the function inputs -> d(func·v)/d(inputs), with create_graph=True (second derivatives)."""
    from .. import autograd
    from ..creation import randn

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    indices = _inputs_needing_grad(inputs)
    out = func(*inputs)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.dtype.is_floating_point]
    if grad_outputs is None:
        grad_outputs = [randn(*o.shape, dtype=o.dtype, device=o.device) for o in outs]

    def first_grads(*args):
        o = func(*args)
        o = [t for t in (o if isinstance(o, tuple) else (o,)) if t.dtype.is_floating_point]
        grads = autograd.grad(o, [args[i] for i in indices], grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)


class GradcheckError(RuntimeError):
    pass
