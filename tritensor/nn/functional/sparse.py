"""nn.functional's embedding and embedding_bag (ops of ops/embedding.py and ops/embedding_bag.py)."""

from __future__ import annotations

from ...ops.embedding import embedding as _embedding
from ...ops.embedding import embedding_renorm_
from ...ops.embedding_bag import embedding_bag
from ...tensor import Tensor

__all__ = ["embedding", "embedding_bag"]


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,  # noqa: A002
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of `weight` (num_embeddings, embedding_dim) at the indices `input`: shape input.shape +
    (embedding_dim,). padding_idx's row gets no gradient (negative counts from the end); max_norm first
    rescales, in place and without autograd, every looked-up row whose norm_type-norm exceeds it; sparse=True
    makes the weight's gradient a sparse COO tensor."""
    if padding_idx is not None:
        n = weight.size(0)
        if padding_idx > 0:
            if padding_idx >= n:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = n + padding_idx
    else:
        padding_idx = -1
    if max_norm is not None:
        input = input.contiguous()  # noqa: A001
        embedding_renorm_(weight, input, max_norm, norm_type)
    return _embedding(weight, input, padding_idx, scale_grad_by_freq, sparse)
