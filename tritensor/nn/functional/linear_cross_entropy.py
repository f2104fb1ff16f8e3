"""nn.functional.linear_cross_entropy (a tritensor extension): the cross-entropy of a linear layer's output
computed a chunk of rows at a time, never materialising the (N, V) logits (tritensor/ops/linear_cross_entropy.py).
"""

from __future__ import annotations

from ...ops.linear_cross_entropy import linear_cross_entropy

__all__ = ["linear_cross_entropy"]
