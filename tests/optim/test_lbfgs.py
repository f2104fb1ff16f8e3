"""tt.optim LBFGS against a NumPy transcription of torch.optim.LBFGS (two-loop recursion, fixed step or the
strong-Wolfe line search with cubic interpolation): per-step iterates, func_evals and n_iter on a least-squares
quadratic and on Rosenbrock (cpu float64 to 1e-10, cpu and cuda float32 at float32 tolerance), convergence,
the history truncation, PyTorch's state layout, resume through a saved state_dict, errors."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.io as tio
from tritensor.optim.lbfgs import LBFGS

# ---------------------------------------------------------------------------------------------- NumPy reference


def np_cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the Hermite cubic through two points (value and slope each), clamped to bounds."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = np.sqrt(disc)
    if x1 <= x2:
        m = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        m = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(m, lo), hi)


def np_strong_wolfe(fg, x, t, d, f, g, gtd, max_ls, c1=1e-4, c2=0.9, tol=1e-9):
    """Strong-Wolfe line search (bracketing, then zoom); returns (f, g, t, evaluations)."""
    d_norm = np.abs(d).max()
    f_new, g_new = fg(x + t * d)
    n_ev, it = 1, 0
    gtd_new = g_new @ d
    tp, fp, gp, gtdp = 0, f, g.copy(), gtd
    done = False
    br = None
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= fp) or gtd_new >= 0:
            if not (f_new > f + c1 * t * gtd or (it > 1 and f_new >= fp)) and abs(gtd_new) <= -c2 * gtd:
                br = [[t, f_new, g_new, gtd_new]]
                done = True
            else:
                br = [[tp, fp, gp, gtdp], [t, f_new, g_new.copy(), gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br = [[t, f_new, g_new, gtd_new]]
            done = True
            break
        t_new = np_cubic_min(tp, fp, gtdp, t, f_new, gtd_new, bounds=(t + 0.01 * (t - tp), t * 10))
        tp, fp, gp, gtdp = t, f_new, g_new.copy(), gtd_new
        t = t_new
        f_new, g_new = fg(x + t * d)
        n_ev += 1
        gtd_new = g_new @ d
        it += 1
    if it == max_ls:
        br = [[0, f, g.copy(), None], [t, f_new, g_new, None]]
    lo = 0 if br[0][1] <= br[-1][1] else 1
    insuf = False
    while not done and it < max_ls:
        if abs(br[1][0] - br[0][0]) * d_norm < tol:
            break
        t = np_cubic_min(br[0][0], br[0][1], br[0][3], br[1][0], br[1][1], br[1][3])
        a, b = max(br[0][0], br[1][0]), min(br[0][0], br[1][0])
        eps = 0.1 * (a - b)
        if min(a - t, t - b) < eps:
            if insuf or t >= a or t <= b:
                t = a - eps if abs(t - a) < abs(t - b) else b + eps
                insuf = False
            else:
                insuf = True
        else:
            insuf = False
        f_new, g_new = fg(x + t * d)
        n_ev += 1
        gtd_new = g_new @ d
        it += 1
        hi = 1 - lo
        if f_new > f + c1 * t * gtd or f_new >= br[lo][1]:
            br[hi] = [t, f_new, g_new.copy(), gtd_new]
            lo = 0 if br[0][1] <= br[1][1] else 1
            continue
        if abs(gtd_new) <= -c2 * gtd:
            done = True
        elif gtd_new * (br[hi][0] - br[lo][0]) >= 0:
            br[hi] = list(br[lo])
        br[lo] = [t, f_new, g_new.copy(), gtd_new]
    return br[lo][1], br[lo][2], br[lo][0], n_ev


def np_lbfgs_step(fg, x, st, *, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                  history_size=100, line_search_fn=None):
    """One LBFGS.step on the flat parameter vector x (updated in place); st: the persistent state dict."""
    max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
    st.setdefault("func_evals", 0)
    st.setdefault("n_iter", 0)
    f, g = fg(x)
    evals = 1
    st["func_evals"] += 1
    if np.abs(g).max() <= tolerance_grad:
        return
    for n in range(1, max_iter + 1):
        st["n_iter"] += 1
        if st["n_iter"] == 1:
            st.update(d=-g, S=[], Y=[], rho=[], H=1)
        else:
            y, s = g - st["g_prev"], st["d"] * st["t"]
            ys = y @ s
            if ys > 1e-10:
                if len(st["S"]) == history_size:
                    del st["S"][0], st["Y"][0], st["rho"][0]
                st["S"].append(s)
                st["Y"].append(y)
                st["rho"].append(1.0 / ys)
                st["H"] = ys / (y @ y)
            q = -g
            alphas = {}
            for i in reversed(range(len(st["S"]))):
                alphas[i] = (st["S"][i] @ q) * st["rho"][i]
                q = q - alphas[i] * st["Y"][i]
            r = q * st["H"]
            for i in range(len(st["S"])):
                beta = (st["Y"][i] @ r) * st["rho"][i]
                r = r + (alphas[i] - beta) * st["S"][i]
            st["d"] = r
        st["g_prev"], st["f_prev"] = g.copy(), f
        d = st["d"]
        st["t"] = min(1.0, 1.0 / np.abs(g).sum()) * lr if st["n_iter"] == 1 else lr
        gtd = g @ d
        if gtd > -tolerance_change:
            return
        n_ev, converged = 0, False
        if line_search_fn == "strong_wolfe":
            f, g, st["t"], n_ev = np_strong_wolfe(fg, x.copy(), st["t"], d, f, g, gtd, max_eval - evals)
            x += st["t"] * d
            converged = np.abs(g).max() <= tolerance_grad
        else:
            x += st["t"] * d
            if n != max_iter:
                f, g = fg(x)
                converged = np.abs(g).max() <= tolerance_grad
                n_ev = 1
        evals += n_ev
        st["func_evals"] += n_ev
        if n == max_iter or evals >= max_eval or converged:
            return
        if np.abs(d * st["t"]).max() <= tolerance_change or abs(f - st["f_prev"]) < tolerance_change:
            return


# ---------------------------------------------------------------------------------------------- the problems

RNG = np.random.default_rng(3)
A_W, A_B, TARGET = RNG.standard_normal((9, 4)), RNG.standard_normal((9, 3)), RNG.standard_normal(9)
X0 = dict(quadratic=RNG.standard_normal(7) * 0.5, rosenbrock=np.array([-1.2, 1.0, -0.5, 0.8]),
          wavy=np.random.default_rng(2).standard_normal(5) * 2)
SHAPES = dict(quadratic=[(2, 2), (3,)], rosenbrock=[(2, 2)], wavy=[(5,)])


def np_problem(name, dtype):
    """(loss, flat gradient) of x, in dtype: 0.5 |A_w w + A_b b - y|^2, the 4-D chained Rosenbrock, or
    sum(0.5 x^2 + 3 cos x) (many local minima: the line search's zoom takes its rarer branches)."""
    a_w, a_b, y = A_W.astype(dtype), A_B.astype(dtype), TARGET.astype(dtype)

    def quadratic(x):
        r = a_w @ x[:4] + a_b @ x[4:] - y
        return float(0.5 * (r @ r)), np.concatenate([a_w.T @ r, a_b.T @ r])

    def rosenbrock(x):
        u, v = x[:-1], x[1:]
        loss = float(np.sum(100 * (v - u * u) ** 2 + (1 - u) ** 2))
        g = np.zeros_like(x)
        g[:-1] = -400 * u * (v - u * u) - 2 * (1 - u)
        g[1:] += 200 * (v - u * u)
        return loss, g

    def wavy(x):
        return float(np.sum(0.5 * x * x + 3 * np.cos(x))), x - 3 * np.sin(x)

    return dict(quadratic=quadratic, rosenbrock=rosenbrock, wavy=wavy)[name]


def tt_problem(name, dtype, device="cpu"):
    """The same problem on tt parameters (split into tensors of SHAPES); returns (params, loss function)."""
    x0, params, at = X0[name].astype(dtype.np), [], 0
    for shape in SHAPES[name]:
        n = int(np.prod(shape))
        params.append(tt.tensor(x0[at:at + n].reshape(shape), device=device, requires_grad=True))
        at += n
    if name == "quadratic":
        a_w, a_b, y = (tt.tensor(a.astype(dtype.np), device=device) for a in (A_W, A_B, TARGET))

        def loss_fn():
            r = (a_w @ params[0].reshape(4, 1) + a_b @ params[1].reshape(3, 1)).reshape(9) - y
            return 0.5 * (r * r).sum()
    elif name == "wavy":
        def loss_fn():
            x = params[0]
            return (0.5 * x * x + x.cos() * 3).sum()
    else:
        def loss_fn():
            x = params[0].reshape(4)
            u, v = x[:3], x[1:]
            a, b = v - u * u, 1 - u  # products, not ** 2: the interpreted pow kernel warns on a zero base
            return (100 * (a * a) + b * b).sum()
    return params, loss_fn


def _closure(opt, loss_fn):
    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    return closure


def _flat(params):
    return np.concatenate([p.detach().cpu().numpy().reshape(-1) for p in params])


def run_both(name, dtype, steps, device="cpu", **opts):
    """Per-step flat iterates and (func_evals, n_iter) of tt's LBFGS and the NumPy reference."""
    params, loss_fn = tt_problem(name, dtype, device)
    opt = LBFGS(params, **opts)
    closure = _closure(opt, loss_fn)
    x, st, fg = X0[name].astype(dtype.np), {}, np_problem(name, dtype.np)
    got, ref = [], []
    for _ in range(steps):
        opt.step(closure)
        s = opt.state[params[0]]
        got.append((_flat(params), s["func_evals"], s["n_iter"]))
        np_lbfgs_step(fg, x, st, **opts)
        ref.append((x.copy(), st["func_evals"], st["n_iter"]))
    return got, ref, opt, params, st


CASES = [("quadratic", None), ("quadratic", "strong_wolfe"), ("rosenbrock", None), ("rosenbrock", "strong_wolfe")]


def _lr(name, ls):
    return 0.8 if name == "quadratic" and ls is None else 1  # (the fixed step also with lr != 1)


# ---------------------------------------------------------------------------------------------- tests


FLOAT64_CASES = [(name, dict(max_iter=5, history_size=3, line_search_fn=ls, lr=_lr(name, ls))) for name, ls in CASES]
FLOAT64_CASES += [  # the line search's other paths: a long first step (zoom: high end replaced, forced moves),
    ("rosenbrock", dict(max_iter=6, lr=20, line_search_fn="strong_wolfe")),
    ("wavy", dict(max_iter=8, lr=10, line_search_fn="strong_wolfe")),
    # a short one (extrapolation; no real cubic minimiser) that runs out of evaluations (max_ls = max_eval - evals)
    ("rosenbrock", dict(max_iter=3, max_eval=4, lr=1e-3, line_search_fn="strong_wolfe")),
]


@pytest.mark.parametrize("name,opts", FLOAT64_CASES)
def test_iterates_float64_match_the_reference(name, opts):
    got, ref, *_ = run_both(name, tt.float64, 3, **opts)
    for k, ((x, fe, ni), (y, fe_ref, ni_ref)) in enumerate(zip(got, ref)):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=f"step {k + 1}")
        assert (fe, ni) == (fe_ref, ni_ref), f"step {k + 1}"
    assert not np.allclose(got[-1][0], X0[name])


