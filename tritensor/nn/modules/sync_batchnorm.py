"""SyncBatchNorm: batch normalisation with the statistics of the whole batch across ranks, as
torch.nn.SyncBatchNorm.

In training, with a process group of more than one rank, each rank computes its per-channel mean and biased
variance and element count; one all_gather (into one tensor) shares them, and every rank combines them into the
global batch's statistics (Chan's parallel variance: exact, and stable where E[x^2] - E[x]^2 would cancel). The
combination is built from differentiable tensor ops on the gathered statistics, where only this rank's row carries
a gradient; a hook on that stacked tensor all-reduces its gradient in backward, so each rank's input gradient
sums every rank's contribution through the shared statistics (the all-reduce of sum_dy and sum_dy_xmu that
PyTorch's sync_batch_norm backward does). In eval mode, with a world of one or without an initialised process
group, it is plain batch norm. Unlike PyTorch, cpu tensors are accepted (the mpi backend communicates them).
"""

from __future__ import annotations

import functools

from ... import dtypes as D
from ...autograd import no_grad
from ...creation import tensor as make_tensor
from ...creation import zeros
from ...ops import api as ops
from ...tensor import Tensor
from .batchnorm import _BatchNorm
from .module import Module

__all__ = ["SyncBatchNorm"]


def _all_reduce_grad(group, grad: Tensor) -> Tensor:
    """The gradient of the gathered statistics, summed over the ranks (a tensor hook)."""
    from ... import distributed as dist

    total = grad.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
    return total


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of (N, C, *) inputs whose training statistics cover the batches of every rank of
    `process_group` (the default group when None); see the module docstring. Parameters, buffers and state_dict
    keys are BatchNorm's; `convert_sync_batchnorm` turns a model's BatchNorm layers into this one."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _check_non_zero_input_channels(self, input: Tensor) -> None:
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def _sync_group(self):
        """(process group, its size) when this forward must synchronise, else None."""
        if not self.training:
            return None
        from ... import distributed as dist

        if not dist.is_initialized():
            return None
        group = self.process_group if self.process_group is not None else dist.group.WORLD
        world_size = dist.get_world_size(group)
        return (group, world_size) if world_size > 1 else None

    def forward(self, input: Tensor) -> Tensor:
        """Normalises input (N, C, *) per channel with the global batch's statistics in training (see the
        class docstring), the running statistics in eval mode."""
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        sync = self._sync_group()
        if sync is None:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        running_mean = self.running_mean if self.track_running_stats else None
        running_var = self.running_var if self.track_running_stats else None
        return self._sync_batch_norm(input, running_mean, running_var, factor, *sync)

    def _sync_batch_norm(self, input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                         factor: float, group, world_size: int) -> Tensor:
        from ... import distributed as dist

        channels = input.size(1)
        count = input.numel() // channels
        stat_dtype = D.float32 if input.dtype in (D.float16, D.bfloat16) else input.dtype
        x = input.to(stat_dtype)
        if count > 0:
            var, mean = ops.var_mean(x, dim=[0, *range(2, input.dim())], correction=0)
            local = ops.cat([mean, var])  # this rank's statistics, differentiable w.r.t. input
        else:
            local = zeros(2 * channels, dtype=stat_dtype, device=input.device)
        payload = ops.cat([local.detach(), make_tensor([float(count)], dtype=stat_dtype, device=input.device)])
        gathered = payload.new_empty((world_size * payload.numel(),))
        dist.all_gather_into_tensor(gathered, payload, group=group)
        gathered = gathered.view(world_size, payload.numel())
        counts = gathered[:, 2 * channels:]  # (world, 1)
        total = int(sum(counts.reshape(-1).tolist()))
        if total <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.size()}")
        # Every rank's statistics, where only this rank's row carries a gradient (to this rank's input).
        rank = dist.get_rank(group)
        stats = gathered[:, :2 * channels]
        stacked = ops.cat([stats[:rank], local.reshape(1, -1), stats[rank + 1:]])
        if stacked.requires_grad:
            stacked.register_hook(functools.partial(_all_reduce_grad, group))
        means, variances = stacked[:, :channels], stacked[:, channels:]
        mean = (means * counts).sum(0) / total
        var = ((variances + (means - mean) ** 2) * counts).sum(0) / total
        scale = ops.rsqrt(var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight.to(stat_dtype)
        shift = -mean * scale if self.bias is None else self.bias.to(stat_dtype) - mean * scale
        shape = (1, channels) + (1,) * (input.dim() - 2)
        out = ops.addcmul(shift.reshape(shape), x, scale.reshape(shape)).to(input.dtype)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1.0 - factor).add_(mean.detach().to(running_mean.dtype) * factor)
            if running_var is not None:
                unbiased = var.detach() * (total / (total - 1))
                running_var.mul_(1.0 - factor).add_(unbiased.to(running_var.dtype) * factor)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """Replace every BatchNorm*d layer of `module` (the module itself included) by a SyncBatchNorm sharing
        its parameters and running statistics, keeping its training flag; returns the converted module.

        >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        """
        module_output = module
        if isinstance(module, _BatchNorm):
            module_output = cls(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, process_group)
            if module.affine:
                with no_grad():
                    module_output.weight = module.weight
                    module_output.bias = module.bias
            module_output.running_mean = module.running_mean
            module_output.running_var = module.running_var
            module_output.num_batches_tracked = module.num_batches_tracked
            module_output.training = module.training
            if hasattr(module, "qconfig"):
                module_output.qconfig = module.qconfig
        for name, child in module.named_children():
            module_output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return module_output
