"""ops/ctc.py: ctc_loss on cpu and interpreted cuda against kernels/ctc.py's NumPy recursion (itself checked
against a brute-force sum over alignments in tests/kernels/test_ctc.py): padded and concatenated targets,
lengths as tensors or tuples, unbatched input, every reduction ('mean' divides by the target lengths),
zero_infinity, float64 gradcheck through a log_softmax, cuda's gradient against cpu's, every error."""

import numpy as np
import pytest
from tritensor.kernels import ctc as K

import tritensor as tt
from tritensor.ops import ctc as C
from tritensor.ops.softmax import log_softmax

DEVICES = ["cpu", "cuda"]
T, N, NC = 6, 3, 5
X = np.random.default_rng(0).standard_normal((T, N, NC))
PADDED = np.array([[1, 2, 2, 0], [3, 3, 0, 0], [4, 1, 2, 3]])
TGT_LEN = np.array([3, 2, 4])
IN_LEN = np.array([6, 5, 6])
LABELS = [PADDED[b, :TGT_LEN[b]] for b in range(N)]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _lp(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _want(reduction, lp=None, labels=LABELS, in_len=IN_LEN, zero_infinity=False):
    nll = K.ctc_loss_ref(_lp(X) if lp is None else lp, labels, in_len, 0)
    if zero_infinity:
        nll = np.where(np.isinf(nll), 0.0, nll)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    return (nll / np.maximum([len(v) for v in labels], 1)).mean()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_matches_reference(device, reduction):
    lp = tt.tensor(_lp(X), device=device)
    out = C.ctc_loss(lp, tt.tensor(PADDED, device=device), tt.tensor(IN_LEN), tt.tensor(TGT_LEN), 0, reduction)
    np.testing.assert_allclose(_np(out), _want(reduction), rtol=1e-12)
    # The same targets concatenated, lengths as tuples.
    flat = tt.tensor(np.concatenate(LABELS), device=device)
    out2 = C.ctc_loss(lp, flat, tuple(IN_LEN), tuple(TGT_LEN), 0, reduction)
    np.testing.assert_allclose(_np(out2), _want(reduction), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_and_int32_targets(device):
    lp = tt.tensor(_lp(X).astype(np.float32), device=device)
    out = C.ctc_loss(lp, tt.tensor(PADDED.astype(np.int32), device=device), IN_LEN.tolist(), TGT_LEN.tolist(),
                     reduction="none")
    assert out.dtype is tt.float32
    np.testing.assert_allclose(_np(out), _want("none"), rtol=2e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_unbatched(device):
    lp = tt.tensor(_lp(X[:, 0]), device=device)
    out = C.ctc_loss(lp, tt.tensor(LABELS[0], device=device), (6,), (3,), reduction="none")
    assert out.shape == ()
    np.testing.assert_allclose(_np(out), K.ctc_loss_ref(_lp(X[:, :1]), LABELS[:1], [6])[0], rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_zero_infinity_and_blank(device):
    # Item 0 wants [1, 1] in 2 frames: impossible (inf); zero_infinity makes it 0 with a zero gradient.
    x = tt.tensor(X[:2, :2], device=device, requires_grad=True)
    targets = tt.tensor(np.array([[1, 1], [2, 1]]), device=device)
    out = C.ctc_loss(log_softmax(x, 2), targets, (2, 2), (2, 2), blank=3, reduction="none")
    assert np.isinf(_np(out)[0])
    out = C.ctc_loss(log_softmax(x, 2), targets, (2, 2), (2, 2), blank=3, reduction="sum", zero_infinity=True)
    labels = [np.array([1, 1]), np.array([2, 1])]
    want = K.ctc_loss_ref(_lp(X[:2, :2]), labels, [2, 2], 3)
    np.testing.assert_allclose(_np(out), want[1], rtol=1e-12)
    out.backward()
    np.testing.assert_array_equal(_np(x.grad)[:, 0], 0.0)
    assert np.all(np.isfinite(_np(x.grad)))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_gradcheck_through_log_softmax(reduction):
    def f(x):
        return C.ctc_loss(log_softmax(x, 2), tt.tensor(PADDED), tt.tensor(IN_LEN), tt.tensor(TGT_LEN), 0, reduction)

    assert tt.autograd.gradcheck(f, (tt.tensor(X, requires_grad=True),))


def test_cuda_gradient_matches_cpu_and_grad_fn():
    grads = []
    for device in DEVICES:
        lp = tt.tensor(_lp(X), device=device, requires_grad=True)
        out = C.ctc_loss(lp, tt.tensor(PADDED, device=device), IN_LEN.tolist(), TGT_LEN.tolist(), reduction="none")
        assert out.grad_fn.name() == "CtcLossBackward0"
        out.backward(tt.tensor(np.array([0.5, -1.0, 2.0]), device=device))
        grads.append(_np(lp.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-14)
    want = K.ctc_grad_ref(np.array([0.5, -1.0, 2.0]), _lp(X), LABELS, IN_LEN, K.ctc_loss_ref(_lp(X), LABELS, IN_LEN))
    np.testing.assert_allclose(grads[0], want, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(grads[1][5, 1], 0.0)  # past item 1's input length


def test_errors():
    lp = tt.tensor(_lp(X))
    tg = tt.tensor(PADDED)
    with pytest.raises(ValueError, match="^avg is not a valid value for reduction$"):
        C.ctc_loss(lp, tg, IN_LEN.tolist(), TGT_LEN.tolist(), reduction="avg")
    with pytest.raises(RuntimeError, match="^blank must be in label range$"):
        C.ctc_loss(lp, tg, IN_LEN.tolist(), TGT_LEN.tolist(), blank=5)
    with pytest.raises(RuntimeError, match="^input_lengths must be of size batch_size$"):
        C.ctc_loss(lp, tg, (6, 6), TGT_LEN.tolist())
    with pytest.raises(RuntimeError, match="^target_lengths must be of size batch_size$"):
        C.ctc_loss(lp, tg, IN_LEN.tolist(), (1,))
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 6, but got value 7"):
        C.ctc_loss(lp, tg, (6, 7, 6), TGT_LEN.tolist())
    with pytest.raises(RuntimeError, match="Expected tensor to have size at least 5 at dimension 1, but got size 4"):
        C.ctc_loss(lp, tg, IN_LEN.tolist(), (3, 5, 2))
    with pytest.raises(RuntimeError, match="^input_lengths must be integral$"):
        C.ctc_loss(lp, tg, tt.tensor(IN_LEN * 1.0), TGT_LEN.tolist())
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        C.ctc_loss(tg, tg, IN_LEN.tolist(), TGT_LEN.tolist())
