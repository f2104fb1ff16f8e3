"""tt.utils: PyTorch's utils namespace. `tt.utils.data` re-exports tritensor.data under torch.utils.data's module
paths (tritensor.utils.data.dataloader, .dataset, .sampler)."""

from . import data

__all__ = ["data"]
