"""tritensor.vision.transforms: torchvision.transforms (the v1 API) on tensors, NumPy arrays and PIL images.

    from tritensor.vision import transforms as T
    t = T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize([0.5], [0.5])])

Tensors ([..., C, H, W], any device) go through tritensor ops, PIL images (Pillow is optional, the `vision` extra)
through Pillow's own operations, and NumPy [H, W(, C)] arrays through the tensor path on the cpu, coming back as
NumPy arrays. `functional` holds the functions the classes call (`transforms.functional.resize`, ...).
"""

from . import functional
from .functional import InterpolationMode
from .transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    Grayscale,
    Lambda,
    Normalize,
    PILToTensor,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    ToTensor,
)

__all__ = ["functional", "InterpolationMode", "Compose", "ToTensor", "PILToTensor", "Lambda", "Normalize", "Resize",
           "CenterCrop", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
           "RandomRotation", "ColorJitter", "Grayscale"]
