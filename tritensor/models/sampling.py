"""Autoregressive sampling: temperature and top-k over the last position's logits, one token per step."""

from __future__ import annotations

from ..autograd import no_grad
from ..creation import tensor as make_tensor
from ..nn import functional as F
from ..ops.sampling import multinomial
from ..ops.sort import topk
from ..tensor import Tensor
from .char_lstm import CharLSTM

__all__ = ["generate", "sample_next"]


def sample_next(logits: Tensor, temperature: float = 1.0, top_k: int | None = None, generator=None) -> Tensor:
    """One id per row of (B, vocab) logits: softmax(logits / temperature) restricted to the top_k largest, sampled
    with `generator`. Returns (B, 1) int64."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = logits / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        kth = topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return multinomial(F.softmax(logits, dim=-1), 1, generator=generator)


def generate(model, ids: list[int], tokens: int, *, temperature: float = 1.0, top_k: int | None = None,
             generator=None, device=None) -> list[int]:
    """`ids` followed by `tokens` sampled ids. A GPT sees the last block_size ids at every step; a CharLSTM reads the
    prompt once and then one id at a time, carrying its state."""
    if not ids:
        raise ValueError("the prompt must hold at least one character")
    model.eval()
    out = list(ids)
    with no_grad():
        if isinstance(model, CharLSTM):
            logits, state = model(make_tensor([out], device=device))
            for _ in range(tokens):
                nxt = sample_next(logits[:, -1, :], temperature, top_k, generator)
                out.append(int(nxt.item()))
                logits, state = model(nxt, state)
            return out
        for _ in range(tokens):
            context = make_tensor([out[-model.block_size:]], device=device)
            out.append(int(sample_next(model(context)[:, -1, :], temperature, top_k, generator).item()))
    return out
