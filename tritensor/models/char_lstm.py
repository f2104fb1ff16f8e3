"""A character-level LSTM language model: an embedding, a stacked nn.LSTM and a linear read-out."""

from __future__ import annotations

from .. import nn
from ..tensor import Tensor

__all__ = ["CharLSTM"]


class CharLSTM(nn.Module):
    """forward(idx, state=None) maps (B, T) ids to ((B, T, vocab_size) logits, (h, c)); `state` carries the LSTM's
    (h, c) from a previous call, which is how generation feeds one character at a time."""

    def __init__(self, vocab_size: int, hidden: int = 256, num_layers: int = 2, dropout: float = 0.0,
                 sparse: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, hidden, sparse=sparse)  # sparse: for optim.SparseAdam
        self.lstm = nn.LSTM(hidden, hidden, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(B, T) ids -> ((B, T, vocab_size) logits, the final (h, c))."""
        out, state = self.lstm(self.embed(idx), state)
        return self.head(out), state
