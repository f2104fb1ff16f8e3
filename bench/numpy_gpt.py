"""A hand-written NumPy training step of the `tritensor train --model gpt` transformer, the baseline of
bench/test_model_step_bench.py's "gpt-step" group and bench/test_memory_bench.py.

The model is tritensor/models/gpt.py's GPT at the size tritensor/benchmark/models.py `gpt_step` uses (vocab 40,
context 16, width 32, 4 layers of 4 heads, batch 4): token + position embeddings, pre-norm blocks
x + proj(causal_attention(qkv(ln1(x)))) and x + fc2(gelu(fc1(ln2(x)))) (exact, erf GELU), a final LayerNorm and
a head tied to the token embedding; mean cross-entropy over every position, backward by hand, Adam (lr 1e-3,
betas 0.9/0.999, eps 1e-8) over one flat buffer (numpy_cnn.FlatAdam), float32 throughout, dropout 0 as the
benchmark's model has.

The fastest plain-NumPy formulation: the residual stream is one (B*T, C) matrix so every Linear is one BLAS
matmul writing its weight gradient straight into the optimizer's flat gradient buffer; the heads are strided
views of the qkv matmul's result, attention is two batched matmuls around an in-place softmax with a
precomputed causal mask; the embedding's backward is one one-hot matmul; Adam is one pass over all parameters.
"""

from __future__ import annotations

import math

import numpy as np
from numpy_cnn import FlatAdam, cross_entropy
from scipy.special import erf

EPS_LN = 1e-5
PER_BLOCK = 12  # ln1 w, b, qkv w, b, proj w, b, ln2 w, b, fc1 w, b, fc2 w, b


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """LayerNorm over the last axis of (M, C) x; the backward's cache (xhat, rstd)."""
    xc = x - x.mean(1, keepdims=True)
    var = np.einsum("ij,ij->i", xc, xc)
    var *= 1 / x.shape[1]
    var += EPS_LN
    rstd = (1 / np.sqrt(var))[:, None]
    xc *= rstd  # xhat
    out = xc * w
    out += b
    return out, (xc, rstd)


def _layer_norm_backward(dout: np.ndarray, cache: tuple, w: np.ndarray, dw: np.ndarray, db: np.ndarray) -> np.ndarray:
    """The input gradient of _layer_norm; writes the weight and bias gradients into dw, db."""
    xhat, rstd = cache
    np.einsum("ij,ij->j", dout, xhat, out=dw)
    dout.sum(0, out=db)
    dxhat = dout * w
    c = xhat.shape[1]
    proj = np.einsum("ij,ij->i", dxhat, xhat)[:, None]
    proj *= 1 / c
    dx = xhat * proj
    np.subtract(dxhat, dx, out=dx)
    dx -= dxhat.mean(1, keepdims=True)
    dx *= rstd
    return dx


def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = x @ w.T
    out += b
    return out


def _linear_backward(dout: np.ndarray, x: np.ndarray, w: np.ndarray, dw: np.ndarray, db: np.ndarray) -> np.ndarray:
    np.matmul(dout.T, x, out=dw)
    dout.sum(0, out=db)
    return dout @ w


