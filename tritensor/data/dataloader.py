"""DataLoader: batches from a dataset through a sampler and a collate function (PyTorch's API and
argument rules). Loading runs in the main process (num_workers=0); worker processes come later.

Batches of a TensorDataset (or a Subset of one) with the default collate are gathered with one
indexing per tensor instead of one per sample — the same values as stacking the samples, without a
Python-level loop over the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..creation import from_numpy, tensor
from ..ops.index_select import index_select
from ..tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterate over `dataset` in batches.

    batch_size: samples per batch (None: no batching, each sample goes through default_convert).
    shuffle: a new random order each epoch (RandomSampler with `generator`). sampler / batch_sampler:
    explicit index orders (mutually exclusive with shuffle, and batch_sampler with batch_size, sampler and
    drop_last). collate_fn: list of samples -> batch (default_collate). drop_last: skip a short last batch.

    Examples:
        >>> ds = tt.data.TensorDataset(tt.arange(5), tt.arange(5) * 2)
        >>> [x.tolist() for x, y in tt.data.DataLoader(ds, batch_size=2)]
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers)
        if isinstance(dataset, IterableDataset):
            _check_iterable_options(shuffle, sampler, batch_sampler)
        shuffle = bool(shuffle)
        batch_size, drop_last = _check_batching(shuffle, sampler, batch_sampler, batch_size, drop_last)
        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.pin_memory = pin_memory  # accepted for compatibility: host memory is never pinned here
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.__initialized = True

    def __setattr__(self, attr: str, value) -> None:
        if self.__dict__.get("_DataLoader__initialized") and attr in _FROZEN:
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (isinstance(self.dataset, IterableDataset)
                                                  and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> Iterator:
        if isinstance(self.dataset, IterableDataset):
            return self._iter_stream()
        return self._iter_map()

    def _iter_map(self) -> Iterator:
        dataset = self.dataset
        if not self._auto_collation:
            for index in self.sampler:
                yield self.collate_fn(dataset[index])
            return
        tensors_of = _tensor_source(dataset) if self._default_collate else None
        getitems = getattr(dataset, "__getitems__", None)
        for indices in self.batch_sampler:
            if tensors_of is not None:
                yield tensors_of(indices)
                continue
            data = getitems(indices) if callable(getitems) else [dataset[i] for i in indices]
            yield self.collate_fn(data)

    def _iter_stream(self) -> Iterator:
        it = iter(self.dataset)
        if self.batch_size is None:
            for sample in it:
                yield self.collate_fn(sample)
            return
        while True:
            batch = []
            for sample in it:
                batch.append(sample)
                if len(batch) == self.batch_size:
                    break
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)
            if len(batch) < self.batch_size:
                return

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else -(-length // self.batch_size)
            return length
        return len(self._index_sampler)


def _check_worker_options(num_workers: int, timeout: float, prefetch_factor: int | None,
                          persistent_workers: bool) -> None:
    """PyTorch's checks of the multiprocessing options (loading runs in the main process here)."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                         "multiprocessing.")
    if num_workers > 0:
        raise NotImplementedError(f"num_workers={num_workers}: worker processes come in a later version of "
                                  "tritensor; use num_workers=0 (loading in the main process)")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                         "to enable multiprocessing, otherwise set prefetch_factor to None.")
    if persistent_workers:
        raise ValueError("persistent_workers option needs num_workers > 0")


def _check_iterable_options(shuffle: bool | None, sampler, batch_sampler) -> None:
    """An IterableDataset yields its own order: no shuffle, sampler or batch_sampler."""
    if shuffle not in (False, None):
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                         f"shuffle={shuffle}")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                         f"sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                         f"got batch_sampler={batch_sampler}")


def _check_batching(shuffle: bool, sampler, batch_sampler, batch_size: int | None,
                    drop_last: bool) -> tuple[int | None, bool]:
    """The exclusive option pairs; returns (batch_size, drop_last), both cleared by a batch_sampler."""
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                             "drop_last")
        return None, False
    if batch_size is None and drop_last:
        raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                         "drop_last")
    return batch_size, drop_last


def _tensor_source(dataset: Dataset) -> Callable[[list[int]], list[Tensor]] | None:
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
