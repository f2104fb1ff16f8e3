"""DataLoader: batches from a dataset through a sampler and a collate function (PyTorch's API and
argument rules). num_workers=0 loads in the main process; num_workers > 0 starts worker processes that build
the batches and hand them back through shared memory (worker.py, worker_iter.py, shared_batches.py).

Batches of a TensorDataset (or a Subset of one) with the default collate are gathered with one indexing per
tensor instead of one per sample (fetch.tensor_source).
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .. import cuda
from .. import random as tt_random
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .fetch import tensor_source
from .pin_memory import pin_memory, pinning_available
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .worker_iter import MultiProcessingIter, check_worker_number_rationality

_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterate over `dataset` in batches.

    batch_size: samples per batch (None: no batching, each sample goes through default_convert).
    shuffle: a new random order each epoch (RandomSampler with `generator`). sampler / batch_sampler:
    explicit index orders (mutually exclusive with shuffle, and batch_sampler with batch_size, sampler and
    drop_last). collate_fn: list of samples -> batch (default_collate). drop_last: skip a short last batch.

    num_workers > 0: that many worker processes (started with `multiprocessing_context`: a start method name,
    a context, or the platform's default) each build whole batches, `prefetch_factor` (default 2) batches per
    worker ahead; tensors come back through shared memory, without pickling their data. Batches arrive in
    sampler order (in_order=False: as they are ready). Each worker seeds tt's default generator, `random` and
    NumPy's global RNG from `base_seed + worker_id` (base_seed drawn anew for each iterator from `generator`,
    or from tt's default generator) and runs `worker_init_fn(worker_id)`; `get_worker_info()` describes it. An
    IterableDataset is iterated by every worker (its own copy): sharding it is the dataset's job, through
    `get_worker_info()`. persistent_workers keeps the workers across epochs. timeout: seconds to wait for a
    batch before raising (0: forever). A worker's exception is raised again here with its traceback; a worker
    that dies raises a RuntimeError naming it within a second.

    pin_memory: copy batches into page-locked host memory, so `.to("cuda", non_blocking=True)` can be
    asynchronous. Only with a CUDA GPU: without one (and under TRITON_INTERPRET=1) batches are returned
    unchanged.

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
        prefetch_factor = _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers)
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
        self.pin_memory = pin_memory
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
        self._iterator = None  # the persistent workers' iterator
        self._iterators_made = 0
        self.__initialized = True
        advice = check_worker_number_rationality(num_workers)
        if advice is not None:
            warnings.warn(advice, stacklevel=2)

    @property
    def multiprocessing_context(self):
        """The multiprocessing context workers are started with (None: the platform's default start method).
        Settable with a context or a start method name, as in PyTorch."""
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        self._multiprocessing_context = _check_context(context, self.num_workers)

    def __setattr__(self, attr: str, value) -> None:
        if self.__dict__.get("_DataLoader__initialized") and attr in _FROZEN:
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (isinstance(self.dataset, IterableDataset)
                                                  and self.batch_size is not None)

    @property
    def _iterable(self) -> bool:
        return isinstance(self.dataset, IterableDataset)

    @property
    def _index_sampler(self):
        if self._iterable:  # each task is "the next batch (or sample) of the worker's stream"
            return _InfiniteIndices(self.batch_size if self._auto_collation else None)
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> Iterator:
        pin = self._pin_fn()
        if self.num_workers == 0:
            it = self._iter_stream() if self._iterable else self._iter_map()
            return it if pin is None else map(pin, it)
        if self.persistent_workers:
            if self._iterator is None:
                self._iterator = self._worker_iterator()
            else:
                self._iterator._reset()
            return self._iterator
        return self._worker_iterator()

    def _worker_iterator(self) -> MultiProcessingIter:
        return MultiProcessingIter(self, self._base_seed())

    def _base_seed(self) -> int:
        """The workers' base seed for a new iterator: a draw from `generator` (or tt's default generator) mixed
        with the number of iterators made so far. The draw reads the generator without advancing it, so the
        sampler shuffles exactly as with num_workers=0 (PyTorch advances it by one draw in both cases)."""
        gen = self.generator if self.generator is not None else tt_random.default_generator
        state = gen.get_state()
        drawn = int(gen.numpy.integers(0, 2**63 - 1))
        gen.set_state(state)
        self._iterators_made += 1
        words = np.random.SeedSequence([drawn, self._iterators_made]).generate_state(2, np.uint64)
        return int(words[0]) & (2**63 - 1)

    def _pin_fn(self) -> Callable | None:
        """The function pinning each batch, or None when pin_memory is off or there is no GPU to pin for."""
        if not self.pin_memory:
            return None
        if not cuda.is_available():
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                          "memory won't be used.", stacklevel=3)
        return pin_memory if pinning_available() else None

    def _iter_map(self) -> Iterator:
        dataset = self.dataset
        if not self._auto_collation:
            for index in self.sampler:
                yield self.collate_fn(dataset[index])
            return
        tensors_of = tensor_source(dataset) if self._default_collate else None
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
                          persistent_workers: bool) -> int | None:
    """PyTorch's checks of the multiprocessing options; returns prefetch_factor (2 by default with workers)."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                         "multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                         "to enable multiprocessing, otherwise set prefetch_factor to None.")
    if num_workers > 0 and prefetch_factor is None:
        prefetch_factor = 2
    elif prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    return prefetch_factor


def _check_context(context, num_workers: int):
    """PyTorch's multiprocessing_context rules: a start method name becomes its context; workers required."""
    if context is None:
        return None
    if num_workers == 0:
        raise ValueError("multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                         f"but got num_workers={num_workers}")
    if isinstance(context, str):
        valid = multiprocessing.get_all_start_methods()
        if context not in valid:
            raise ValueError(f"multiprocessing_context option should specify a valid start method in {valid!r}, "
                             f"but got multiprocessing_context={context!r}")
        context = multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError("multiprocessing_context option should be a valid context object or a string specifying "
                        f"the start method, but got multiprocessing_context={context}")
    return context


class _InfiniteIndices:
    """The tasks of an IterableDataset's workers: [None] * batch_size forever (None without batching)."""

    def __init__(self, batch_size: int | None) -> None:
        self.batch_size = batch_size

    def __iter__(self) -> Iterator:
        item = None if self.batch_size is None else [None] * self.batch_size
        while True:
            yield item


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