class NumpyGPT:
    """The GPT's parameters, in the tritensor model.parameters() order (tok_emb, pos_emb, then per block ln1 w,
    b, qkv w, b, proj w, b, ln2 w, b, fc1 w, b, fc2 w, b, then ln_f w, b; the head is tok_emb), with a
    forward+backward and an Adam step."""

    def __init__(self, params: list[np.ndarray], n_head: int, lr: float = 1e-3) -> None:
        self.opt = FlatAdam([np.asarray(p, np.float32) for p in params], lr=lr)
        self.n_head = n_head
        self.n_layer = (len(params) - 4) // PER_BLOCK
        block = params[1].shape[0]
        self.mask = np.triu(np.full((block, block), -np.inf, np.float32), 1)  # position t sees positions <= t

    @property
    def params(self) -> list[np.ndarray]:
        """The parameters (views of the optimizer's flat buffer)."""
        return self.opt.params

    @property
    def grads(self) -> list[np.ndarray]:
        """The gradients of the last forward_backward (views of the optimizer's flat gradient buffer)."""
        return self.opt.grads

    def _attention(self, a: np.ndarray, batch: int, time: int, k: int) -> tuple[np.ndarray, tuple]:
        """proj(causal softmax(q k^T / sqrt(d)) v) of ln1's output a (B*T, C), q, k, v from one qkv matmul."""
        wqkv, bqkv, wp, bp = self.params[k + 2:k + 6]
        c = a.shape[1]
        d = c // self.n_head
        qkv = _linear(a, wqkv, bqkv).reshape(batch, time, 3, self.n_head, d).transpose(2, 0, 3, 1, 4)
        q, kk, v = qkv[0], qkv[1], qkv[2]
        att = q @ kk.swapaxes(-1, -2)
        att *= 1 / math.sqrt(d)
        att += self.mask[:time, :time]
        att -= att.max(-1, keepdims=True)
        np.exp(att, out=att)
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(batch * time, c)
        return _linear(y, wp, bp), (a, q, kk, v, att, y)

    def _attention_backward(self, dout: np.ndarray, cache: tuple, k: int) -> np.ndarray:
        a, q, kk, v, att, y = cache
        wqkv, _, wp, _ = self.params[k + 2:k + 6]
        dwqkv, dbqkv, dwp, dbp = self.grads[k + 2:k + 6]
        batch, heads, time, d = q.shape
        dy = _linear_backward(dout, y, wp, dwp, dbp).reshape(batch, time, heads, d).transpose(0, 2, 1, 3)
        dqkv = np.empty((3, batch, heads, time, d), np.float32)
        np.matmul(att.swapaxes(-1, -2), dy, out=dqkv[2])
        datt = dy @ v.swapaxes(-1, -2)
        datt -= np.einsum("...ij,...ij->...i", datt, att)[..., None]
        datt *= att  # softmax's backward
        datt *= 1 / math.sqrt(d)
        np.matmul(datt, kk, out=dqkv[0])
        np.matmul(datt.swapaxes(-1, -2), q, out=dqkv[1])
        dqkv = dqkv.transpose(1, 3, 0, 2, 4).reshape(batch * time, 3 * heads * d)
        return _linear_backward(dqkv, a, wqkv, dwqkv, dbqkv)

    def _mlp(self, a: np.ndarray, k: int) -> tuple[np.ndarray, tuple]:
        """fc2(gelu(fc1(a))), exact (erf) GELU."""
        w1, b1, w2, b2 = self.params[k + 8:k + 12]
        h = _linear(a, w1, b1)
        cdf = erf(h * np.float32(1 / math.sqrt(2)))
        cdf += 1
        cdf *= 0.5
        return _linear(h * cdf, w2, b2), (a, h, cdf)  # gelu(h) is recomputed by the backward: one multiply

    def _mlp_backward(self, dout: np.ndarray, cache: tuple, k: int) -> np.ndarray:
        a, h, cdf = cache
        w1, _, w2, _ = self.params[k + 8:k + 12]
        dw1, db1, dw2, db2 = self.grads[k + 8:k + 12]
        dg = _linear_backward(dout, h * cdf, w2, dw2, db2)
        pdf = h * h
        pdf *= -0.5
        np.exp(pdf, out=pdf)
        pdf *= h * np.float32(1 / math.sqrt(2 * math.pi))
        pdf += cdf  # d gelu / dh = cdf + h * pdf
        dg *= pdf
        return _linear_backward(dg, a, w1, dw1, db1)

    def forward_backward(self, idx: np.ndarray, targets: np.ndarray) -> float:
        """The mean cross-entropy of the next-token logits of ids idx (B, T) against targets (B, T); fills
        `grads`."""
        p, gr = self.params, self.grads
        batch, time = idx.shape
        flat_idx = idx.reshape(-1)
        x = (p[0][idx] + p[1][:time]).reshape(batch * time, -1)
        caches = []
        for layer in range(self.n_layer):
            k = 2 + PER_BLOCK * layer
            a1, ln1 = _layer_norm(x, p[k], p[k + 1])
            att_out, att = self._attention(a1, batch, time, k)
            x += att_out
            a2, ln2 = _layer_norm(x, p[k + 6], p[k + 7])
            mlp_out, mlp = self._mlp(a2, k)
            x += mlp_out
            caches.append((ln1, att, ln2, mlp))
        af, lnf = _layer_norm(x, p[-2], p[-1])
        loss, dlogits = cross_entropy(af @ p[0].T, targets.reshape(-1))
        np.matmul(dlogits.T, af, out=gr[0])  # the tied head's share of tok_emb's gradient
        dx = _layer_norm_backward(dlogits @ p[0], lnf, p[-2], gr[-2], gr[-1])
        for layer in reversed(range(self.n_layer)):
            k = 2 + PER_BLOCK * layer
            ln1, att, ln2, mlp = caches.pop()  # a layer's activations go as soon as its backward has run
            dx += _layer_norm_backward(self._mlp_backward(dx, mlp, k), ln2, p[k + 6], gr[k + 6], gr[k + 7])
            dx += _layer_norm_backward(self._attention_backward(dx, att, k), ln1, p[k], gr[k], gr[k + 1])
        onehot = (flat_idx[:, None] == np.arange(len(p[0]))).astype(np.float32)
        gr[0] += onehot.T @ dx  # the embedding lookup's share
        dx.reshape(batch, time, -1).sum(0, out=gr[1][:time])
        if time < len(gr[1]):
            gr[1][time:] = 0
        return loss

    def step(self, idx: np.ndarray, targets: np.ndarray) -> float:
        """One training step (forward, backward, Adam) on (idx, targets); returns the loss."""
        loss = self.forward_backward(idx, targets)
        self.opt.step()
        return loss


def numpy_twin_gpt(model) -> NumpyGPT:
    """A NumpyGPT holding copies of the tritensor GPT's parameters (its head is tied to tok_emb)."""
    if model.head.weight is not model.tok_emb.weight:
        raise ValueError("NumpyGPT needs the head tied to the token embedding, as tritensor's GPT builds it")
    return NumpyGPT([p.detach().numpy().copy() for p in model.parameters()], model.blocks[0].attn.n_head)
