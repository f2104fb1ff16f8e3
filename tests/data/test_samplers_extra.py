"""DistributedSampler, WeightedRandomSampler and StackDataset: index streams against NumPy references of
PyTorch's algorithms, frequencies, and PyTorch's argument checks and messages."""

import importlib.util
import math
import sys
import types

import numpy as np
import pytest

import tritensor as tt
from tritensor.data.dataset import Dataset, StackDataset, Subset, TensorDataset
from tritensor.data.sampler import DistributedSampler, WeightedRandomSampler


class Range(Dataset):
    """Sample i is i (no __getitems__)."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return i

    def __len__(self):
        return self.n


def distributed_ref(n, num_replicas, rank, shuffle, seed, epoch, drop_last):
    """PyTorch's DistributedSampler.__iter__ in NumPy, on tt.randperm's permutation for seed + epoch."""
    if shuffle:
        order = np.array(tt.randperm(n, generator=tt.Generator().manual_seed(seed + epoch)).tolist())
    else:
        order = np.arange(n)
    if drop_last and n % num_replicas:
        num_samples = math.ceil((n - num_replicas) / num_replicas)
    else:
        num_samples = math.ceil(n / num_replicas)
    total = num_samples * num_replicas
    padded = np.resize(order, total) if total > n else order[:total]  # np.resize repeats the array cyclically
    return padded[rank::num_replicas].tolist()


@pytest.mark.parametrize("n,num_replicas", [(10, 3), (12, 4), (2, 5), (7, 1), (1, 3)])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_distributed_sampler_matches_reference(n, num_replicas, drop_last, shuffle):
    ds = Range(n)
    streams = []
    for rank in range(num_replicas):
        s = DistributedSampler(ds, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=5, drop_last=drop_last)
        got = list(s)
        assert got == distributed_ref(n, num_replicas, rank, shuffle, 5, 0, drop_last)
        assert len(got) == len(s) == s.num_samples
        assert s.total_size == s.num_samples * num_replicas
        streams.append(got)
    flat = [i for stream in streams for i in stream]
    if drop_last:
        assert len(set(flat)) == len(flat)  # no index twice; the tail is dropped
        assert len(flat) == (n // num_replicas) * num_replicas
    else:
        assert set(flat) == set(range(n))  # every index at least once; padding repeats the first ones


def test_distributed_sampler_epochs_and_seeds():
    ds = Range(50)
    s = DistributedSampler(ds, num_replicas=2, rank=1, seed=3)
    first = list(s)
    assert list(s) == first  # same epoch, same permutation
    s.set_epoch(4)
    assert s.epoch == 4
    assert list(s) == distributed_ref(50, 2, 1, True, 3, 4, False) != first
    # seed + epoch is what matters, as PyTorch's torch.Generator().manual_seed(seed + epoch)
    other = DistributedSampler(ds, num_replicas=2, rank=1, seed=7)
    assert list(other) == list(s)
    assert s.shuffle is True and s.drop_last is False and s.seed == 3


def test_distributed_sampler_invalid_rank():
    with pytest.raises(ValueError, match=r"^Invalid rank 3, rank should be in the interval \[0, 2\]$"):
        DistributedSampler(Range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match=r"^Invalid rank -1, rank should be in the interval \[0, 1\]$"):
        DistributedSampler(Range(4), num_replicas=2, rank=-1)


def _fake_dist(available=True, initialized=True, world=4, rank=2):
    return types.SimpleNamespace(is_available=lambda: available, is_initialized=lambda: initialized,
                                 get_world_size=lambda: world, get_rank=lambda: rank)


def test_distributed_sampler_defaults_from_process_group(monkeypatch):
    monkeypatch.setitem(sys.modules, "tritensor.distributed", _fake_dist())
    s = DistributedSampler(Range(10), shuffle=False)
    assert (s.num_replicas, s.rank) == (4, 2)
    assert list(s) == [2, 6, 0]
    s = DistributedSampler(Range(10), num_replicas=8, shuffle=False)  # rank alone from the group
    assert (s.num_replicas, s.rank) == (8, 2) and list(s) == [2, 0]
    with pytest.raises(ValueError, match=r"^Invalid rank 2, rank should be in the interval \[0, 1\]$"):
        DistributedSampler(Range(10), num_replicas=2)


def test_distributed_sampler_without_process_group(monkeypatch):
    monkeypatch.setitem(sys.modules, "tritensor.distributed", _fake_dist(available=False))
    with pytest.raises(RuntimeError, match="^Requires distributed package to be available$"):
        DistributedSampler(Range(4))
    monkeypatch.setitem(sys.modules, "tritensor.distributed", _fake_dist(initialized=False))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(Range(4), num_replicas=2)
    # Not loaded: no package at all means "not available"; a package that is there but not imported means no
    # process group was initialised.
    monkeypatch.delitem(sys.modules, "tritensor.distributed", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    with pytest.raises(RuntimeError, match="^Requires distributed package to be available$"):
        DistributedSampler(Range(4))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: object())
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(Range(4), rank=0)


def test_weighted_sampler_is_multinomial():
    weights = [0.5, 0.0, 2.0, 1.0, 3.5]
    for replacement, k in [(True, 40), (False, 4)]:
        s = WeightedRandomSampler(weights, k, replacement=replacement, generator=tt.Generator().manual_seed(11))
        got = list(s)
        ref = tt.multinomial(tt.tensor(weights, dtype=tt.float64), k, replacement,
                             generator=tt.Generator().manual_seed(11)).tolist()
        assert got == ref and len(s) == k and all(isinstance(i, int) for i in got)
        assert 1 not in got  # zero weight: never drawn
        if not replacement:
            assert len(set(got)) == k
    assert s.weights.dtype == tt.float64 and s.weights.tolist() == weights
    # Each epoch draws anew from the generator, as PyTorch's.
    s = WeightedRandomSampler(weights, 30, generator=tt.Generator().manual_seed(1))
    assert list(s) != list(s)


def test_weighted_sampler_default_generator():
    tt.manual_seed(123)
    a = list(WeightedRandomSampler([1.0, 2.0, 3.0], 20))
    tt.manual_seed(123)
    assert list(WeightedRandomSampler(tt.tensor([1.0, 2.0, 3.0]), 20)) == a


def test_weighted_sampler_frequencies():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    n = 20000
    s = WeightedRandomSampler(weights.tolist(), n, generator=tt.Generator().manual_seed(0))
    counts = np.bincount(np.array(list(s)), minlength=4)
    p = weights / weights.sum()
    # Binomial counts: within 5 standard deviations of n * p.
    np.testing.assert_array_less(np.abs(counts - n * p), 5 * np.sqrt(n * p * (1 - p)))


def test_weighted_sampler_errors():
    with pytest.raises(ValueError, match=r"^num_samples should be a positive integer value, but got num_samples=0$"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="num_samples=True"):
        WeightedRandomSampler([1.0], True)
    with pytest.raises(ValueError, match="num_samples=2.0"):
        WeightedRandomSampler([1.0], 2.0)
    with pytest.raises(ValueError, match=r"^replacement should be a boolean value, but got replacement=1$"):
        WeightedRandomSampler([1.0], 2, replacement=1)
    with pytest.raises(ValueError, match=r"^weights should be a 1d sequence but given weights have shape \(2, 1\)$"):
        WeightedRandomSampler([[1.0], [2.0]], 2)
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size\\(-1\\) samples without "
                                           "replacement"):
        list(WeightedRandomSampler([1.0, 2.0], 3, replacement=False))
    with pytest.raises(RuntimeError, match=r"invalid multinomial distribution \(encountering probability entry < 0\)"):
        list(WeightedRandomSampler([1.0, -2.0], 3))


class Batched(Range):
    """A dataset with a batched fetch that records its calls (and can return the wrong number of items)."""

    def __init__(self, n, short=False):
        super().__init__(n)
        self.calls = []
        self.short = short

    def __getitems__(self, indices):
        self.calls.append(list(indices))
        out = [10 * i for i in indices]
        return out[:-1] if self.short else out


def test_stack_dataset_tuple_and_dict():
    a = TensorDataset(tt.arange(5), tt.arange(5) * 2)
    b = Range(5)
    s = StackDataset(a, b)
    assert len(s) == 5
    (x, y), i = s[3]
    assert (x.item(), y.item(), i) == (3, 6, 3)
    d = StackDataset(img=b, label=Range(5))
    assert d[4] == {"img": 4, "label": 4} and len(d) == 5
    assert isinstance(s, Dataset) and s.datasets == (a, b)


def test_stack_dataset_getitems():
    batched = Batched(6)
    s = StackDataset(batched, Range(6))
    assert s.__getitems__([4, 0, 2]) == [(40, 4), (0, 0), (20, 2)]
    assert batched.calls == [[4, 0, 2]]  # one batched call, not three
    d = StackDataset(a=Range(6), b=Subset(Batched(6), [5, 4, 3, 2, 1, 0]))
    assert d.__getitems__([0, 5]) == [{"a": 0, "b": 50}, {"a": 5, "b": 0}]
    with pytest.raises(ValueError, match=r"^Nested dataset's output size mismatch. Expected 2, got 1$"):
        StackDataset(Batched(3, short=True)).__getitems__([0, 1])
    with pytest.raises(ValueError, match="Expected 2, got 1"):
        StackDataset(x=Batched(3, short=True)).__getitems__([0, 1])


def test_stack_dataset_errors():
    with pytest.raises(ValueError, match="^Size mismatch between datasets$"):
        StackDataset(Range(3), Range(4))
    with pytest.raises(ValueError, match="^Size mismatch between datasets$"):
        StackDataset(a=Range(3), b=Range(2))
    with pytest.raises(ValueError, match="^At least one dataset should be passed$"):
        StackDataset()
    with pytest.raises(ValueError, match="but both types are given"):
        StackDataset(Range(3), b=Range(3))
