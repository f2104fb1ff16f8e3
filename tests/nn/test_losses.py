"""nn's losses: every loss module's arguments, repr, buffers/state_dict and forward against nn.functional;
nn.functional's deprecated size_average/reduce flags, PyTorch's Python-level checks and warnings; and
cross_entropy with probability targets (K-dimensional inputs, weights, label smoothing) against NumPy."""

import warnings

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn
from tritensor.nn import functional as F


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


R = np.random.default_rng(0)
X = tt.tensor(R.normal(size=(3, 4)))
P = tt.tensor(R.uniform(0.1, 0.9, (3, 4)))
Y = tt.tensor(R.uniform(0, 1, (3, 4)))
SIGN = tt.tensor(np.array([1.0, -1.0, 1.0]))
IDX = tt.tensor(np.array([1, 0, 3]))


MODULES = [  # (module, functional call with the module's arguments)
    (nn.BCELoss(weight=tt.ones(4) * 2, reduction="sum"),
     lambda m: (m(P, Y), F.binary_cross_entropy(P, Y, tt.ones(4) * 2, reduction="sum"))),
    (nn.BCEWithLogitsLoss(pos_weight=tt.ones(4) * 3),
     lambda m: (m(X, Y), F.binary_cross_entropy_with_logits(X, Y, pos_weight=tt.ones(4) * 3))),
    (nn.HuberLoss(delta=0.5), lambda m: (m(X, Y), F.huber_loss(X, Y, delta=0.5))),
    (nn.SmoothL1Loss(beta=0.2, reduction="none"), lambda m: (m(X, Y), F.smooth_l1_loss(X, Y, reduction="none",
                                                                                      beta=0.2))),
    (nn.KLDivLoss(reduction="batchmean", log_target=True),
     lambda m: (m(X, X * 0.5), F.kl_div(X, X * 0.5, reduction="batchmean", log_target=True))),
    (nn.PoissonNLLLoss(log_input=False, full=True, eps=0.1),
     lambda m: (m(P, Y * 3), F.poisson_nll_loss(P, Y * 3, log_input=False, full=True, eps=0.1))),
    (nn.GaussianNLLLoss(full=True), lambda m: (m(X, Y, P), F.gaussian_nll_loss(X, Y, P, full=True))),
    (nn.SoftMarginLoss(), lambda m: (m(X[:, 0], SIGN), F.soft_margin_loss(X[:, 0], SIGN))),
    (nn.CosineEmbeddingLoss(margin=0.1), lambda m: (m(X, Y, SIGN), F.cosine_embedding_loss(X, Y, SIGN, 0.1))),
    (nn.MarginRankingLoss(margin=0.2), lambda m: (m(X[:, 0], Y[:, 0], SIGN),
                                                  F.margin_ranking_loss(X[:, 0], Y[:, 0], SIGN, 0.2))),
    (nn.HingeEmbeddingLoss(margin=2.0), lambda m: (m(X[:, 0], SIGN), F.hinge_embedding_loss(X[:, 0], SIGN, 2.0))),
    (nn.MultiLabelSoftMarginLoss(weight=tt.ones(4)), lambda m: (m(X, Y), F.multilabel_soft_margin_loss(X, Y,
                                                                                                      tt.ones(4)))),
    (nn.MultiLabelMarginLoss(), lambda m: (m(X, tt.tensor(np.array([[1, -1, 0, 0]] * 3))),
                                           F.multilabel_margin_loss(X, tt.tensor(np.array([[1, -1, 0, 0]] * 3))))),
    (nn.MultiMarginLoss(p=2, margin=0.5), lambda m: (m(X, IDX), F.multi_margin_loss(X, IDX, 2, 0.5))),
    (nn.TripletMarginLoss(margin=0.5, p=1, swap=True),
     lambda m: (m(X, Y, P), F.triplet_margin_loss(X, Y, P, 0.5, 1, swap=True))),
    (nn.TripletMarginWithDistanceLoss(margin=0.3),
     lambda m: (m(X, Y, P), F.triplet_margin_with_distance_loss(X, Y, P, margin=0.3))),
    (nn.CTCLoss(blank=0, zero_infinity=True),
     lambda m: (m(X.reshape(3, 1, 4).log_softmax(2), tt.tensor(np.array([[1, 2]])), (3,), (2,)),
                F.ctc_loss(X.reshape(3, 1, 4).log_softmax(2), tt.tensor(np.array([[1, 2]])), (3,), (2,),
                           zero_infinity=True))),
]


