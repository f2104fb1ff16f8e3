"""Fetchers: how one batch is built from a dataset given the sampler's indices (PyTorch's _MapDatasetFetcher
and _IterableDatasetFetcher). The main process (num_workers=0) and the worker processes use the same rules.

Batches of a TensorDataset (or a Subset of one) with the default collate are gathered with one indexing per
tensor instead of one per sample: the same values as stacking the samples, without a Python loop over the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..creation import from_numpy, tensor
from ..ops.index_select import index_select
from ..tensor import Tensor
from .dataset import Dataset, Subset, TensorDataset


def tensor_source(dataset: Dataset) -> Callable[[list[int]], list[Tensor]] | None:
    """For a TensorDataset (possibly inside Subsets) with tensors that are plain data, a function mapping a
    list of indices to the collated batch [t[indices] for t in tensors]; None otherwise."""
    chain = []
    base = dataset
    while type(base) is Subset:
        chain.append(base.indices)
        base = base.dataset
    if type(base) is not TensorDataset or any(t.requires_grad for t in base.tensors):
        return None
    tensors = base.tensors

    def gather(indices: list[int]) -> list[Tensor]:
        for mapping in chain:
            indices = [mapping[i] for i in indices]
        return [_take(t, indices) for t in tensors]

    return gather


def _take(t: Tensor, indices: list[int]) -> Tensor:
    if t.device.type == "cpu":
        return from_numpy(t.numpy()[np.asarray(indices, dtype=np.int64)])
    return index_select(t, 0, tensor(indices, device=t.device))


class MapFetcher:
    """index (or list of indices with auto-collation) -> collated batch of a map-style dataset."""

    def __init__(self, dataset: Dataset, auto_collation: bool, collate_fn: Callable, default_collate: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.tensors_of = tensor_source(dataset) if default_collate and auto_collation else None
        getitems = getattr(dataset, "__getitems__", None)
        self.getitems = getitems if callable(getitems) else None

    def fetch(self, index) -> Any:
        """The batch for `index` (a list of indices when batching, else one index)."""
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.tensors_of is not None:
            return self.tensors_of(index)
        data = self.getitems(index) if self.getitems is not None else [self.dataset[i] for i in index]
        return self.collate_fn(data)


class IterableFetcher:
    """The next batch of an iterable dataset's stream (its length is the length of the index list given);
    StopIteration once the stream is exhausted (or only a short batch is left and drop_last is set)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable, drop_last: bool) -> None:
        self.dataset_iter: Iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index) -> Any:
        """The next batch (index: a list as long as the batch when batching, else ignored)."""
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)
