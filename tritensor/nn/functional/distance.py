"""nn.functional's distances and similarities (ops of ops/distance.py)."""

from __future__ import annotations

from ...ops.distance import cosine_similarity, normalize, pairwise_distance, pdist

__all__ = ["cosine_similarity", "normalize", "pairwise_distance", "pdist"]
