"""torch.utils.data.dataset's import path: the dataset classes and random_split (tritensor.data)."""

from ...data.dataset import (
                             ChainDataset,
                             ConcatDataset,
                             Dataset,
                             IterableDataset,
                             StackDataset,
                             Subset,
                             TensorDataset,
                             random_split,
)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset", "ChainDataset", "Subset",
           "random_split"]
