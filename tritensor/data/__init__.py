"""tt.data (also importable as tt.utils.data): datasets, samplers, DataLoader (worker processes, pinned memory),
collation."""

from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import (
                      ChainDataset,
                      ConcatDataset,
                      Dataset,
                      IterableDataset,
                      StackDataset,
                      Subset,
                      TensorDataset,
                      random_split,
)
from .datasets import Digits, FashionMNIST, read_idx
from .sampler import (
                      BatchSampler,
                      DistributedSampler,
                      RandomSampler,
                      Sampler,
                      SequentialSampler,
                      SubsetRandomSampler,
                      WeightedRandomSampler,
)
from .shakespeare import Shakespeare
from .worker import WorkerInfo, get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset", "ChainDataset", "Subset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "DistributedSampler", "BatchSampler", "DataLoader", "get_worker_info",
           "WorkerInfo", "default_collate", "default_convert", "Digits", "FashionMNIST", "Shakespeare", "read_idx"]
