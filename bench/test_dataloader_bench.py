"""DataLoader throughput: num_workers=2 against num_workers=0 in the same run (compare means within one group;
the machine is shared, nothing here asserts on time).

- dataloader-cpu-2ms: a dataset doing ~2 ms of pure-Python CPU work per item (calibrated at start, not a sleep),
  64 items in batches of 8 per epoch. With 2 cores, 2 workers should approach twice the throughput.
- dataloader-images-256x3x64x64: batches of 256 float32 images (12.6 MB) stacked by default_collate: in the
  main process (num_workers=0), or by the workers straight into shared memory and mapped zero-copy here.

The worker loaders are persistent (workers start once, before timing) and use the "fork" start method.
"""

import math
import time

import numpy as np
import pytest

from tritensor.data import DataLoader, Dataset

ITEMS, BATCH = 64, 8
IMAGES, IMAGE_BATCH = 2048, 256


def _work(n: int) -> float:
    x = 0.0
    for i in range(n):
        x = math.sqrt(x + i)
    return x


@pytest.fixture(scope="module")
def loop_count() -> int:
    """Iterations of `_work` that take about 2 ms here."""
    n = 20000
    start = time.perf_counter()
    _work(n)
    return max(1, int(n * 0.002 / (time.perf_counter() - start)))


class CpuBound(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return ITEMS

    def __getitem__(self, i):
        return np.float32(_work(self.n)), i


class Images(Dataset):
    def __init__(self) -> None:
        self.data = np.random.default_rng(0).standard_normal((IMAGES, 3, 64, 64), dtype=np.float32)

    def __len__(self) -> int:
        return IMAGES

    def __getitem__(self, i):
        return self.data[i], i


def _epoch(loader) -> int:
    return sum(1 for _ in loader)


def _run(benchmark, loader, batches: int) -> None:
    assert _epoch(loader) == batches  # warm-up: workers started, first pages mapped
    assert benchmark.pedantic(_epoch, args=(loader,), rounds=5, iterations=1) == batches


@pytest.mark.benchmark(group="dataloader-cpu-2ms")
def test_cpu_bound_in_main_process(benchmark, loop_count):
    _run(benchmark, DataLoader(CpuBound(loop_count), batch_size=BATCH), ITEMS // BATCH)


@pytest.mark.benchmark(group="dataloader-cpu-2ms")
def test_cpu_bound_two_workers(benchmark, loop_count):
    loader = DataLoader(CpuBound(loop_count), batch_size=BATCH, num_workers=2, persistent_workers=True,
                        multiprocessing_context="fork")
    _run(benchmark, loader, ITEMS // BATCH)


@pytest.mark.benchmark(group="dataloader-images-256x3x64x64")
def test_images_in_process_collate(benchmark):
    _run(benchmark, DataLoader(Images(), batch_size=IMAGE_BATCH), IMAGES // IMAGE_BATCH)


@pytest.mark.benchmark(group="dataloader-images-256x3x64x64")
def test_images_two_workers_shared_memory(benchmark):
    loader = DataLoader(Images(), batch_size=IMAGE_BATCH, num_workers=2, persistent_workers=True,
                        multiprocessing_context="fork")
    _run(benchmark, loader, IMAGES // IMAGE_BATCH)
