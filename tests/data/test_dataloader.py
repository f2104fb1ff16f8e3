"""tt.data: datasets, samplers, default_collate / default_convert and DataLoader (PyTorch's behaviour,
argument checks and error messages)."""

import collections
import warnings

import numpy as np
import pytest

import tritensor as tt
from tritensor.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    default_convert,
    random_split,
)


class Squares(Dataset):
    """Samples of several kinds: (tensor, int, float, str, dict, ndarray)."""

    def __init__(self, n=7):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return (tt.tensor([i, i * i], dtype=tt.float32), i, float(i) / 2, f"s{i}", {"k": i},
                np.full((2,), i, np.int16))

    def __len__(self):
        return self.n


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def _xy(n=10, device="cpu"):
    x = tt.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3), device=device)
    y = tt.tensor(np.arange(n, dtype=np.int64), device=device)
    return x, y


# ------------------------------------------------------------------ datasets
def test_tensor_dataset_and_size_mismatch():
    x, y = _xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[4]
    assert xi.tolist() == [12.0, 13.0, 14.0] and yi.item() == 4
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(x, tt.zeros(9))


def test_subset_concat_and_add():
    x, y = _xy()
    ds = TensorDataset(x, y)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[1][1].item() == 2
    assert [s[1].item() for s in sub.__getitems__([0, 2])] == [7, 5]
    both = ds + Subset(ds, [0, 1])
    assert isinstance(both, ConcatDataset) and len(both) == 12
    assert both[10][1].item() == 0 and both[-1][1].item() == 1 and both[3][1].item() == 3
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        both[-13]


def test_random_split_lengths_fractions_and_generator():
    ds = TensorDataset(*_xy(10))
    a, b = random_split(ds, [7, 3], generator=tt.Generator().manual_seed(3))
    assert len(a) == 7 and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    a2, b2 = random_split(ds, [7, 3], generator=tt.Generator().manual_seed(3))
    assert a2.indices == a.indices and b2.indices == b.indices
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=tt.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(range(11), [0.5, 0.5])  # the remainder goes round-robin from the first
    assert [len(p) for p in parts] == [6, 5]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="Fraction at index 2 is not between 0 and 1"):
        random_split(ds, [0.5, 0.7, -0.2])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [0.9, 0.1])


# ------------------------------------------------------------------ samplers
def test_sequential_and_random_samplers():
    data = list(range(6))
    assert list(SequentialSampler(data)) == [0, 1, 2, 3, 4, 5] and len(SequentialSampler(data)) == 6
    g = tt.Generator().manual_seed(1)
    perm = list(RandomSampler(data, generator=g))
    assert sorted(perm) == data
    assert list(RandomSampler(data, generator=tt.Generator().manual_seed(1))) == perm  # reproducible
    s = RandomSampler(data, num_samples=14, generator=tt.Generator().manual_seed(2))
    drawn = list(s)
    assert len(drawn) == 14 == len(s)
    assert sorted(drawn[:6]) == data and sorted(drawn[6:12]) == data  # whole permutations, then a part
    r = RandomSampler(data, replacement=True, num_samples=70, generator=tt.Generator().manual_seed(0))
    drawn = list(r)
    assert len(drawn) == 70 and set(drawn) <= set(data) and len(set(drawn)) == 6
    tt.manual_seed(5)
    first = list(RandomSampler(data))
    tt.manual_seed(5)
    assert list(RandomSampler(data)) == first  # without a generator: the default one, seeded
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got replacement=1"):
        RandomSampler(data, replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        RandomSampler(data, num_samples=0)
    sub = list(SubsetRandomSampler([10, 20, 30], generator=tt.Generator().manual_seed(0)))
    assert sorted(sub) == [10, 20, 30]


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got drop_last=1"):
        BatchSampler(range(3), 2, 1)


# ------------------------------------------------------------------ collation
def test_default_collate_kinds():
    batch = default_collate([Squares()[i] for i in range(3)])
    assert isinstance(batch, list) and len(batch) == 6  # tuples of fields are transposed into a list
    t, ints, floats, strs, dicts, arrays = batch
    assert t.shape == (3, 2) and t.dtype is tt.float32 and t.tolist() == [[0, 0], [1, 1], [2, 4]]
    assert ints.dtype is tt.int64 and ints.tolist() == [0, 1, 2]
    assert floats.dtype is tt.float64 and floats.tolist() == [0.0, 0.5, 1.0]
    assert strs == ("s0", "s1", "s2")  # kept as the transposed tuple, as PyTorch does
    assert set(dicts) == {"k"} and dicts["k"].tolist() == [0, 1, 2]
    assert arrays.dtype is tt.int16 and arrays.shape == (3, 2)
    assert default_collate([True, False]).dtype is tt.bool
    assert default_collate([np.float32(1.5), np.float32(2)]).dtype is tt.float32
    Point = collections.namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.dtype is tt.float64
    assert [b.tolist() for b in default_collate([[1, 2], [3, 4]])] == [[1, 3], [2, 4]]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[2\] at entry 0 "
                                           r"and \[3\] at entry 1"):
        default_collate([tt.zeros(2), tt.zeros(3)])


