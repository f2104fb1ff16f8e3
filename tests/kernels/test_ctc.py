"""The CTC alpha/beta kernels in Triton's interpreter against the NumPy recursion; the recursion against a
brute-force sum over every alignment on tiny T/S (repeated labels, empty targets), and its gradient against
float64 central finite differences through a log_softmax."""

import itertools

import numpy as np
import pytest
from tritensor.kernels import ctc as K

from tests.conftest import as_device


def _log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _brute_nll(lp, labels, blank):
    """-log sum over every path of length T that collapses (merge repeats, drop blanks) to labels."""
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c)]
        if collapsed == list(labels):
            total += np.exp(sum(lp[t, c] for t, c in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


@pytest.mark.parametrize("labels", [[1, 2], [1, 1], [2, 2, 2], [], [1, 2, 1], [3]])
@pytest.mark.parametrize("blank", [0, 2])
def test_reference_matches_brute_force(labels, blank):
    labels = [c if c != blank else 3 - blank for c in labels]  # never the blank itself
    T, C = 5, 4
    lp = _log_softmax(np.random.default_rng(len(labels) + blank).standard_normal((T, C)))
    got = K.ctc_loss_ref(lp[:, None, :], [np.array(labels)], np.array([T]), blank)[0]
    want = _brute_nll(lp, labels, blank)
    if np.isinf(want):
        assert np.isinf(got)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_reference_gradient_through_log_softmax_matches_finite_differences():
    T, N, C = 5, 2, 4
    x = np.random.default_rng(0).standard_normal((T, N, C))
    labels = [np.array([1, 1, 2]), np.array([3])]
    in_len = np.array([5, 4])
    g = np.array([0.7, -1.3])

    def f(v):
        return np.sum(g * K.ctc_loss_ref(_log_softmax(v), labels, in_len, 0))

    lp = _log_softmax(x)
    nll = K.ctc_loss_ref(lp, labels, in_len, 0)
    grad_lp = K.ctc_grad_ref(g, lp, labels, in_len, nll, 0)
    # Back through log_softmax: grad_x = grad_lp - softmax * sum(grad_lp).
    grad_x = grad_lp - np.exp(lp) * grad_lp.sum(-1, keepdims=True)
    eps = 1e-6
    for i in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[i] += eps
        lo[i] -= eps
        np.testing.assert_allclose(grad_x[i], (f(hi) - f(lo)) / (2 * eps), rtol=1e-5, atol=1e-7)
    assert np.all(grad_lp[4, 1] == 0)  # past item 1's input length


def _run_kernels(lp, padded, tgt_len, in_len, blank, g):
    T, N, C = lp.shape
    acc = np.float64 if lp.dtype == np.float64 else np.float32
    S = int(tgt_len.max(initial=0))
    pitch = 2 * S + 1
    loss = np.full(N, np.nan, acc)
    alpha = np.full((N, T, pitch), np.nan, acc)
    tgt = np.ascontiguousarray(padded, np.int64)
    off = (np.arange(N) * tgt.shape[1]).astype(np.int64)
    dev = [as_device(a) for a in (off, in_len.astype(np.int64), tgt_len.astype(np.int64))]
    K.ctc_forward(as_device(loss), as_device(alpha), as_device(lp), as_device(tgt), *dev, 1, S, blank)
    grad = np.full(lp.shape, np.nan, lp.dtype)
    beta = np.full_like(alpha, np.nan)
    K.ctc_backward(as_device(grad), as_device(g.astype(acc)), as_device(beta), as_device(alpha), as_device(loss),
                   as_device(lp), as_device(tgt), *dev, 1, S, blank)
    return loss, grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_match_reference(dtype):
    T, N, C = 7, 4, 5
    r = np.random.default_rng(1)
    lp = _log_softmax(r.standard_normal((T, N, C))).astype(dtype)
    padded = np.array([[1, 2, 2, 4], [3, 3, 0, 0], [0, 0, 0, 0], [4, 1, 2, 3]])
    tgt_len = np.array([3, 2, 0, 4])
    in_len = np.array([7, 5, 3, 7])
    g = r.standard_normal(N)
    loss, grad = _run_kernels(lp, padded, tgt_len, in_len, 0, g)
    labels = [padded[b, :tgt_len[b]] for b in range(N)]
    want = K.ctc_loss_ref(lp, labels, in_len, 0)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(loss, want, rtol=tol)
    want_g = K.ctc_grad_ref(g, lp, labels, in_len, want, 0)
    np.testing.assert_allclose(grad, want_g, rtol=tol, atol=tol)


def test_kernels_impossible_alignment_and_other_blank():
    # Target [1, 1] needs 3 frames (a blank between the repeats): 2 frames give an infinite loss.
    T, N, C = 2, 2, 3
    lp = _log_softmax(np.random.default_rng(2).standard_normal((T, N, C)))
    padded = np.array([[1, 1], [0, 1]])
    tgt_len = np.array([2, 2])
    in_len = np.array([2, 2])
    loss, grad = _run_kernels(lp, padded, tgt_len, in_len, 2, np.array([0.0, 1.0]))
    assert np.isinf(loss[0])
    want = K.ctc_loss_ref(lp, [np.array([1, 1]), np.array([0, 1])], in_len, 2)
    np.testing.assert_allclose(loss[1], want[1], rtol=1e-12)
    np.testing.assert_array_equal(grad[:, 0], 0.0)  # a zero incoming gradient (zero_infinity) gives zeros


def test_kernel_many_classes_loop_over_chunks():
    T, N, C = 3, 1, 300
    lp = _log_softmax(np.random.default_rng(3).standard_normal((T, N, C)))
    padded = np.array([[299, 5]])
    loss, grad = _run_kernels(lp, padded, np.array([2]), np.array([3]), 0, np.array([1.0]))
    want = K.ctc_loss_ref(lp, [np.array([299, 5])], np.array([3]), 0)
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    np.testing.assert_allclose(grad, K.ctc_grad_ref(np.array([1.0]), lp, [np.array([299, 5])], np.array([3]), want),
                               rtol=1e-12, atol=1e-14)
