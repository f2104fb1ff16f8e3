"""tt.optim: optimizers (SGD, Adam, AdamW, SparseAdam) with fused Triton steps on cuda, and learning-rate
schedulers."""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer, register_optimizer_step_post_hook, register_optimizer_step_pre_hook, required
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "SparseAdam", "lr_scheduler", "required",
           "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]