@pytest.mark.parametrize("module,call", MODULES, ids=[type(m).__name__ for m, _ in MODULES])
def test_module_forward_matches_functional_and_repr(module, call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, want = call(module)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-15)
    assert repr(module) == f"{type(module).__name__}()"


def test_module_arguments_and_buffers():
    m = nn.BCEWithLogitsLoss(weight=tt.ones(4), pos_weight=tt.ones(4) * 2)
    assert list(m.state_dict()) == ["weight", "pos_weight"]
    assert list(nn.BCELoss().state_dict()) == []
    assert list(nn.MultiMarginLoss(weight=tt.ones(3)).state_dict()) == ["weight"]
    assert list(nn.MultiLabelSoftMarginLoss(weight=tt.ones(3)).state_dict()) == ["weight"]
    assert nn.HuberLoss().delta == 1.0 and nn.SmoothL1Loss().beta == 1.0
    k = nn.KLDivLoss()
    assert (k.reduction, k.log_target) == ("mean", False)
    p = nn.PoissonNLLLoss()
    assert (p.log_input, p.full, p.eps, p.reduction) == (True, False, 1e-8, "mean")
    g = nn.GaussianNLLLoss()
    assert (g.full, g.eps) == (False, 1e-6)
    t = nn.TripletMarginLoss()
    assert (t.margin, t.p, t.eps, t.swap) == (1.0, 2.0, 1e-6, False)
    c = nn.CTCLoss()
    assert (c.blank, c.reduction, c.zero_infinity) == (0, "mean", False)
    assert (nn.MultiMarginLoss().p, nn.MultiMarginLoss().margin) == (1, 1.0)
    assert nn.CosineEmbeddingLoss().margin == 0.0 and nn.HingeEmbeddingLoss().margin == 1.0
    assert nn.TripletMarginWithDistanceLoss().distance_function is None


def test_module_argument_errors():
    with pytest.raises(ValueError, match="^only p == 1 and p == 2 supported$"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="^MultiMarginLoss: expected weight to be None or 1D tensor, got 2D instead$"):
        nn.MultiMarginLoss(weight=tt.ones(2, 2))
    with pytest.raises(ValueError, match="expected margin to be greater than 0, got -1.0 instead"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)


def test_legacy_flags_set_the_reduction():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated, please use "
                                         "reduction='sum' instead."):
        m = nn.BCELoss(size_average=False)
    assert m.reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.SoftMarginLoss(reduce=False).reduction == "none"
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.smooth_l1_loss(X, Y, reduce=False)
    assert out.shape == (3, 4)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        out = F.kl_div(X, Y, size_average=False)
    np.testing.assert_allclose(_np(out), _np(F.kl_div(X, Y, reduction="sum")), rtol=1e-15)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        out = F.multi_margin_loss(X, IDX, size_average=False)
    np.testing.assert_allclose(_np(out), _np(F.multi_margin_loss(X, IDX, reduction="sum")), rtol=1e-15)


