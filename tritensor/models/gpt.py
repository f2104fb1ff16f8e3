"""A GPT-2-style decoder-only transformer (as nanoGPT lays it out): token and position embeddings, pre-norm blocks
of causal self-attention (F.scaled_dot_product_attention) and a GELU MLP, a final LayerNorm, and an output head
whose weight is the token embedding's (weight tying)."""

from __future__ import annotations

import math

from .. import nn
from ..creation import arange
from ..nn import functional as F
from ..ops.linear_act import fusion_enabled
from ..tensor import Tensor

__all__ = ["GPT"]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions <= t; q, k and v come from one Linear."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        batch, time, channels = x.shape
        # (B, T, 3C) -> three (B, heads, T, C / heads) views: the split and the head transpose copy nothing.
        q, k, v = self.qkv(x).view(batch, time, 3, self.n_head, channels // self.n_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(batch, time, channels)))


class Block(nn.Module):
    """x + attn(ln1(x)), then + mlp(ln2(x)): pre-norm, so the residual path stays an identity."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd),
                                 nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        x, h = add_norm(x, self.attn(self.ln1(x)), self.ln2)
        return x + self.mlp(h)


def _plain(module: nn.Module) -> bool:
    return not (module._forward_hooks or module._forward_pre_hooks)


def add_norm(x: Tensor, delta: Tensor, ln: nn.Module) -> tuple[Tensor, Tensor]:
    """(x + delta, ln(x + delta)): one fused F.add_layer_norm (one kernel each way on cuda) when `ln` is a plain
    nn.LayerNorm without hooks (and no export is tracing), else the add and then the module call (hooks see the
    sum)."""
    if type(ln) is nn.LayerNorm and _plain(ln) and fusion_enabled():
        return F.add_layer_norm(x, delta, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
    x = x + delta
    return x, ln(x)


class GPT(nn.Module):
    """Character (or token) GPT: forward(idx) maps (B, T) int64 ids, T <= block_size, to (B, T, vocab_size) logits.

    Init as GPT-2: every Linear and Embedding weight N(0, 0.02), biases 0, and the projections that write into the
    residual stream N(0, 0.02 / sqrt(2 * n_layer)) so the stream's variance does not grow with depth."""

    def __init__(self, vocab_size: int, block_size: int = 64, n_layer: int = 4, n_head: int = 4, n_embd: int = 128,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight
        for name, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                residual = name.endswith("attn.proj") or name.endswith("mlp.2")
                nn.init.normal_(module.weight, 0.0, 0.02 / math.sqrt(2 * n_layer) if residual else 0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, idx: Tensor) -> Tensor:
        """(B, T) ids -> (B, T, vocab_size) logits."""
        time = idx.shape[-1]
        if time > self.block_size:
            raise ValueError(f"sequence length {time} exceeds the model's block_size {self.block_size}")
        x = self.drop(self.tok_emb(idx) + self.pos_emb(arange(time, device=idx.device)))
        if not all(_plain(block) for block in self.blocks) or not fusion_enabled():
            # a block's hooks must see its input and output; the exporter traces the unfused calls
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))
        # Each residual add is fused with the LayerNorm that reads its sum: ln2 inside a block, and a block's
        # closing add with the next block's ln1 (the last one's with ln_f). Same values as the loop above.
        h = self.blocks[0].ln1(x) if len(self.blocks) else self.ln_f(x)
        for i, block in enumerate(self.blocks):
            x, h = add_norm(x, block.attn(h), block.ln2)
            x, h = add_norm(x, block.mlp(h), self.blocks[i + 1].ln1 if i + 1 < len(self.blocks) else self.ln_f)
        return self.head(h)
