"""tritensor.vision: torchvision's role for tritensor — image transforms, datasets, models and utilities.

    from tritensor.vision import transforms, datasets, models
"""

from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