def test_functional_checks_and_warnings():
    with pytest.raises(ValueError, match=r"^Using a target size \(tritensor.Size\(\[3\]\)\) that is different to the "
                                         r"input size \(tritensor.Size\(\[3, 4\]\)\) is deprecated. Please ensure they "
                                         r"have the same size.$"):
        F.binary_cross_entropy(P, Y[:, 0])
    with pytest.raises(ValueError, match=r"^Target size \(tritensor.Size\(\[3\]\)\) must be the same as input size "
                                         r"\(tritensor.Size\(\[3, 4\]\)\)$"):
        F.binary_cross_entropy_with_logits(X, Y[:, 0])
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(X, Y)
    with pytest.warns(UserWarning, match="This will likely lead to incorrect results due to broadcasting"):
        F.huber_loss(X, Y[0])
    with pytest.warns(UserWarning, match="This will likely lead to incorrect results due to broadcasting"):
        F.smooth_l1_loss(X, Y[0])
    with pytest.raises(RuntimeError, match="margin_ranking_loss : All input tensors should have same dimension"):
        F.margin_ranking_loss(X, Y, SIGN)
    with pytest.raises(ValueError, match="^only p == 1 and p == 2 supported$"):
        F.multi_margin_loss(X, IDX, p=3)
    with pytest.raises(ValueError, match="^weight must be one-dimensional$"):
        F.multi_margin_loss(X, IDX, weight=tt.ones(2, 2))
    with pytest.raises(ValueError, match="^avg is not a valid value for reduction$"):
        F.poisson_nll_loss(X, Y, reduction="avg")
    # kl_div's batchmean of a 0-d input is its sum.
    np.testing.assert_allclose(_np(F.kl_div(X[0, 0], Y[0, 0], reduction="batchmean")),
                               _np(F.kl_div(X[0, 0], Y[0, 0], reduction="sum")), rtol=1e-15)


def _ce_probs_ref(x, t, w, eps):
    C = x.shape[1]
    t = t * (1 - eps) + eps / C
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    wb = np.ones(C) if w is None else w
    return -(logp * t * wb.reshape((C,) + (1,) * (x.ndim - 2))).sum(1)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_probability_targets_k_dim(device, reduction):
    x = R.normal(size=(2, 3, 4, 2))
    t = R.uniform(0, 1, (2, 3, 4, 2))
    t = t / t.sum(1, keepdims=True)
    w = np.array([0.5, 2.0, 1.0])
    per = _ce_probs_ref(x, t, w, 0.2)
    want = per if reduction == "none" else (per.sum() if reduction == "sum" else per.sum() / per.size)
    xt = tt.tensor(x, device=device, requires_grad=True)
    out = F.cross_entropy(xt, tt.tensor(t, device=device), tt.tensor(w, device=device), reduction=reduction,
                          label_smoothing=0.2)
    np.testing.assert_allclose(_np(out), want, rtol=1e-12)

    def f(a):
        return F.cross_entropy(a, tt.tensor(t, device=a.device), tt.tensor(w, device=a.device), reduction=reduction,
                               label_smoothing=0.2)

    if device == "cpu":
        assert tt.autograd.gradcheck(f, (xt,))
    else:  # the interpreter is slow: cuda's gradient against cpu's
        g = R.normal(size=out.shape)
        out.backward(tt.tensor(g, device=device))
        xc = tt.tensor(x, requires_grad=True)
        f(xc).backward(tt.tensor(g))
        np.testing.assert_allclose(_np(xt.grad), _np(xc.grad), rtol=1e-12, atol=1e-14)


def test_cross_entropy_probability_target_errors():
    x = tt.tensor(R.normal(size=(2, 3)))
    with pytest.raises(RuntimeError, match="^expected scalar type Long but found Double$"):
        F.cross_entropy(x, tt.tensor(np.ones(2)))
    with pytest.raises(RuntimeError, match="^ignore_index is not supported for floating point target$"):
        F.cross_entropy(x, tt.tensor(np.ones((2, 3))), ignore_index=1)
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 classes or no classes"):
        F.cross_entropy(x, tt.tensor(np.ones((2, 3))), weight=tt.ones(2, dtype=tt.float64))
