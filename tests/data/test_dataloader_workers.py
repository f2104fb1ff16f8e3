"""DataLoader(num_workers > 0): worker processes, shared-memory batches, seeding, errors, clean-up, pin_memory.

The reference for every batch is the same loader with num_workers=0. Worker processes use the "fork" start method
(fast) except one test of "spawn" (pickled dataset and arguments). Clean-up is checked by the worker processes'
liveness and by the /dev/shm segments named with this process's id (other processes on the machine may create
their own segments meanwhile, so only ours are counted).
"""

import collections
import gc
import mmap
import multiprocessing
import os
import random
import signal
import time

import numpy as np
import pytest

import tritensor as tt
from tritensor.data import DataLoader, Dataset, IterableDataset, TensorDataset, default_collate
from tritensor.data import pin_memory as pin_module
from tritensor.data.worker import WorkerInfo, generate_state, get_worker_info

FORK = dict(multiprocessing_context="fork")
Pair = collections.namedtuple("Pair", "a b")


class Mixed(Dataset):
    """Samples of every kind default_collate handles: tensors, arrays, numbers, strings, dicts, namedtuples."""

    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"image": np.full((3, 4, 5), i, np.float32), "label": i, "w": float(i) / 4, "name": f"s{i}",
                "pair": Pair(tt.tensor([i, -i], dtype=tt.int16), np.zeros((0, 2), np.float64)),
                "mask": tt.tensor([i % 2 == 0, True]), "half": tt.full((2,), i, dtype=tt.bfloat16)}


