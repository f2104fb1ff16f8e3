"""tritensor.nn: modules, parameters, containers, layers, losses, nn.functional, nn.init and nn.utils
(PyTorch's API and module layout: tritensor.nn.modules.module.Module, tritensor.nn.utils.clip_grad_norm_, ...).

Every layer class of `tritensor.nn.modules` is here under its own name (nn.Linear, nn.LayerNorm, ...)."""

from . import functional, init, modules, parallel, utils
from .parallel import DataParallel
from .parameter import Parameter

globals().update({name: getattr(modules, name) for name in modules.__all__})

__all__ = ["DataParallel", "Parameter", *modules.__all__, "functional", "init", "modules", "parallel", "utils"]
