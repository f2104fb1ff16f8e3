"""DistributedDataParallel's gradient reducer: buckets, autograd hooks and asynchronous all-reduces.

This follows torch.distributed's Reducer (reducer.cpp). The parameters are grouped into buckets, one flat
tensor per bucket (parameters of one dtype and device). A post-accumulate-grad hook on each parameter marks it
ready once backward has accumulated its gradient: the gradient, divided by the world size, is copied into its
slot of the bucket (with gradient_as_bucket_view=True `.grad` *is* that slot, so nothing is copied). When every
parameter of a bucket is ready the bucket is all-reduced with `async_op=True`, in bucket order, so that every
rank issues the same collectives in the same order, while the rest of backward goes on. When the last bucket
has been launched, the reducer waits on every work and writes the averaged gradients back to `.grad`.

Parameters the forward did not use never get a gradient, so their buckets would never become ready. With
find_unused_parameters=True the forward's output graph is searched for them (`prepare_for_backward`) and they
are marked ready by the first hook of the backward; a parameter no rank used keeps its `.grad` as it was.
Without it, the reduction cannot finish and the next forward raises PyTorch's error.

Bucket layout: at construction the buckets follow the parameters' reverse registration order (the order their
gradients are expected in). As in PyTorch, with find_unused_parameters=False or static_graph=True the first
iteration uses a single bucket, and after the first backward the buckets are rebuilt once in the order the
gradients actually became ready (rank 0's order, broadcast), the first bucket capped at 1 MiB by default.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Iterable, Sequence

from ... import distributed as dist
from ... import dtypes as D
from ...autograd import no_grad
from ...creation import tensor as make_tensor
from ...creation import zeros
from ...ops import api as ops
from ...tensor import Tensor

__all__ = ["DEFAULT_FIRST_BUCKET_BYTES", "Reducer", "compute_bucket_assignment_by_size"]

# torch.distributed._DEFAULT_FIRST_BUCKET_BYTES: the first bucket of a rebuilt layout is small so that the
# first all-reduce starts early in backward.
DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024

_MARKED_TWICE = (
    "Expected to mark a variable ready only once. This error is caused by one of the following reasons: 1) Use "
    "of a module parameter outside the `forward` function. Please make sure model parameters are not shared "
    "across multiple concurrent forward-backward passes. or try to use _set_static_graph() as a workaround if "
    "this module graph does not change during training loop.2) Reused parameters in multiple reentrant backward "
    "passes. For example, if you use multiple `checkpoint` functions to wrap the same part of your model, it "
    "would result in the same set of parameters been used by different reentrant backward passes multiple times, "
    "and hence marking a variable ready multiple times. DDP does not support such use cases in default. You can "
    "try to use _set_static_graph() as a workaround if your module graph does not change over iterations.\n"
    "Parameter at index {index} has been marked as ready twice. This means that multiple autograd engine  hooks "
    "have fired for this particular parameter during this iteration.")

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This error indicates "
    "that your module has parameters that were not used in producing loss. ")
_NOT_IN_LOSS = "making sure all `forward` function outputs participate in calculating loss. "
_DDP_BUG = (
    "\nIf you already have done the above, then the distributed data parallel module wasn't able to locate the "
    "output tensors in the return value of your module's `forward` function. Please include the loss function "
    "and the structure of the return value of `forward` of your module when reporting this issue (e.g. list, "
    "dict, iterable).")
_NO_UNUSED = (
    "find_unused_parameters=True was specified in DDP constructor, but did not find any unused parameters in the "
    "forward pass. This flag results in an extra traversal of the autograd graph every iteration,  which can "
    "adversely affect performance. If your model indeed never has any unused parameters in the forward pass, "
    "consider turning this flag off. Note that this warning may be a false positive if your model has flow "
    "control causing later iterations to have unused parameters.")


def compute_bucket_assignment_by_size(tensors: Sequence[Tensor], size_limits: Sequence[int],
                                      tensor_indices: Sequence[int] | None = None) -> tuple[list[list[int]],
                                                                                           list[int]]:
    """Group `tensors` into buckets of at most about `size_limits` bytes each, as
    torch.distributed._compute_bucket_assignment_by_size.

    Tensors of one (dtype, device) share buckets; a bucket closes as soon as its size reaches the current
    limit, and the next bucket of that kind takes the next limit of `size_limits` (the last one repeats).
    Returns (bucket_indices, per_bucket_size_limits): each bucket lists the indices of its tensors (positions in
    `tensors`, or the matching entries of `tensor_indices`). Without `tensor_indices` the buckets are sorted by
    the smallest index they hold; with it (a gradient-ready order), they stay in the order they closed."""
    if not size_limits:
        raise ValueError("size_limits must not be empty")
    result: list[tuple[list[int], int]] = []
    open_buckets: dict[tuple, list] = {}  # (dtype, device) -> [indices, bytes, position in size_limits]
    for pos, t in enumerate(tensors):
        index = pos if tensor_indices is None else tensor_indices[pos]
        bucket = open_buckets.setdefault((t.dtype, str(t.device)), [[], 0, 0])
        bucket[0].append(index)
        bucket[1] += t.numel() * t.element_size()
        limit = size_limits[bucket[2]]
        if bucket[1] >= limit:
            result.append((bucket[0], limit))
            bucket[0], bucket[1] = [], 0
            bucket[2] = min(bucket[2] + 1, len(size_limits) - 1)
    for indices, _, position in open_buckets.values():
        if indices:
            result.append((indices, size_limits[position]))
    if tensor_indices is None:
        result.sort(key=lambda entry: min(entry[0]))
    return [indices for indices, _ in result], [limit for _, limit in result]


def _same_memory(a: Tensor, b: Tensor) -> bool:
    """Whether `a` is the bucket view `b` (or another view of the same memory with its shape)."""
    return a is b or (a.shape == b.shape and a.device == b.device and a.data_ptr() == b.data_ptr())


class _Bucket:
    """One flat gradient buffer: the parameters it holds (their indices), their views into it, and the state of
    the current iteration (how many are still pending, the all-reduce in flight)."""

    __slots__ = ("indices", "buffer", "views", "pending", "work")

    def __init__(self, indices: list[int], params: Sequence[Tensor]) -> None:
        self.indices = list(indices)
        first = params[self.indices[0]]
        total = sum(params[i].numel() for i in self.indices)
        self.buffer = zeros(total, dtype=first.dtype, device=first.device)
        self.views: list[Tensor] = []
        offset = 0
        for i in self.indices:
            n = params[i].numel()
            self.views.append(self.buffer[offset:offset + n].view(params[i].shape))
            offset += n
        self.pending = len(self.indices)
        self.work = None


class Reducer:
    """The gradient synchronisation of one DistributedDataParallel module (see the module docstring).

    params: the parameters to reduce (those that require grad, each once, in registration order);
    bucket_indices: the initial buckets, in the order they are expected to become ready."""

    def __init__(self, params: Sequence[Tensor], bucket_indices: Sequence[Sequence[int]], process_group,
                 bucket_bytes_cap: int, first_bucket_bytes: int, find_unused_parameters: bool,
                 gradient_as_bucket_view: bool, static_graph: bool) -> None:
        self.params = list(params)
        self.process_group = process_group
        self.world_size = dist.get_world_size(process_group)
        self.rank = dist.get_rank(process_group)
        self.bucket_bytes_cap = bucket_bytes_cap
        self.first_bucket_bytes = first_bucket_bytes
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.buckets: list[_Bucket] = []
        self._locate: list[tuple[int, int]] = [(-1, -1)] * len(self.params)  # param -> (bucket, slot)
        self.initialize_buckets(bucket_indices)
        # Per-iteration state.
        self.expect_autograd_hooks = False
        self.require_finalize = False
        self.next_bucket = 0
        self.ready: set[int] = set()
        self.unused_parameters: list[int] = []
        self.has_marked_unused_parameters = False
        self.local_used = [False] * len(self.params)
        self.num_backward_syncs = 0
        self.has_rebuilt_buckets = False
        self.rebuilt_order: list[int] = []
        self._static_unused: list[int] | None = None
        self._warned_no_unused = False
        this = weakref.ref(self)  # the hooks must not keep a dropped DDP wrapper (and its buckets) alive
        self._handles = [p.register_post_accumulate_grad_hook(functools.partial(_hook, this, i))
                         for i, p in enumerate(self.params)]

    # ------------------------------------------------------------------ layout
    def initialize_buckets(self, bucket_indices: Sequence[Sequence[int]]) -> None:
        """Allocate one flat buffer per bucket and the views of every parameter's slot; with
        gradient_as_bucket_view, existing gradients move into their slot and `.grad` becomes the slot."""
        self.buckets = [_Bucket(list(indices), self.params) for indices in bucket_indices]
        for b, bucket in enumerate(self.buckets):
            for slot, i in enumerate(bucket.indices):
                self._locate[i] = (b, slot)
                grad = self.params[i].grad
                if self.gradient_as_bucket_view and grad is not None:
                    view = bucket.views[slot]
                    with no_grad():
                        view.copy_(grad.detach())
                    self.params[i].grad = view
        missing = [i for i, (b, _) in enumerate(self._locate) if b < 0]
        if missing:
            raise RuntimeError(f"Parameter indices {missing} are not assigned to any bucket")

    @property
    def bucket_indices(self) -> list[list[int]]:
        """The parameter indices of each bucket, in the order the buckets are all-reduced."""
        return [list(bucket.indices) for bucket in self.buckets]

    def bucket_sizes(self) -> list[int]:
        """The size in bytes of each bucket's flat buffer."""
        return [bucket.buffer.numel() * bucket.buffer.element_size() for bucket in self.buckets]

    def remove_hooks(self) -> None:
        """Unregister the gradient hooks (the parameters go back to plain local accumulation)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __del__(self) -> None:
        try:
            self.remove_hooks()
        except Exception:  # interpreter shutdown: the parameters may be gone already
            pass

    # ------------------------------------------------------------------ forward
    def should_rebuild_buckets(self) -> bool:
        """PyTorch rebuilds once, after the first synchronised backward, unless unused parameters are searched
        for every iteration (their buckets would not follow one order)."""
        return (self.static_graph or not self.find_unused_parameters) and not self.has_rebuilt_buckets

    def ensure_prior_reduction_finished(self) -> None:
        """RuntimeError if the last backward started a reduction that did not complete (unused parameters)."""
        if not self.require_finalize:
            return
        message = _UNFINISHED
        if self.static_graph:
            message = ("Expected to have finished reduction in the prior iteration before starting a new one. This "
                       "error indicates that your training graph has changed in this iteration, e.g., one parameter "
                       "is used in first iteration, but then got unused in the second iteration. this is not "
                       "compatible with static_graph set to True.")
        elif not self.find_unused_parameters:
            message += ("You can enable unused parameter detection by passing the keyword argument "
                        "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n"
                        + _NOT_IN_LOSS + _DDP_BUG)
        else:
            message += ("Since `find_unused_parameters=True` is enabled, this likely  means that not all `forward` "
                        "outputs participate in computing loss. You can fix this by " + _NOT_IN_LOSS + _DDP_BUG)
        unmarked = " ".join(str(i) for i in range(len(self.params)) if i not in self.ready)
        message += (f"\nParameter indices which did not receive grad for rank {self.rank}: {unmarked}"
                    "\n In addition, you can set the environment variable TORCH_DISTRIBUTED_DEBUG to either INFO or "
                    "DETAIL to print out information about which particular parameters did not receive gradient on "
                    "this rank as part of this error")
        raise RuntimeError(message)

    def rebuild_buckets(self) -> bool:
        """Called before a forward with grad enabled: checks the prior reduction finished, then (once) lays the
        buckets out in the order gradients became ready on rank 0. Returns whether the buckets were rebuilt."""
        self.ensure_prior_reduction_finished()
        if not self.should_rebuild_buckets() or not self.rebuilt_order:
            return False
        order = list(dict.fromkeys(self.rebuilt_order))
        order += [i for i in range(len(self.params)) if i not in set(order)]
        if self.world_size > 1:
            # Every rank must lay its buckets out alike, or the all-reduces would not match: rank 0's order wins.
            shared = make_tensor(order, dtype=D.int64, device=self.params[0].device)
            dist.broadcast(shared, dist.get_global_rank(self.process_group, 0), group=self.process_group)
            order = [int(i) for i in shared.tolist()]
        limits = [self.first_bucket_bytes, self.bucket_bytes_cap]
        indices, _ = compute_bucket_assignment_by_size([self.params[i] for i in order], limits, order)
        self.initialize_buckets(indices)
        self.has_rebuilt_buckets = True
        self.rebuilt_order = []
        return True

    def prepare_for_backward(self, outputs: Iterable[Tensor]) -> None:
        """Called after a forward whose gradients are to be synchronised: arms the hooks, resets the bucket
        counts and, when unused parameters are searched for, finds those the outputs do not depend on."""
        self.expect_autograd_hooks = True
        self.next_bucket = 0
        self.ready = set()
        self.has_marked_unused_parameters = False
        for bucket in self.buckets:
            bucket.pending = len(bucket.indices)
            bucket.work = None
        if self.find_unused_parameters and not self.static_graph:
            self.unused_parameters = self.search_unused_parameters(outputs)
            if not self.unused_parameters and not self._warned_no_unused:
                self._warned_no_unused = True
                warnings.warn(_NO_UNUSED, UserWarning, stacklevel=5)
        elif self.static_graph:
            # The graph is the same every iteration: search once, on the first one.
            if self._static_unused is None:
                self._static_unused = self.search_unused_parameters(outputs)
            self.unused_parameters = list(self._static_unused)
        else:
            self.unused_parameters = []

    def search_unused_parameters(self, outputs: Iterable[Tensor]) -> list[int]:
        """The indices of the parameters whose gradient accumulators the outputs' graphs do not reach."""
        used: set[int] = set()
        seen: set[int] = set()
        stack = []
        for t in outputs:
            if t.grad_fn is not None:
                stack.append(t.grad_fn)
            elif t.requires_grad:
                used.add(id(t))
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            variable = getattr(node, "variable", None)  # an AccumulateGrad node: its leaf
            if variable is not None:
                used.add(id(variable))
            for child, _ in node.next_functions:
                if child is not None and id(child) not in seen:
                    stack.append(child)
        return [i for i, p in enumerate(self.params) if id(p) not in used]

    # ------------------------------------------------------------------ backward
    def autograd_hook(self, index: int) -> None:
        """Runs when parameter `index` has accumulated its gradient."""
        if self.find_unused_parameters or self.static_graph:
            # Used in this (or a no_sync) iteration: its gradient takes part in the next reduction.
            if self.params[index].grad is not None:
                self.local_used[index] = True
        if not self.expect_autograd_hooks:
            return  # no_sync(), or no synchronised forward came first: gradients accumulate locally
        if not self.has_marked_unused_parameters:
            self.has_marked_unused_parameters = True
            for unused in self.unused_parameters:
                self.mark_variable_ready(unused)
        self.mark_variable_ready(index)

    def mark_variable_ready(self, index: int) -> None:
        """Copy parameter `index`'s gradient (divided by the world size) into its bucket slot; launch every
        bucket that is complete, in order; finalize after the last one."""
        if index in self.ready:
            raise RuntimeError(_MARKED_TWICE.format(index=index))
        self.ready.add(index)
        self.require_finalize = True
        if self.should_rebuild_buckets():
            self.rebuilt_order.append(index)
        b, slot = self._locate[index]
        bucket = self.buckets[b]
        self._copy_grad_to_bucket(self.params[index], bucket.views[slot])
        bucket.pending -= 1
        if bucket.pending == 0:
            self.mark_bucket_ready(b)

    def _copy_grad_to_bucket(self, param: Tensor, view: Tensor) -> None:
        grad = param.grad
        with no_grad():
            if grad is None:
                view.zero_()  # locally unused: this rank contributes zeros
            elif _same_memory(grad, view):
                view.div_(self.world_size)
            else:
                ops.mul(grad.detach(), 1.0 / self.world_size, out=view)  # divide while copying, as PyTorch
                if self.gradient_as_bucket_view:
                    param.grad = view

    def mark_bucket_ready(self, index: int) -> None:
        """All-reduce (asynchronously) every complete bucket from the next one on, in order."""
        if index > self.next_bucket:
            return  # an earlier bucket is still pending: buckets are reduced in order on every rank
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            bucket = self.buckets[self.next_bucket]
            bucket.work = dist.all_reduce(bucket.buffer, op=dist.ReduceOp.SUM, group=self.process_group,
                                          async_op=True)
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self.finalize_backward()

    def finalize_backward(self) -> None:
        """Wait on every bucket's all-reduce and write the averaged gradients back to `.grad`."""
        self.expect_autograd_hooks = False
        self.require_finalize = False
        self.num_backward_syncs += 1
        used_work, used_map = None, None
        if self.find_unused_parameters or self.static_graph:
            used_map = make_tensor([1 if u else 0 for u in self.local_used], dtype=D.int32,
                                   device=self.params[0].device)
            used_work = dist.all_reduce(used_map, op=dist.ReduceOp.SUM, group=self.process_group, async_op=True)
        globally_used = None
        for bucket in self.buckets:
            if bucket.work is not None:
                bucket.work.wait()
                bucket.work = None
            for slot, i in enumerate(bucket.indices):
                if used_map is not None and not self.local_used[i]:
                    if globally_used is None:  # waited for only when some parameter is locally unused
                        used_work.wait()
                        globally_used = [v > 0 for v in used_map.tolist()]
                    if not globally_used[i]:
                        continue  # no rank used it: its .grad stays as it was
                self._write_back(self.params[i], bucket.views[slot])
        if used_work is not None and globally_used is None:
            used_work.wait()
        self.local_used = [False] * len(self.params)

    def _write_back(self, param: Tensor, view: Tensor) -> None:
        grad = param.grad
        if self.gradient_as_bucket_view:
            if grad is None or not _same_memory(grad, view):
                param.grad = view
            return
        with no_grad():
            if grad is None:
                param.grad = view.clone()
            else:
                grad.copy_(view)


def _hook(reducer_ref: weakref.ref, index: int, param: Tensor) -> None:
    """The post-accumulate-grad hook of parameter `index` (a no-op once its reducer is gone)."""
    reducer = reducer_ref()
    if reducer is not None:
        reducer.autograd_hook(index)