class Images(Dataset):
    """Big enough for the batch tensors to be stacked straight into shared memory."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return np.full((3, 32, 32), i, np.float32), i


class Sharded(IterableDataset):
    """range(n), each worker taking every num_workers-th item (the dataset's own sharding)."""

    def __init__(self, n, shard=True):
        self.n = n
        self.shard = shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


_init_draws = {}


def _record_init(worker_id):
    _init_draws["init"] = (worker_id, random.random(), float(np.random.random_sample()), tt.rand(()).item())


class Seeds(Dataset):
    """Each sample: the worker's info, and the first draws of its three RNGs (made by worker_init_fn)."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        wid, r, n, t = _init_draws["init"]
        return {"id": info.id, "num_workers": info.num_workers, "seed": info.seed, "same": info.dataset is self,
                "init_id": wid, "random": r, "numpy": n, "tt": t}


class Failing(Dataset):
    def __init__(self, exc=ValueError):
        self.exc = exc

    def __len__(self):
        return 16

    def __getitem__(self, i):
        if i == 5:
            raise self.exc("bad sample 5")
        return i


class Killing(Dataset):
    """Item 5 kills the worker that loads it, as the OOM killer would."""

    def __len__(self):
        return 16

    def __getitem__(self, i):
        if i == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3 if i == 1 else 0)
        return i


class Pids(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        return os.getpid()


def _ours():
    """This process's shared-memory segments still named in /dev/shm."""
    return [n for n in os.listdir("/dev/shm") if n.startswith(f"tt{os.getpid()}_")]


def _assert_gone(pids):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        multiprocessing.active_children()  # reaps the exited workers
        if not [p for p in pids if os.path.exists(f"/proc/{p}")]:
            break
        time.sleep(0.05)
    assert [p for p in pids if os.path.exists(f"/proc/{p}")] == []
    assert multiprocessing.active_children() == []
    assert _ours() == []


def _same(a, b):
    """Batches equal in structure, types, dtypes and values."""
    assert type(a) is type(b)
    if isinstance(a, tt.Tensor):
        assert a.dtype is b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.float().numpy(), b.float().numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b


# ------------------------------------------------------------------ the same batches as num_workers=0
@pytest.mark.parametrize("kwargs", [dict(batch_size=4), dict(batch_size=5, drop_last=True), dict(batch_size=None),
                                    dict(batch_size=3, shuffle=True)])
def test_map_style_matches_single_process(kwargs):
    gen = dict(generator=tt.Generator().manual_seed(7)) if kwargs.get("shuffle") else {}
    expected = list(DataLoader(Mixed(), num_workers=0, **kwargs, **gen))
    gen = dict(generator=tt.Generator().manual_seed(7)) if kwargs.get("shuffle") else {}
    got = list(DataLoader(Mixed(), num_workers=2, prefetch_factor=3, **kwargs, **gen, **FORK))
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        _same(a, b)
    assert _ours() == []


def test_tensor_dataset_shuffle_with_default_generator_matches():
    x = tt.tensor(np.arange(40, dtype=np.float32).reshape(20, 2))
    ds = TensorDataset(x, tt.arange(20))
    tt.manual_seed(3)
    expected = [b[1].tolist() for b in DataLoader(ds, batch_size=6, shuffle=True)]
    tt.manual_seed(3)
    got = [b[1].tolist() for b in DataLoader(ds, batch_size=6, shuffle=True, num_workers=2, **FORK)]
    assert got == expected and sorted(sum(got, [])) == list(range(20))


def _mapped(arr):
    """Whether an array's memory is an mmap (a shared-memory segment), following the chain of bases."""
    base = arr
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", getattr(base, "raw", None))
    return base is not None


def test_batches_are_zero_copy_views_of_recycled_shared_memory():
    loader = DataLoader(Images(), batch_size=1, num_workers=2, collate_fn=_numpy_and_tensors, persistent_workers=True,
                        **FORK)
    for _ in range(3):
        for images, labels, arrays in loader:
            assert images.shape == (1, 3, 32, 32) and images.dtype is tt.float32
            assert _mapped(images.numpy()) and _mapped(labels.numpy()) and _mapped(arrays)  # not unpickled
            np.testing.assert_array_equal(arrays, labels.numpy() * 2)
            np.testing.assert_array_equal(images.numpy(), np.full((1, 3, 32, 32), labels.item(), np.float32))
            images.numpy()[...] = -1  # batches are writable
    # 36 batches went through a few segments per worker: each is reused once its batch is freed here
    assert 0 < len(_ours()) <= 16
    big = list(DataLoader(Images(), batch_size=12, num_workers=1, **FORK))[0][0]  # its own segment
    assert _mapped(big.numpy()) and big.numpy()[5].max() == 5
    del loader
    gc.collect()
    assert _ours() == []  # every name is unlinked once the workers stop
    assert big.numpy()[7].min() == 7  # the mapping outlives the name and the workers


def _numpy_and_tensors(samples):
    images, labels = default_collate(samples)
    return images, labels, labels.numpy() * 2


def test_iterable_dataset_sharded_gives_every_item_once():
    items = [v for b in DataLoader(Sharded(23), batch_size=4, num_workers=2, **FORK) for v in b.tolist()]
    assert sorted(items) == list(range(23))
    # unsharded, each worker iterates its own copy of the whole stream (as PyTorch)
    items = [v for b in DataLoader(Sharded(5, shard=False), batch_size=2, num_workers=2, **FORK) for v in b.tolist()]
    assert sorted(items) == sorted(list(range(5)) * 2)
    items = [b for b in DataLoader(Sharded(7), batch_size=None, num_workers=2, **FORK)]
    assert sorted(items) == list(range(7))
    assert sum(1 for _ in DataLoader(Sharded(9), batch_size=2, drop_last=True, num_workers=2, **FORK)) == 4


def test_in_order_false_delivers_every_batch():
    batches = [b.tolist() for b in DataLoader(Slow(), batch_size=1, num_workers=2, in_order=False, **FORK)]
    assert sorted(batches) == [[0], [1], [2], [3]]


def test_spawn_context():
    ctx = multiprocessing.get_context("spawn")
    got = list(DataLoader(Mixed(6), batch_size=4, num_workers=1, multiprocessing_context=ctx))
    for a, b in zip(got, DataLoader(Mixed(6), batch_size=4)):
        _same(a, b)
    assert len(got) == 2


# ------------------------------------------------------------------ seeding, worker_init_fn, get_worker_info
def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    loader = DataLoader(Seeds(), batch_size=None, num_workers=2, worker_init_fn=_record_init,
                        generator=tt.Generator().manual_seed(1), **FORK)
    epoch1 = list(loader)
    seeds = {s["id"]: s["seed"] for s in epoch1}
    assert sorted(seeds) == [0, 1] and seeds[1] == seeds[0] + 1
    base = seeds[0]
    for s in epoch1:
        assert s["num_workers"] == 2 and s["same"] and s["init_id"] == s["id"]
        seed = base + s["id"]
        assert s["random"] == random.Random(seed).random()
        assert s["numpy"] == np.random.RandomState(generate_state(base, s["id"])).random_sample()
        assert s["tt"] == tt.rand((), generator=tt.Generator().manual_seed(seed)).item()
    again = list(DataLoader(Seeds(), batch_size=None, num_workers=2, worker_init_fn=_record_init,
                            generator=tt.Generator().manual_seed(1), **FORK))
    assert [s["seed"] for s in again] == [s["seed"] for s in epoch1]  # reproducible
    assert list(loader)[0]["seed"] != base  # each epoch draws a new base seed
    info = WorkerInfo(id=0, num_workers=1, seed=3, dataset=None)
    assert repr(info) == "WorkerInfo(id=0, num_workers=1, seed=3, dataset=None)"
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        info.id = 1


def test_generate_state_is_seed_sequence():
    for base, wid in [(0, 0), (2**40 + 5, 3), (2**63 - 1, 1)]:
        expected = np.random.SeedSequence([wid, base & 0xFFFFFFFF, base >> 32, 0]).generate_state(4)
        assert generate_state(base, wid) == expected.tolist()


# ------------------------------------------------------------------ errors surface, nothing hangs or leaks
def test_worker_exception_is_reraised_with_its_traceback():
    start = time.monotonic()
    with pytest.raises(ValueError) as info:
        list(DataLoader(Failing(), batch_size=2, num_workers=2, **FORK))
    message = str(info.value)
    assert message.startswith("Caught ValueError in DataLoader worker process ")
    assert "Original Traceback (most recent call last):" in message and "in __getitem__" in message
    assert "ValueError: bad sample 5" in message
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process"):
        list(DataLoader(Failing(KeyError), batch_size=2, num_workers=2, **FORK))
    with pytest.raises(ZeroDivisionError, match="Caught ZeroDivisionError in DataLoader worker process 0"):
        list(DataLoader(Failing(), num_workers=1, worker_init_fn=lambda wid: 1 / 0, **FORK))
    assert time.monotonic() - start < 10
    del info
    gc.collect()
    _assert_gone([])


def test_iterating_continues_after_a_worker_exception():
    it = iter(DataLoader(Failing(), batch_size=2, num_workers=2, **FORK))
    assert [next(it).tolist() for _ in range(2)] == [[0, 1], [2, 3]]
    with pytest.raises(ValueError):
        next(it)
    assert [b.tolist() for b in it] == [[6, 7], [8, 9], [10, 11], [12, 13], [14, 15]]


def test_killed_worker_raises_naming_it():
    start = time.monotonic()
    loader = DataLoader(Killing(), batch_size=2, num_workers=2, **FORK)
    with pytest.raises(RuntimeError, match=r"DataLoader worker 0 \(pid \d+\) is killed by signal: Killed\."):
        for _ in loader:
            pass
    assert time.monotonic() - start < 10
    _assert_gone([])


def test_timeout():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=2, num_workers=1, timeout=0.5, **FORK))
    assert time.monotonic() - start < 2.5
    gc.collect()
    _assert_gone([])


