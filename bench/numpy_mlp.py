"""A hand-written NumPy twin of one tritensor MLP training step (Linear -> ReLU -> Linear, mean cross-entropy from
class indices, torch.optim.Adam's update), written for speed: float32 throughout, the forward's softmax buffer
turned into the logits' gradient in place, one scratch buffer per parameter for Adam's in-place update, the
ReLU mask applied with `copyto(where=)`. bench/test_mlp_step_bench.py times it against tritensor in the same run.
"""

from __future__ import annotations

import math

import numpy as np


class NumpyMLP:
    """params: [w1 (H, D), b1 (H,), w2 (C, H), b2 (C,)] float32 arrays, updated in place by `step`."""

    def __init__(self, params: list[np.ndarray], lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = params
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.scratch = [np.empty_like(p) for p in params]
        self.t = 0

    def grads(self, x: np.ndarray, y: np.ndarray) -> tuple[np.float32, list[np.ndarray]]:
        """(mean cross-entropy, [dw1, db1, dw2, db2]) of one batch."""
        w1, b1, w2, b2 = self.params
        n = len(y)
        rows = np.arange(n)
        h = x @ w1.T
        h += b1
        a = np.maximum(h, 0, out=h)
        logits = a @ w2.T
        logits += b2
        m = logits.max(1)
        e = np.subtract(logits, m[:, None])
        np.exp(e, out=e)
        total = e.sum(1)
        loss = np.float32((np.log(total) + m - logits[rows, y]).mean())
        e *= (1 / (total * n))[:, None]  # d loss / d logits = (softmax - onehot) / n, in the exp's buffer
        e[rows, y] -= np.float32(1 / n)
        d_a = e @ w2
        np.copyto(d_a, 0, where=a <= 0)
        return loss, [d_a.T @ x, d_a.sum(0), e.T @ a, e.sum(0)]

    def step(self, x: np.ndarray, y: np.ndarray) -> np.float32:
        loss, grads = self.grads(x, y)
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step_size = self.lr / (1 - b1 ** self.t)
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        for p, g, m, v, s in zip(self.params, grads, self.m, self.v, self.scratch):
            np.subtract(g, m, out=s)  # m = lerp(m, g, 1 - beta1)
            s *= 1 - b1
            m += s
            v *= b2  # v = beta2 v + (1 - beta2) g^2
            np.multiply(g, g, out=s)
            s *= 1 - b2
            v += s
            np.sqrt(v, out=s)  # p -= step_size * m / (sqrt(v) / sqrt(bc2) + eps)
            s /= bc2_sqrt
            s += self.eps
            np.divide(m, s, out=s)
            s *= step_size
            p -= s
        return loss