def test_default_convert():
    out = default_convert((np.arange(3), {"a": np.float32(2.0)}, "text", 5))
    assert isinstance(out, list) and out[0].dtype is tt.int64 and out[0].tolist() == [0, 1, 2]
    assert out[1]["a"].dtype is tt.float32 and out[2:] == ["text", 5]
    t = tt.ones(2)
    assert default_convert(t) is t


# ------------------------------------------------------------------ DataLoader
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_loader_batches_tensor_dataset(device):
    x, y = _xy(10, device)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    xb, yb = batches[0]
    assert isinstance(batches[0], list) and xb.shape == (4, 3) and xb.device == x.device
    assert yb.tolist() == [0, 1, 2, 3] and batches[2][1].tolist() == [8, 9]
    assert xb.tolist() == x[:4].tolist()
    dropped = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[1].tolist() for b in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_fast_path_equals_per_sample_collation():
    x, y = _xy(11)
    ds = Subset(TensorDataset(x, y), list(range(10, -1, -1)))
    fast = list(DataLoader(ds, batch_size=3, shuffle=True, generator=tt.Generator().manual_seed(4)))
    slow = list(DataLoader(ds, batch_size=3, shuffle=True, generator=tt.Generator().manual_seed(4),
                           collate_fn=default_collate))
    assert len(fast) == len(slow) == 4
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert fx.tolist() == sx.tolist() and fy.tolist() == sy.tolist() and fx.dtype is sx.dtype


def test_shuffle_generator_and_epochs():
    ds = TensorDataset(*_xy(12))
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=tt.Generator().manual_seed(0))
    epoch1 = [i for _, y in loader for i in y.tolist()]
    epoch2 = [i for _, y in loader for i in y.tolist()]
    assert sorted(epoch1) == sorted(epoch2) == list(range(12)) and epoch1 != epoch2
    again = DataLoader(ds, batch_size=5, shuffle=True, generator=tt.Generator().manual_seed(0))
    assert [i for _, y in again for i in y.tolist()] == epoch1
    assert isinstance(loader.sampler, RandomSampler) and isinstance(loader.batch_sampler, BatchSampler)


def test_loader_generic_dataset_sampler_batch_sampler_and_collate_fn():
    ds = Squares(5)
    loader = DataLoader(ds, batch_size=2, sampler=[4, 0, 2])
    assert [b[1].tolist() for b in loader] == [[4, 0], [2]]
    loader = DataLoader(ds, batch_sampler=[[1, 3], [0]])
    assert [b[1].tolist() for b in loader] == [[1, 3], [0]] and len(loader) == 2 and loader.batch_size is None
    loader = DataLoader(ds, batch_size=3, collate_fn=lambda samples: [s[1] for s in samples])
    assert list(loader) == [[0, 1, 2], [3, 4]]
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 5 and unbatched[2][1] == 2 and unbatched[2][5].dtype is tt.int16  # converted
    assert isinstance(unbatched[2], list)


def test_loader_iterable_dataset():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(Stream(7), batch_size=3)) == 3
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)


def test_loader_argument_errors():
    ds = TensorDataset(*_xy(4))
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=[0, 1])
    msg = "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
    for kwargs in (dict(batch_size=2), dict(shuffle=True), dict(sampler=[0]), dict(drop_last=True)):
        with pytest.raises(ValueError, match=msg):
            DataLoader(ds, batch_sampler=[[0]], **kwargs)
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching and is mutually exclusive"):
        DataLoader(ds, batch_size=None, drop_last=True)
    assert DataLoader(ds, num_workers=2).prefetch_factor == 2  # PyTorch's default once workers are on
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(ds, batch_size=0)
    loader = DataLoader(ds, batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 3
    loader.collate_fn = default_collate  # not frozen
    with pytest.raises(IndexError):
        list(DataLoader(ds, sampler=[9]))


def test_utils_data_alias():
    import tritensor.data
    import tritensor.utils
    from tritensor.utils.data import DataLoader as Aliased
    from tritensor.utils.data import TensorDataset as AliasedTD

    assert Aliased is DataLoader and AliasedTD is TensorDataset
    assert tritensor.utils.data.random_split is tritensor.data.random_split
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(Aliased(AliasedTD(tt.zeros(3)), batch_size=2))) == 2