@pytest.mark.parametrize("device,steps", [("cpu", 3), ("cuda", 1)])
@pytest.mark.parametrize("name,ls", CASES[:2] + CASES[3:])
def test_iterates_float32(device, steps, name, ls):
    got, ref, *_ = run_both(name, tt.float32, steps, device, max_iter=4, line_search_fn=ls, lr=_lr(name, ls))
    for (x, fe, ni), (y, fe_ref, ni_ref) in zip(got, ref):
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
        assert (fe, ni) == (fe_ref, ni_ref)


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_converges_to_the_minimum(ls):
    params, loss_fn = tt_problem("rosenbrock", tt.float64)
    opt = LBFGS(params, lr=_lr("rosenbrock", ls), max_iter=200, history_size=10, line_search_fn=ls,
                tolerance_grad=1e-10, tolerance_change=1e-14)
    closure = _closure(opt, loss_fn)
    for _ in range(10):
        opt.step(closure)
    np.testing.assert_allclose(_flat(params), 1.0, atol=1e-6)
    params, loss_fn = tt_problem("quadratic", tt.float64)
    opt = LBFGS(params, line_search_fn=ls, tolerance_grad=1e-12, tolerance_change=1e-14)
    opt.step(_closure(opt, loss_fn))
    a = np.concatenate([A_W, A_B], axis=1)
    np.testing.assert_allclose(_flat(params), np.linalg.lstsq(a, TARGET, rcond=None)[0], atol=1e-8)


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_history_is_truncated_to_history_size(ls):
    got, ref, opt, params, st = run_both("quadratic", tt.float64, 2, max_iter=5, history_size=2,
                                         line_search_fn=ls, lr=_lr("quadratic", ls))
    state = opt.state[params[0]]
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) == 2
    assert len(state["al"]) == 2
    for mine, theirs in (("old_dirs", "Y"), ("old_stps", "S")):
        for a, b in zip(state[mine], st[theirs]):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose([r.item() for r in state["ro"]], st["rho"], rtol=1e-10)
    np.testing.assert_allclose(float(state["H_diag"]), st["H"], rtol=1e-10)


