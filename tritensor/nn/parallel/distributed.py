"""DistributedDataParallel: data parallelism across processes, as torch.nn.parallel.DistributedDataParallel.

Each rank holds a replica of the module and runs it on its own share of the batch. Construction broadcasts the
parameters and buffers from rank 0, so every replica starts the same; backward all-reduces the gradients in
buckets while it still runs (tritensor/nn/parallel/reducer.py), and leaves every rank with the gradient
averaged over the ranks; so an optimizer step keeps the replicas the same. Communication goes through
`tritensor.distributed` (its public API only).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from ... import distributed as dist
from ...autograd import is_grad_enabled, no_grad
from ...creation import tensor as make_tensor
from ...dtypes import int64
from ...ops import api as ops
from ...tensor import Tensor
from ..modules.module import Module
from .reducer import DEFAULT_FIRST_BUCKET_BYTES, Reducer, compute_bucket_assignment_by_size

__all__ = ["DistributedDataParallel"]

_BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024  # PyTorch's broadcast_bucket_size for parameters and buffers


def _find_tensors(obj) -> list[Tensor]:
    """Every tensor in a forward's output (nested lists, tuples and dicts), as PyTorch's _find_tensors."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _find_tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _find_tensors(item)]
    return []


def _to_device(obj, device: str):
    """A forward's inputs with every tensor moved to `device` (nested lists, tuples and dicts too)."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a namedtuple
        return type(obj)(*(_to_device(item, device) for item in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(item, device) for item in obj)
    if isinstance(obj, dict):
        return {key: _to_device(value, device) for key, value in obj.items()}
    return obj


def _device_index(device) -> int:
    """A device id as DDP takes it (an int, 'cuda:1', a tt.device) -> its index."""
    if isinstance(device, int):
        return device
    index = getattr(device, "index", None)
    if index is None and isinstance(device, str) and ":" in device:
        index = int(device.rsplit(":", 1)[1])
    return 0 if index is None else int(index)


def _broadcast_coalesced(tensors: list[Tensor], src: int, group) -> None:
    """Broadcast `tensors` in place from global rank `src`, one flat message per dtype and device (and per
    250 MiB), as PyTorch's _broadcast_coalesced."""
    groups: dict[tuple, list[Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, str(t.device)), []).append(t)
    for members in groups.values():
        chunk: list[Tensor] = []
        size = 0
        for t in members:
            chunk.append(t)
            size += t.numel() * t.element_size()
            if size >= _BROADCAST_BUCKET_BYTES:
                _broadcast_flat(chunk, src, group)
                chunk, size = [], 0
        if chunk:
            _broadcast_flat(chunk, src, group)


def _broadcast_flat(tensors: list[Tensor], src: int, group) -> None:
    with no_grad():
        flat = ops.cat([t.detach().reshape(-1) for t in tensors])
        dist.broadcast(flat, src, group=group)
        offset = 0
        for t in tensors:
            n = t.numel()
            t.copy_(flat[offset:offset + n].view(t.shape))
            offset += n