def test_no_leaks_after_gc_break_and_error():
    loader = DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=True, **FORK)
    pids = {p for b in loader for p in b.tolist()}
    assert len(pids) == 2
    del loader
    gc.collect()
    _assert_gone(pids)

    for batch in DataLoader(Pids(), batch_size=2, num_workers=2, prefetch_factor=4, **FORK):
        pids = set(batch.tolist())
        break  # the other batches are in flight, in shared memory
    gc.collect()
    _assert_gone(pids)

    try:
        for _batch in DataLoader(Failing(), batch_size=2, num_workers=2, **FORK):
            pass
    except ValueError:
        pass
    _assert_gone([])


def test_persistent_workers_are_reused_across_epochs():
    loader = DataLoader(Pids(), batch_size=3, num_workers=2, persistent_workers=True, **FORK)
    it = iter(loader)
    first = {p for b in it for p in b.tolist()}
    it2 = iter(loader)
    assert it2 is it
    for _batch in it2:
        break  # an unfinished epoch: its remaining batches are dropped when the next one starts
    assert {p for b in loader for p in b.tolist()} == first and len(first) == 2
    streams = DataLoader(Sharded(10), batch_size=3, num_workers=2, persistent_workers=True, **FORK)
    for _ in range(2):
        assert sorted(v for b in streams for v in b.tolist()) == list(range(10))
    del loader, it, it2, streams
    gc.collect()
    _assert_gone(first)


# ------------------------------------------------------------------ bad input, collate errors
def test_argument_errors():
    ds = TensorDataset(tt.arange(4))
    with pytest.raises(ValueError, match="num_workers option should be non-negative; use num_workers=0"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="prefetch_factor option should be non-negative"):
        DataLoader(ds, num_workers=1, prefetch_factor=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="multiprocessing_context can only be used with multi-process loading"):
        DataLoader(ds, multiprocessing_context="fork")
    with pytest.raises(ValueError, match="multiprocessing_context option should specify a valid start method in"):
        DataLoader(ds, num_workers=1, multiprocessing_context="threads")
    with pytest.raises(TypeError, match="multiprocessing_context option should be a valid context object"):
        DataLoader(ds, num_workers=1, multiprocessing_context=3)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, num_workers=1, shuffle=True, sampler=[0])
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive with batch_size, shuffle"):
        DataLoader(ds, num_workers=1, batch_sampler=[[0]], drop_last=True)
    with pytest.raises(AssertionError, match="prefetch_factor must be positive"):
        iter(DataLoader(ds, num_workers=1, prefetch_factor=0))
    loader = DataLoader(ds, num_workers=2, **FORK)
    assert loader.prefetch_factor == 2 and loader.multiprocessing_context.get_start_method() == "fork"
    with pytest.warns(UserWarning, match="This DataLoader will create 4096 worker processes in total"):
        DataLoader(ds, num_workers=4096)