def test_state_dict_layout_is_pytorchs():
    params, loss_fn = tt_problem("quadratic", tt.float32)
    opt = LBFGS(params, max_iter=3)
    opt.step(_closure(opt, loss_fn))
    sd = opt.state_dict()
    assert set(sd["state"]) == {0}  # all state lives under the first parameter
    st = sd["state"][0]
    assert set(st) == {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                       "prev_flat_grad", "prev_loss", "al"}
    assert (st["func_evals"], st["n_iter"]) == (3, 2)  # max_eval = 3 * 5 // 4 stops after two iterations
    assert tuple(st["d"].shape) == tuple(st["prev_flat_grad"].shape) == (7,)
    assert isinstance(st["prev_loss"], float) and len(st["al"]) == 100
    assert all(tuple(s.shape) == (7,) for s in st["old_dirs"] + st["old_stps"])
    assert all(r.dim() == 0 and r.dtype == tt.float32 for r in st["ro"])
    assert {k: v for k, v in sd["param_groups"][0].items()} == dict(
        lr=1, max_iter=3, max_eval=3, tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100,
        line_search_fn=None, params=[0, 1])
    assert LBFGS(params).defaults["max_eval"] == 25


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_resume_through_a_saved_state_dict(ls, tmp_path):
    opts = dict(max_iter=3, history_size=4, line_search_fn=ls, lr=_lr("rosenbrock", ls))
    params, loss_fn = tt_problem("rosenbrock", tt.float32)
    opt = LBFGS(params, **opts)
    for _ in range(3):
        opt.step(_closure(opt, loss_fn))
    straight = _flat(params)
    params, loss_fn = tt_problem("rosenbrock", tt.float32)
    opt = LBFGS(params, **opts)
    for _ in range(2):
        opt.step(_closure(opt, loss_fn))
    tio.save({"opt": opt.state_dict(), "p": [p.detach() for p in params]}, tmp_path / "ckpt.safetensors")
    saved = tio.load(tmp_path / "ckpt.safetensors")
    params, loss_fn = tt_problem("rosenbrock", tt.float32)
    with tt.no_grad():
        for p, q in zip(params, saved["p"]):
            p.copy_(q)
    opt = LBFGS(params, **opts)
    opt.load_state_dict(saved["opt"])
    opt.step(_closure(opt, loss_fn))
    np.testing.assert_array_equal(_flat(params), straight)


