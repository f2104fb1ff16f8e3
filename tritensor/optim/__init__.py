"""tt.optim: optimizers (SGD, Adam, AdamW) with fused Triton steps on cuda, and learning-rate schedulers."""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer, register_optimizer_step_post_hook, register_optimizer_step_pre_hook, required
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]