class Ragged(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"label": i, "image": np.zeros((3, 4 + (i == 2)), np.float32)}


def test_inconsistent_shapes_name_the_field():
    msg = r"stack expects each tensor to be equal size, but got \[3, 4\] at entry 0 and \[3, 5\] at entry 2 " \
          r"\(collating field \['image'\] of the samples\)"
    with pytest.raises(RuntimeError, match=msg):
        list(DataLoader(Ragged(), batch_size=4))
    with pytest.raises(RuntimeError, match=r"Caught RuntimeError in DataLoader worker process 0(.|\n)*" + msg):
        list(DataLoader(Ragged(), batch_size=4, num_workers=1, **FORK))
    nested = [(tt.zeros(2), {"x": tt.zeros(1)}), (tt.zeros(2), {"x": tt.zeros(2)})]
    with pytest.raises(RuntimeError, match=r"at entry 1 \(collating field \[1\]\['x'\] of the samples\)"):
        default_collate(nested)


# ------------------------------------------------------------------ pin_memory
def test_pin_memory_is_a_no_op_without_a_gpu():
    ds = TensorDataset(tt.arange(6), tt.arange(6) * 2)
    for workers in (0, 2):
        got = [[t.tolist() for t in b] for b in DataLoader(ds, batch_size=4, pin_memory=True, num_workers=workers,
                                                           **(FORK if workers else {}))]
        assert got == [[[0, 1, 2, 3], [0, 2, 4, 6]], [[4, 5], [8, 10]]]
    t = tt.arange(3)
    assert pin_module.pin_tensor(t) is t and pin_module.pin_memory({"a": t})["a"] is t


def test_pin_memory_warns_without_any_accelerator(monkeypatch):
    monkeypatch.setattr(tt.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator is found"):
        batches = list(DataLoader(TensorDataset(tt.arange(3)), batch_size=2, pin_memory=True))
    assert [b[0].tolist() for b in batches] == [[0, 1], [2]]


class _FakePinnedDriver:
    """cuMemHostAlloc & co. over ctypes host memory: the pinning path runs as on a GPU."""

    CU_MEMHOSTALLOC_PORTABLE = 1

    def __init__(self):
        import ctypes

        self.ctypes = ctypes
        self.live = {}

    def cuMemHostAlloc(self, nbytes, flags):  # noqa: N802 - cuda.bindings' name
        buf = self.ctypes.create_string_buffer(nbytes)
        self.live[self.ctypes.addressof(buf)] = buf
        return 0, self.ctypes.addressof(buf)

    def cuMemFreeHost(self, ptr):  # noqa: N802
        del self.live[ptr]
        return (0,)

    def cuPointerGetAttribute(self, attribute, ptr):  # noqa: N802
        return (0 if any(a <= ptr < a + len(b) for a, b in self.live.items()) else 1), 0


def test_pin_memory_with_a_gpu_copies_into_page_locked_memory(monkeypatch):
    from tritensor.cuda import driver

    fake = _FakePinnedDriver()
    monkeypatch.setattr(pin_module, "pinning_available", lambda: True)
    monkeypatch.setattr(driver, "_cu", lambda: fake)
    monkeypatch.setattr(driver, "ensure_current", lambda index: None)
    monkeypatch.setattr(driver, "_check", lambda err: None)
    monkeypatch.setattr(driver, "is_pinned", lambda address: any(a <= address < a + len(b)
                                                                  for a, b in fake.live.items()))
    batch = (tt.arange(6).reshape(2, 3)[:, 1:], {"y": tt.ones(2, dtype=tt.bfloat16)}, "s")
    pinned = pin_module.pin_memory(batch)
    assert isinstance(pinned, list) and pinned[2] == "s"  # tuples come back as lists, as in PyTorch
    assert pinned[0].tolist() == [[1, 2], [4, 5]] and pinned[1]["y"].dtype is tt.bfloat16
    assert pin_module.pin_tensor(pinned[0]) is pinned[0]  # already pinned
    assert len(fake.live) == 2
    del pinned
    gc.collect()
    assert fake.live == {}  # freed with the last array over it
