"""L-BFGS (PyTorch's torch.optim.LBFGS): the two-loop recursion over a limited history, with a fixed step
or a strong-Wolfe line search (cubic interpolation, as minFunc / torch/optim's lswolfe).

All parameters form one flat vector (gradients gathered with `cat`, updates applied through views), so the
algorithm runs on tensor ops and works on cpu and cuda alike. The scalars PyTorch keeps as 0-d tensors
(directional derivatives, `ro`, `H_diag`, the line-search step) are 0-d tensors here as well, on the
parameters' device and in their dtype, so float32 runs round as PyTorch's do and state_dict() maps 1:1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import no_grad
from ..creation import zeros
from ..ops.shape import cat
from ..tensor import Tensor
from .optimizer import Optimizer


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2), clamped to `bounds`
    (default: the interval between x1 and x2); the interval's midpoint when the cubic has no real minimiser."""
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc >= 0:
        d2 = disc.sqrt()
        if x1 <= x2:
            pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(pos, lo), hi)
    return (lo + hi) / 2.0


class _Bracket:
    """The line search's interval: step sizes, losses, gradients and directional derivatives at its ends."""

    def __init__(self, t, f, g, gtd) -> None:
        self.t, self.f, self.g, self.gtd = t, f, g, gtd

    def low_high(self) -> tuple[int, int]:
        """(index of the lower-loss end, index of the other)."""
        return (0, 1) if self.f[0] <= self.f[-1] else (1, 0)

    def set(self, i: int, t, f, g, gtd) -> None:
        """End i becomes the point (t, f, g, gtd)."""
        self.t[i], self.f[i], self.g[i], self.gtd[i] = t, f, g, gtd


def _bracket_phase(obj_func, x, t, d, f, g, gtd, c1, c2, max_ls):
    """Grow the step until an interval holding a strong-Wolfe point is found (or one such point).

    Returns (bracket, done: the bracket is that one point, iterations, evaluations)."""
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            return _Bracket([t_prev, t], [f_prev, f_new], [g_prev, g_new.clone()], [gtd_prev, gtd_new]), \
                False, ls_iter, evals
        if abs(gtd_new) <= -c2 * gtd:
            return _Bracket([t], [f_new], [g_new], [gtd_new]), True, ls_iter, evals
        if gtd_new >= 0:
            return _Bracket([t_prev, t], [f_prev, f_new], [g_prev, g_new.clone()], [gtd_prev, gtd_new]), \
                False, ls_iter, evals
        # extrapolate: the cubic's minimiser, kept within [t + 0.01 (t - t_prev), 10 t]
        t_next = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                    bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.clone(), gtd_new
        t = t_next
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    # out of evaluations: the interval from the start to the last trial (its slopes are never needed: the
    # zoom below does not run once ls_iter == max_ls)
    return _Bracket([0, t], [f, f_new], [g, g_new], [None, None]), False, ls_iter, evals


def _zoom_trial(br: _Bracket, insuf_progress: bool):
    """The next trial step inside the bracket, moved 10% of its length away from an end it sits too close to."""
    t = _cubic_interpolate(br.t[0], br.f[0], br.gtd[0], br.t[1], br.f[1], br.gtd[1])
    hi, lo = max(br.t), min(br.t)
    eps = 0.1 * (hi - lo)
    if min(hi - t, t - lo) < eps:
        if insuf_progress or t >= hi or t <= lo:
            t = hi - eps if abs(t - hi) < abs(t - lo) else lo + eps
            return t, False
        return t, True
    return t, False


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """PyTorch's strong-Wolfe line search along d from the parameters x (loss f, gradient g, g.d = gtd),
    starting at step t; at most max_ls iterations. Returns (loss, flat gradient, step, evaluations)."""
    d_norm = d.abs().max()
    g = g.clone()
    br, done, ls_iter, evals = _bracket_phase(obj_func, x, t, d, f, g, gtd, c1, c2, max_ls)
    insuf_progress = False
    low, high = br.low_high()
    while not done and ls_iter < max_ls:
        if abs(br.t[1] - br.t[0]) * d_norm < tolerance_change:  # the interval has shrunk to nothing
            break
        t, insuf_progress = _zoom_trial(br, insuf_progress)
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= br.f[low]:
            # no sufficient decrease, or no better than the low end: the trial replaces the high end
            br.set(high, t, f_new, g_new.clone(), gtd_new)
            low, high = br.low_high()
            continue
        if abs(gtd_new) <= -c2 * gtd:
            done = True
        elif gtd_new * (br.t[high] - br.t[low]) >= 0:
            br.set(high, br.t[low], br.f[low], br.g[low], br.gtd[low])
        br.set(low, t, f_new, g_new.clone(), gtd_new)
    return br.f[low], br.g[low], br.t[low], evals


def _to_scalar(value):
    # an `alpha` (and lr) is a Scalar, as in PyTorch, which reads a 0-d tensor's value: the elementwise
    # kernels take host scalars, never a device tensor
    return value.item() if isinstance(value, Tensor) else value