class DistributedDataParallel(Module):
    """Data parallelism over processes: wrap the local replica, run it on this rank's share of the batch.

    `init_process_group` must have been called. Construction broadcasts parameters and buffers from rank 0
    (`init_sync=True`). In backward, gradients are averaged over the ranks: they are gathered in buckets of
    about `bucket_cap_mb` MiB (25 by default), all-reduced asynchronously as soon as a bucket's gradients are
    all accumulated. `broadcast_buffers=True` re-broadcasts rank 0's buffers (e.g. BatchNorm's running
    statistics) before each forward. `no_sync()` skips the reduction (gradients accumulate locally until the
    next synchronised backward). `find_unused_parameters=True` searches the forward's output graph for
    parameters that get no gradient, so the reduction finishes without them. `gradient_as_bucket_view=True`
    makes each `.grad` a view into its bucket (no copies, less memory). `static_graph=True` declares that the
    set of used parameters never changes (searched for once). `device_ids=[i]` moves tensor inputs to
    `cuda:i` for a module on cuda; a cpu module takes `device_ids=None`.

    The wrapped module is `self.module`; state_dict keys carry a `module.` prefix, as PyTorch's.

    >>> model = DistributedDataParallel(Net(), find_unused_parameters=False)
    >>> loss_fn(model(x_local), y_local).backward()   # .grad holds the average over ranks
    """

    def __init__(self, module: Module, device_ids: list | None = None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False) -> None:
        super().__init__()
        if process_group is None:
            if not dist.is_initialized():
                raise ValueError("Default process group has not been initialized, please make sure to call "
                                 "init_process_group.")
            process_group = dist.group.WORLD
        self.module = module
        self.process_group = process_group
        parameters = [p for _, p in module.named_parameters()]
        if not any(p.requires_grad for p in parameters):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        if any(getattr(m, "sparse", False) is True for m in module.modules()):
            # Their gradients skip the post-accumulate hooks DDP reduces from (and PyTorch gives them a bucket of
            # their own with a sparse all-reduce, which tritensor.distributed does not have).
            raise NotImplementedError("DistributedDataParallel does not support modules with sparse gradients "
                                      "(sparse=True) yet")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        device_types = {p.device.type for p in parameters}
        if len(device_types) != 1:
            raise ValueError("DistributedDataParallel's input module must be on the same type of devices, but "
                             f"input module parameters locate in {device_types}.")
        self.device_type = next(iter(device_types))
        self.is_multi_device_module = len({str(p.device) for p in parameters}) > 1
        if not device_ids or self.device_type == "cpu" or self.is_multi_device_module:
            if device_ids or output_device is not None:
                raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                                 "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                                 f"{device_ids}, output_device {output_device}, and module parameters "
                                 f"{ {str(p.device) for p in parameters} }.")
            self.device_ids = None
            self.output_device = None
        else:
            self.device_ids = [_device_index(d) for d in device_ids]
            self.output_device = _device_index(device_ids[0] if output_device is None else output_device)
        if check_reduction:
            warnings.warn("The `check_reduction` argument in `DistributedDataParallel` module is deprecated. "
                          "Please avoid using it.", FutureWarning, stacklevel=2)
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap_default = bucket_cap_mb is None
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self.modules_buffers = [b for _, b in module.named_buffers()]
        self.num_iterations = 0
        self._authoritative_rank = dist.get_global_rank(process_group, 0)
        world_size = dist.get_world_size(process_group)
        if init_sync and world_size > 1:
            self._verify_param_shapes(parameters)
            _broadcast_coalesced(parameters + self.modules_buffers, self._authoritative_rank, process_group)
        self.reducer = self._build_reducer()

    def _verify_param_shapes(self, parameters: list[Tensor]) -> None:
        """RuntimeError unless every rank holds as many parameters, of the same shapes (else DDP would hang)."""
        group, size = self.process_group, dist.get_world_size(self.process_group)
        device = parameters[0].device
        count = make_tensor([len(parameters)], dtype=int64, device=device)
        counts = [make_tensor([0], dtype=int64, device=device) for _ in range(size)]
        dist.all_gather(counts, count, group=group)
        rank = dist.get_rank(group)
        for r, c in enumerate(counts):
            if int(c.item()) != len(parameters):
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank {rank} has {len(parameters)} "
                                   f"params, while rank {r} has inconsistent {int(c.item())} params.")
        shapes = make_tensor([v for p in parameters for v in (p.dim(), p.numel())], dtype=int64, device=device)
        gathered = [make_tensor([0] * shapes.numel(), dtype=int64, device=device) for _ in range(size)]
        dist.all_gather(gathered, shapes, group=group)
        mine = shapes.tolist()
        for r, other in enumerate(gathered):
            theirs = other.tolist()
            for k in range(len(parameters)):
                if theirs[2 * k:2 * k + 2] != mine[2 * k:2 * k + 2]:
                    raise RuntimeError(f"DDP expects same model across all ranks, but Rank {rank} has "
                                       f"{len(parameters)} params, while rank {r} has inconsistent shape for "
                                       f"param {k}: {parameters[k].shape}.")

    def _build_reducer(self) -> Reducer:
        """The parameters that require grad (each once, in registration order), bucketed as PyTorch does at
        construction: one bucket for the first iteration unless unused parameters are searched for."""
        params = [p for p in self.module.parameters() if p.requires_grad]
        if self.static_graph or not self.find_unused_parameters:
            limits = [sys.maxsize]
        elif self.bucket_bytes_cap_default:
            limits = [DEFAULT_FIRST_BUCKET_BYTES, self.bucket_bytes_cap]
        else:
            limits = [self.bucket_bytes_cap]
        bucket_indices, _ = compute_bucket_assignment_by_size(params, limits)
        # Reversed: gradients arrive roughly in the reverse of the order the parameters were registered.
        first = DEFAULT_FIRST_BUCKET_BYTES if self.bucket_bytes_cap_default else self.bucket_bytes_cap
        return Reducer(params, list(reversed(bucket_indices)), self.process_group, self.bucket_bytes_cap, first,
                       self.find_unused_parameters, self.gradient_as_bucket_view, self.static_graph)

    # ------------------------------------------------------------------ forward
    def will_sync_module_buffers(self) -> bool:
        """Whether the next forward broadcasts rank 0's buffers (broadcast_buffers, after a synchronised
        forward)."""
        return self.require_forward_param_sync and self.broadcast_buffers and len(self.modules_buffers) > 0

    def _sync_buffers(self) -> None:
        if dist.get_world_size(self.process_group) > 1:
            _broadcast_coalesced(self.modules_buffers, self._authoritative_rank, self.process_group)

    def _pre_forward(self, inputs: tuple, kwargs: dict) -> tuple[tuple, dict]:
        grad_enabled = is_grad_enabled()
        if grad_enabled and self.require_backward_grad_sync:
            self.num_iterations += 1
        if grad_enabled:
            # Raises if the last backward left a reduction unfinished; rebuilds the buckets once.
            self.reducer.rebuild_buckets()
        if self.will_sync_module_buffers():
            self._sync_buffers()
        if self.device_ids:
            device = f"{self.device_type}:{self.device_ids[0]}"
            inputs, kwargs = _to_device(inputs, device), _to_device(kwargs, device)
        return inputs, kwargs

    def _post_forward(self, output):
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            # The output graph is searched for unused parameters (every iteration, or once for a static graph).
            search = self.find_unused_parameters or self.static_graph
            self.reducer.prepare_for_backward(_find_tensors(output) if search else [])
        else:
            self.require_forward_param_sync = False
            if is_grad_enabled():
                # A backward of this forward (no_sync) accumulates locally, even after an un-backpropagated
                # synchronised forward armed the hooks.
                self.reducer.expect_autograd_hooks = False
        return output

    def forward(self, *inputs, **kwargs):
        """Run the wrapped module (after the buffer broadcast) and arm the gradient reduction of its backward."""
        inputs, kwargs = self._pre_forward(inputs, kwargs)
        output = self.module(*inputs, **kwargs)
        return self._post_forward(output)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this context the backward of each forward does not synchronise gradients: they accumulate
        in `.grad` locally, and the first synchronised backward after it reduces the accumulated sum.

        >>> with ddp.no_sync():
        ...     ddp(x0).sum().backward()     # local only
        >>> ddp(x1).sum().backward()         # all-reduces the gradients of both micro-batches
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _set_static_graph(self) -> None:
        """Declare the graph static after construction, as PyTorch's DDP._set_static_graph."""
        if self.static_graph:
            warnings.warn("You've set static_graph to be True, no need to set it again.", stacklevel=2)
            return
        self.static_graph = True
        self.reducer.static_graph = True
