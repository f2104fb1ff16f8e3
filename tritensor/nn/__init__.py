"""tritensor.nn: modules, parameters, containers, layers, losses, nn.functional, nn.init and nn.utils
(PyTorch's API and module layout: tritensor.nn.modules.module.Module, tritensor.nn.utils.clip_grad_norm_, ...)."""

from . import functional, init, modules, utils
from .modules import (
    ELU,
    GELU,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    L1Loss,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Mish,
    Module,
    ModuleDict,
    ModuleList,
    MSELoss,
    NLLLoss,
    ParameterList,
    ReLU,
    ReLU6,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
)
from .parameter import Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "Linear", "Identity",
           "Flatten", "Unflatten", "Dropout", "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Mish", "Softplus",
           "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss",
           "functional", "init", "modules", "utils"]
