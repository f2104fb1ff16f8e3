"""tt.optim.lr_scheduler: PyTorch's learning-rate schedulers, with their chainable (recursive) get_lr forms,
closed forms for step(epoch), state_dict/load_state_dict, warnings and argument errors.

base: LRScheduler (and the old name _LRScheduler); simple: the single-curve schedulers; cyclic: CyclicLR,
OneCycleLR, CosineAnnealingWarmRestarts; plateau: ReduceLROnPlateau; composite: ChainedScheduler,
SequentialLR, ParamwiseScheduler.
"""

from .base import EPOCH_DEPRECATION_WARNING, LRScheduler, _LRScheduler
from .composite import ChainedScheduler, ParamwiseScheduler, SequentialLR
from .cyclic import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from .plateau import ReduceLROnPlateau
from .simple import (
           ConstantLR,
           CosineAnnealingLR,
           ExponentialLR,
           LambdaLR,
           LinearLR,
           MultiplicativeLR,
           MultiStepLR,
           PolynomialLR,
           StepLR,
)

__all__ = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
           "SequentialLR", "CosineAnnealingLR", "ChainedScheduler", "ParamwiseScheduler", "ReduceLROnPlateau",
           "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR", "LRScheduler",
           "_LRScheduler", "EPOCH_DEPRECATION_WARNING"]
