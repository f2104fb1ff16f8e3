"""ops/loss_margin.py: the composed distance/margin losses and gaussian_nll_loss against NumPy references
written here from the documented formulas (loops where PyTorch's kernels loop), every reduction, weights,
float64 gradcheck for every differentiable input, cuda against cpu, and every argument error."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor.ops import loss_margin as L

DEVICES = ["cpu", "cuda"]
REDUCTIONS = ["none", "sum", "mean"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _t(a, device="cpu", grad=False):
    return tt.tensor(a, device=device, requires_grad=grad)


def _reduce(v, reduction):
    v = np.asarray(v, np.float64)
    return v if reduction == "none" else (v.sum() if reduction == "sum" else v.mean())


R = np.random.default_rng(0)
X1, X2, X3 = R.normal(size=(4, 5)), R.normal(size=(4, 5)), R.normal(size=(4, 5))
Y = np.array([1.0, -1.0, -1.0, 1.0])
ML_TARGET = np.array([[3, 0, -1, 1, 2], [1, 2, 3, -1, -1], [-1, 0, 0, 0, 0], [4, 4, 0, -1, 3]])
MM_TARGET = np.array([3, 0, 4, 1])
WC = np.array([1.0, 2.0, 0.5, 1.5, 0.8])


def cosine_ref(a, b, y, margin):
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    return np.where(y == 1, 1 - cos, 0) + np.where(y == -1, np.maximum(cos - margin, 0), 0)


def multilabel_margin_ref(x, target):
    out = []
    for row, tgt in zip(x, target):
        labels = []
        for v in tgt:
            if v < 0:
                break
            labels.append(v)
        total = 0.0
        for j in labels:
            for i in range(len(row)):
                if i not in labels:
                    total += max(0.0, 1 - (row[j] - row[i]))
        out.append(total / len(row))
    return np.array(out)


def multi_margin_ref(x, target, p, margin, w):
    out = []
    for row, y in zip(x, target):
        total = sum(max(0.0, margin - row[y] + row[i]) ** p * (1 if w is None else w[y])
                    for i in range(len(row)) if i != y)
        out.append(total / len(row))
    return np.array(out)


def triplet_ref(a, p, n, margin, norm, eps, swap):
    def d(u, v):
        return (np.abs(u - v + eps) ** norm).sum(-1) ** (1 / norm)

    dn = np.minimum(d(a, n), d(p, n)) if swap else d(a, n)
    return np.maximum(margin + d(a, p) - dn, 0)


def logsig(x):
    return -np.logaddexp(0, -x)


CASES = {
    "cosine": (lambda d, r, a, b, c: L.cosine_embedding_loss(a, b, _t(Y, d), 0.2, r), 2,
               lambda: cosine_ref(X1, X2, Y, 0.2)),
    "ranking": (lambda d, r, a, b, c: L.margin_ranking_loss(a[:, 0], b[:, 0], _t(Y, d), 0.3, r), 2,
                lambda: np.maximum(-Y * (X1[:, 0] - X2[:, 0]) + 0.3, 0)),
    "hinge": (lambda d, r, a, b, c: L.hinge_embedding_loss(a, _t(np.sign(X2), d), 0.5, r), 1,
              lambda: np.where(np.sign(X2) == 1, X1, np.maximum(0.5 - X1, 0))),
    "multilabel_soft": (lambda d, r, a, b, c: L.multilabel_soft_margin_loss(a, _t((X2 > 0) * 1.0, d), _t(WC, d), r),
                        1, lambda: (-(WC * ((X2 > 0) * logsig(X1) + (X2 <= 0) * logsig(-X1)))).mean(1)),
    "multilabel_margin": (lambda d, r, a, b, c: L.multilabel_margin_loss(a, _t(ML_TARGET, d), r), 1,
                          lambda: multilabel_margin_ref(X1, ML_TARGET)),
    "multi_margin_p1": (lambda d, r, a, b, c: L.multi_margin_loss(a, _t(MM_TARGET, d), 1, 0.7, None, r), 1,
                        lambda: multi_margin_ref(X1, MM_TARGET, 1, 0.7, None)),
    "multi_margin_p2_w": (lambda d, r, a, b, c: L.multi_margin_loss(a, _t(MM_TARGET, d), 2, 1.0, _t(WC, d), r), 1,
                          lambda: multi_margin_ref(X1, MM_TARGET, 2, 1.0, WC)),
    "triplet": (lambda d, r, a, b, c: L.triplet_margin_loss(a, b, c, 1.0, 2, 1e-6, False, r), 3,
                lambda: triplet_ref(X1, X2, X3, 1.0, 2, 1e-6, False)),
    "triplet_p1_swap": (lambda d, r, a, b, c: L.triplet_margin_loss(a, b, c, 2.0, 1, 1e-6, True, r), 3,
                        lambda: triplet_ref(X1, X2, X3, 2.0, 1, 1e-6, True)),
    "triplet_distance": (lambda d, r, a, b, c: L.triplet_margin_with_distance_loss(
        a, b, c, distance_function=lambda u, v: ((u - v) ** 2).sum(-1), margin=1.5, swap=True, reduction=r), 3,
        lambda: np.maximum(1.5 + ((X1 - X2) ** 2).sum(-1) - np.minimum(((X1 - X3) ** 2).sum(-1),
                                                                      ((X2 - X3) ** 2).sum(-1)), 0)),
    "gaussian": (lambda d, r, a, b, c: L.gaussian_nll_loss(a, b, c.abs(), True, 1e-6, r), 3,
                 lambda: 0.5 * (np.log(np.abs(X3)) + (X1 - X2) ** 2 / np.abs(X3)) + 0.5 * math.log(2 * math.pi)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_matches_reference(name, reduction, device):
    call, _, ref = CASES[name]
    out = call(device, reduction, _t(X1, device), _t(X2, device), _t(X3, device))
    np.testing.assert_allclose(_np(out), _reduce(ref(), reduction), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    call, n_grad, _ = CASES[name]
    args = (_t(X1, grad=True), _t(X2, grad=n_grad >= 2), _t(X3, grad=n_grad >= 3))
    grads = [a for a in args if a.requires_grad]
    assert tt.autograd.gradcheck(lambda *g: call("cpu", "mean", *(list(g) + list(args[len(g):]))), tuple(grads))


@pytest.mark.parametrize("name", ["cosine", "multilabel_margin", "multi_margin_p2_w", "triplet", "gaussian"])
def test_cuda_backward_matches_cpu(name):
    call, n_grad, _ = CASES[name]
    grads = []
    for device in DEVICES:
        args = [_t(a, device, True) for a in (X1, X2, X3)]
        call(device, "sum", *args).backward()
        grads.append([_np(a.grad) if a.grad is not None else None for a in args[:n_grad]])
    for g_cpu, g_cuda in zip(*grads):
        np.testing.assert_allclose(g_cpu, g_cuda, rtol=1e-12, atol=1e-14)


def test_unbatched_forms():
    a, b = _t(X1[0]), _t(X2[0])
    np.testing.assert_allclose(_np(L.cosine_embedding_loss(a, b, _t(np.array(-1.0)), 0.0)),
                               cosine_ref(X1[:1], X2[:1], np.array([-1.0]), 0.0)[0], rtol=1e-12)
    np.testing.assert_allclose(_np(L.multilabel_margin_loss(a, _t(ML_TARGET[0]))),
                               multilabel_margin_ref(X1[:1], ML_TARGET[:1])[0], rtol=1e-12)
    np.testing.assert_allclose(_np(L.multi_margin_loss(a, _t(np.array(2)))),
                               multi_margin_ref(X1[:1], [2], 1, 1.0, None)[0], rtol=1e-12)
    np.testing.assert_allclose(_np(L.triplet_margin_loss(a, b, _t(X3[0]))),
                               triplet_ref(X1[0], X2[0], X3[0], 1.0, 2, 1e-6, False), rtol=1e-12)


def test_gaussian_var_shapes_and_clamp():
    # One variance per sample (homoscedastic), or a trailing dim of 1; a float; var below eps clamps (and still
    # passes its gradient through, as PyTorch's no_grad clamp does).
    v = np.abs(X3[:, 0])
    want = 0.5 * (np.log(v)[:, None] + (X1 - X2) ** 2 / v[:, None])
    for var in (_t(v), _t(v[:, None])):
        np.testing.assert_allclose(_np(L.gaussian_nll_loss(_t(X1), _t(X2), var, reduction="none")), want, rtol=1e-12)
    np.testing.assert_allclose(_np(L.gaussian_nll_loss(_t(X1), _t(X2), 2.0, reduction="sum")),
                               (0.5 * (math.log(2) + (X1 - X2) ** 2 / 2)).sum(), rtol=1e-12)
    var = _t(np.full((4, 5), 1e-9), grad=True)
    L.gaussian_nll_loss(_t(X1), _t(X2), var, eps=1e-3, reduction="sum").backward()
    np.testing.assert_allclose(_np(var.grad), 0.5 * (1 / 1e-3 - (X1 - X2) ** 2 / 1e-6), rtol=1e-12)


def test_errors():
    a, b = _t(X1), _t(X2)
    with pytest.raises(RuntimeError, match="^0D or 1D target tensor expected, multi-target not supported$"):
        L.cosine_embedding_loss(a, b, _t(np.ones((4, 1))))
    with pytest.raises(RuntimeError, match=r"^1D target tensor expects 2D input tensors, but found inputs with sizes "
                                           r"\[5\] and \[4, 5\].$"):
        L.cosine_embedding_loss(_t(X1[0]), b, _t(Y))
    with pytest.raises(RuntimeError, match=r"^0D target tensor expects 1D input tensors"):
        L.cosine_embedding_loss(a, b, _t(np.array(1.0)))
    with pytest.raises(RuntimeError, match=r"^inconsistent target size: \[4, 4\] for input of size: \[4, 5\]$"):
        L.multilabel_margin_loss(a, _t(ML_TARGET[:, :4]))
    with pytest.raises(RuntimeError, match="^expected scalar type Long but found Double$"):
        L.multilabel_margin_loss(a, _t(ML_TARGET * 1.0))
    with pytest.raises(RuntimeError, match=r"^inconsistent target size, expected 4 but got \[3\]$"):
        L.multi_margin_loss(a, _t(MM_TARGET[:3]))
    with pytest.raises(RuntimeError, match=r"^inconsistent weight size, expected 5 but got \[4\]$"):
        L.multi_margin_loss(a, _t(MM_TARGET), weight=_t(WC[:4]))
    with pytest.raises(RuntimeError, match="Expected non-empty vector or matrix"):
        L.multi_margin_loss(_t(np.zeros((2, 0))), _t(np.array([0, 0])))
    with pytest.raises(RuntimeError, match="anchor 2D, positive 1D, and negative 2D inputs"):
        L.triplet_margin_loss(a, _t(X2[0]), _t(X3))
    with pytest.raises(ValueError, match="expected margin to be greater than 0, got 0.0 instead"):
        L.triplet_margin_with_distance_loss(a, b, b, margin=0.0)
    with pytest.raises(ValueError, match="^var is of incorrect size$"):
        L.gaussian_nll_loss(a, b, _t(np.ones((4, 2))))
    with pytest.raises(ValueError, match="^var has negative entry/entries$"):
        L.gaussian_nll_loss(a, b, _t(-np.ones((4, 5))))
    with pytest.raises(ValueError, match="^var has negative entry/entries$"):
        L.gaussian_nll_loss(a, b, -1.0)
    with pytest.raises(ValueError, match="^avg is not valid$"):
        L.gaussian_nll_loss(a, b, 1.0, reduction="avg")
    with pytest.raises(ValueError, match="^avg is not a valid value for reduction$"):
        L.hinge_embedding_loss(a, b, reduction="avg")