def test_errors():
    w = tt.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"^LBFGS doesn't support per-parameter options \(parameter groups\)$"):
        LBFGS([{"params": [w]}, {"params": [tt.ones(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="^Invalid learning rate: -1.0$"):
        LBFGS([w], lr=-1.0)
    with pytest.raises(ValueError, match="^Tensor lr must be 1-element$"):
        LBFGS([w], lr=tt.tensor([1.0, 2.0]))
    opt = LBFGS([w], line_search_fn="backtracking")
    with pytest.raises(RuntimeError, match="^only 'strong_wolfe' is supported$"):
        opt.step(_closure(opt, lambda: (w * w).sum()))
    np.testing.assert_array_equal(w.detach().numpy(), 1.0)
    with pytest.raises(TypeError):
        LBFGS([w]).step()


def test_optimal_start_and_sparse_gradient():
    w = tt.zeros(3, dtype=tt.float64, requires_grad=True)
    opt = LBFGS([w])
    loss = opt.step(_closure(opt, lambda: (w * w).sum()))
    assert loss.item() == 0.0 and opt.state[w]["func_evals"] == 1 and opt.state[w]["n_iter"] == 0
    # a sparse gradient is densified, as PyTorch does: the same step as with the dense gradient
    idx = tt.tensor([0, 2, 0])
    out = []
    for sparse in (True, False):
        weight = tt.tensor(np.linspace(0.5, 2.0, 8).reshape(4, 2), dtype=tt.float64, requires_grad=True)
        opt = LBFGS([weight], max_iter=3)
        opt.step(_closure(opt, lambda w=weight, s=sparse: (tt.nn.functional.embedding(idx, w, sparse=s) ** 2).sum()))
        out.append(weight.detach().numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12)
    assert not np.allclose(out[0], np.linspace(0.5, 2.0, 8).reshape(4, 2))