class LBFGS(Optimizer):
    """L-BFGS, as torch.optim.LBFGS (one parameter group; all parameters on one device).

    step(closure) runs up to `max_iter` iterations (and `max_eval` closure calls, default max_iter * 5 // 4):
    the direction from the two-loop recursion over the last `history_size` (s, y) pairs, scaled by
    H_diag = s.y / y.y; the step `lr` (min(1, 1 / |g|_1) * lr on the very first iteration), or the one a
    strong-Wolfe line search finds (line_search_fn="strong_wolfe"). It stops early when |g|_inf <=
    tolerance_grad, or when the step, the directional derivative or the loss change falls under
    tolerance_change. The state (func_evals, n_iter, d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad,
    prev_loss, al) is kept for the first parameter, as PyTorch does.
    """

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel_cache: int | None = None

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # load_state_dict rebuilds param_groups: the flat view follows the group's (same) parameters
        self._params = self.param_groups[0]["params"]
        self._numel_cache = None

    # ------------------------------------------------------------------ the flat view of all parameters
    def _numel(self) -> int:
        if self._numel_cache is None:
            self._numel_cache = sum(p.numel() for p in self._params)
        return self._numel_cache

    def _gather_flat_grad(self) -> Tensor:
        views = []
        for p in self._params:
            if p.grad is None:  # a parameter the loss does not reach: a zero gradient
                views.append(zeros(p.numel(), dtype=p.dtype, device=p.device))
            elif p.grad.is_sparse:  # PyTorch densifies a sparse gradient here rather than refusing it
                views.append(p.grad.to_dense().reshape(-1))
            else:
                views.append(p.grad.reshape(-1))
        return cat(views, 0)

    def _add_grad(self, step_size, update: Tensor) -> None:
        offset = 0
        for p in self._params:
            numel = p.numel()
            p.add_(update[offset:offset + numel].view_as(p), alpha=_to_scalar(step_size))
            offset += numel
        if offset != self._numel():
            raise AssertionError(f"Expected offset {offset} to equal {self._numel()}")

    def _clone_param(self) -> list[Tensor]:
        return [p.clone() for p in self._params]

    def _set_param(self, params_data: list[Tensor]) -> None:
        for p, data in zip(self._params, params_data):
            p.copy_(data)

    def _directional_evaluate(self, closure, x: list[Tensor], t, d: Tensor) -> tuple[float, Tensor]:
        """Loss and flat gradient at x + t d; the parameters are put back to x afterwards."""
        self._add_grad(t, d)
        loss = float(self._closure_loss(closure))
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ------------------------------------------------------------------ the algorithm
    @staticmethod
    def _direction(state: dict[str, Any], flat_grad: Tensor, mem: dict[str, Any], history_size: int) -> None:
        """The new search direction mem["d"] (and the updated history) from the gradient flat_grad."""
        if state["n_iter"] == 1:
            mem.update(d=flat_grad.neg(), old_dirs=[], old_stps=[], ro=[], H_diag=1)
            return
        y = flat_grad.sub(mem["prev_flat_grad"])
        s = mem["d"].mul(mem["t"])
        ys = y.dot(s)
        old_dirs, old_stps, ro = mem["old_dirs"], mem["old_stps"], mem["ro"]
        if ys > 1e-10:  # only pairs with positive curvature keep the inverse-Hessian estimate positive definite
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            mem["H_diag"] = ys / y.dot(y)
        if "al" not in state:
            state["al"] = [None] * history_size
        al = state["al"]
        # the two-loop recursion, on a single buffer q (then r, the direction)
        q = flat_grad.neg()
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q.add_(old_dirs[i], alpha=-_to_scalar(al[i]))
        r = q.mul(mem["H_diag"])
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r.add_(old_stps[i], alpha=_to_scalar(al[i] - be_i))
        mem["d"] = r

    def step(self, closure: Callable[[], Any]):
        """Up to max_iter L-BFGS iterations; closure (required) zeroes the gradients, recomputes the loss,
        calls backward and returns the loss. Returns the loss of the first evaluation."""
        if len(self.param_groups) != 1:
            raise AssertionError(f"Expected exactly one param_group, but got {len(self.param_groups)}")
        with no_grad():
            return self._step(closure)

    def _step(self, closure: Callable[[], Any]):
        group = self.param_groups[0]
        lr = _to_scalar(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        # the state is global; kept under the first parameter so that load_state_dict casts it with that one
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._closure_loss(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= tolerance_grad:
            return orig_loss

        keys = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")
        mem = {k: state.get(k) for k in keys}
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            self._direction(state, flat_grad, mem, group["history_size"])
            if mem["prev_flat_grad"] is None:
                mem["prev_flat_grad"] = flat_grad.clone()
            else:
                mem["prev_flat_grad"].copy_(flat_grad)
            mem["prev_loss"] = loss
            d = mem["d"]
            t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction any more
                mem["t"] = t
                break

            ls_func_evals = 0
            opt_cond = False
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = flat_grad.abs().max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:  # the last iteration's loss would go unused: no evaluation
                    loss = float(self._closure_loss(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = flat_grad.abs().max() <= tolerance_grad
                    ls_func_evals = 1
            mem["t"] = t
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if self._should_stop(n_iter, max_iter, current_evals, max_eval, opt_cond, d, t, loss,
                                 mem["prev_loss"], tolerance_change):
                break
        state.update(mem)
        return orig_loss

    @staticmethod
    def _should_stop(n_iter, max_iter, current_evals, max_eval, opt_cond, d, t, loss, prev_loss,
                     tolerance_change) -> bool:
        if n_iter == max_iter or current_evals >= max_eval or opt_cond:
            return True
        if d.mul(t).abs().max() <= tolerance_change:  # the step no longer moves the parameters
            return True
        return abs(loss - prev_loss) < tolerance_change
