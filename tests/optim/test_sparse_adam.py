"""optim.SparseAdam against a NumPy reference of PyTorch's lazy Adam over several steps; errors; state_dict."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np, _t


def _reference(w, grads, lr, betas, eps, maximize=False):
    """PyTorch's sparse_adam in float32: only the rows in each step's (coalesced) gradient change."""
    w = w.astype(np.float32).copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    b1, b2 = np.float32(betas[0]), np.float32(betas[1])
    for step, (rows, vals) in enumerate(grads, 1):
        uniq, inv = np.unique(rows, return_inverse=True)
        g = np.zeros((len(uniq), w.shape[1]), np.float32)
        np.add.at(g, inv, vals.astype(np.float32))
        if maximize:
            g = -g
        old_m, old_v = m[uniq].copy(), v[uniq].copy()
        dm = (g - old_m) * (1 - b1)
        dv = (g * g - old_v) * (1 - b2)
        m[uniq] += dm
        v[uniq] += dv
        step_size = lr * np.sqrt(1 - betas[1] ** step) / (1 - betas[0] ** step)
        w[uniq] += ((dm + old_m) / (np.sqrt(dv + old_v) + np.float32(eps))) * np.float32(-step_size)
    return w, m, v


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("maximize", [False, True])
def test_matches_reference(rng, device, maximize):
    w0 = rng.standard_normal((7, 3)).astype(np.float32)
    w = _t(w0, device, True)
    opt = tt.optim.SparseAdam([w], lr=0.05, betas=(0.8, 0.99), eps=1e-6, maximize=maximize)
    grads = []
    for _ in range(4):
        idx = rng.integers(0, 7, size=5)
        g = rng.standard_normal((5, 3)).astype(np.float32)
        opt.zero_grad()
        tt.embedding(w, _t(idx, device), sparse=True).backward(_t(g, device))
        grads.append((idx, g))
        opt.step()
    ref_w, ref_m, ref_v = _reference(w0, grads, 0.05, (0.8, 0.99), 1e-6, maximize)
    np.testing.assert_allclose(_np(w), ref_w, rtol=1e-5, atol=1e-6)
    state = opt.state[w]
    assert state["step"] == 4
    np.testing.assert_allclose(_np(state["exp_avg"]), ref_m, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(_np(state["exp_avg_sq"]), ref_v, rtol=1e-5, atol=1e-7)
    untouched = np.setdiff1d(np.arange(7), np.concatenate([i for i, _ in grads]))
    np.testing.assert_array_equal(_np(w)[untouched], w0[untouched])


def test_state_dict_and_errors():
    emb = tt.nn.Embedding(5, 2, sparse=True)
    opt = tt.optim.SparseAdam(emb.parameters())
    emb(tt.tensor([1, 1])).sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
    assert emb.weight.grad.is_sparse and emb.weight.grad._nnz() == 0
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999) and sd["param_groups"][0]["params"] == [0]
    assert {k for k in sd["param_groups"][0] if k != "params"} == {"lr", "betas", "eps", "maximize"}
    w = tt.ones(2, requires_grad=True)
    (w * 2).sum().backward()
    with pytest.raises(RuntimeError, match="^SparseAdam does not support dense gradients, please consider Adam "
                                           "instead$"):
        tt.optim.SparseAdam([w]).step()
    for kwargs, msg in ((dict(lr=0.0), "Invalid learning rate: 0.0"), (dict(eps=0.0), "Invalid epsilon value: 0.0"),
                        (dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
                        (dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1")):
        with pytest.raises(ValueError, match=msg):
            tt.optim.SparseAdam([w], **kwargs)
    s = tt.sparse_coo_tensor([[0]], [1.0], (2,))
    with pytest.raises(ValueError, match="Sparse params at indices \\[0\\]: SparseAdam requires dense parameter"):
        tt.optim.SparseAdam([s])


def test_adam_rejects_sparse_gradients():
    emb = tt.nn.Embedding(4, 2, sparse=True)
    emb(tt.tensor([1])).sum().backward()
    for cls in (tt.optim.Adam, tt.optim.AdamW):
        with pytest.raises(RuntimeError, match="^Adam does not support sparse gradients, please consider SparseAdam "
                                               "instead$"):
            cls(emb.parameters()).step()


def test_sgd_steps_a_sparse_gradient_as_its_dense_form():
    """SGD accepts embedding(sparse=True)'s gradient, as PyTorch's does: the same update as the dense one."""
    import tritensor.nn as nn

    tt.manual_seed(0)
    sparse, dense = nn.Embedding(7, 3, sparse=True), nn.Embedding(7, 3)
    dense.weight.data.copy_(sparse.weight.data)
    idx = tt.tensor([[1, 4, 1], [6, 0, 4]])
    for emb in (sparse, dense):
        opt = tt.optim.SGD(emb.parameters(), lr=0.5, momentum=0.9)
        for _ in range(2):
            opt.zero_grad()
            (emb(idx) ** 2).sum().backward()
            opt.step()
    assert sparse.weight.grad.is_sparse
    np.testing.assert_allclose(sparse.weight.detach().numpy(), dense.weight.detach().numpy(), rtol=1e-6)
