"""DataParallel: one process, several cuda devices, as torch.nn.DataParallel (plus the functions it is built from:
scatter, scatter_kwargs, replicate, parallel_apply, gather and the functional data_parallel).

Each forward splits the batch along `dim` over the devices (scatter), copies the module to each of them
(replicate: the copies' parameters are differentiable copies of the originals, so backward sums every replica's
gradient into the original `.grad`), runs the copies (parallel_apply) and concatenates their outputs on
`output_device` (gather). With one device id the module simply runs on that device; with no cuda device at all
DataParallel is a transparent wrapper around the module, as PyTorch's.

The replicas run one after the other from the calling thread (PyTorch uses a thread per device): kernels are
queued asynchronously on each device's stream, so the devices still work at the same time unless the module
reads values back to the host. tritensor's autograd tape is not shared between threads, which is why no threads
are used. The functions accept any devices (cpu included) so the mechanics run without a GPU; DataParallel
itself, like PyTorch's, takes cuda device ids.
"""

from __future__ import annotations

import operator
import warnings
from collections import OrderedDict
from itertools import chain

from ... import cuda
from ...autograd import is_grad_enabled
from ...device import device as _device_cls
from ...ops import api as ops
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel", "gather", "parallel_apply", "replicate", "scatter", "scatter_kwargs"]

_IMBALANCE_WARNING = """
    There is an imbalance between your GPUs. You may want to exclude GPU {} which
    has less than 75% of the memory or cores of GPU {}. You can do so by setting
    the device_ids argument to DataParallel, or by setting the CUDA_VISIBLE_DEVICES
    environment variable."""


def _device_index(device, optional: bool = True) -> int:
    """PyTorch's `_get_device_index` for DataParallel: an int, 'cuda:1' or a tt.device -> its index (the
    current cuda device when the index is missing); a cpu device is refused."""
    if isinstance(device, str):
        device = _device_cls(device)
    if isinstance(device, _device_cls):
        if device.type == "cpu":
            raise ValueError(f"Expected a non cpu device, but got: {device}")
        if device.index is not None:
            return device.index
    elif isinstance(device, int) and not isinstance(device, bool):
        return device
    if optional:
        return cuda.current_device()
    raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:{device}")


def _as_device(device) -> _device_cls:
    """A device the scatter/gather functions take: an int is a cuda index (-1 the cpu), else a device/string."""
    if isinstance(device, int) and not isinstance(device, bool):
        return _device_cls("cpu") if device < 0 else _device_cls("cuda", device)
    d = _device_cls(device)
    return _device_cls("cuda", cuda.current_device()) if d.type == "cuda" and d.index is None else d


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_asdict") and hasattr(obj, "_fields")


def _check_balance(device_ids: list[int]) -> None:
    """Warn when a device has under 75% of another's memory or multiprocessors (PyTorch's check); raises
    AssertionError("Invalid device id") for an index that is not a device."""
    props = [cuda.get_device_properties(i) for i in device_ids]
    for read in (operator.attrgetter("total_memory"), operator.attrgetter("multi_processor_count")):
        values = [read(p) for p in props]
        low = min(range(len(values)), key=values.__getitem__)
        high = max(range(len(values)), key=values.__getitem__)
        if values[high] and values[low] / values[high] < 0.75:
            warnings.warn(_IMBALANCE_WARNING.format(device_ids[low], device_ids[high]), stacklevel=3)
            return


def scatter(inputs, target_gpus: list, dim: int = 0) -> list:
    """Split every tensor in `inputs` (nested tuples, lists, dicts, namedtuples) into chunks along `dim`, one
    per target device and moved there (differentiably); other objects are repeated for each device. Returns
    one entry per chunk (fewer than the devices when a tensor has fewer rows)."""
    devices = [_as_device(d) for d in target_gpus]

    def split(obj):
        if isinstance(obj, Tensor):
            return [chunk.to(dev) for chunk, dev in zip(obj.chunk(len(devices), dim), devices)]
        if _is_namedtuple(obj):
            return [type(obj)(*parts) for parts in zip(*map(split, obj))]
        if isinstance(obj, tuple) and obj:
            return list(zip(*map(split, obj)))
        if isinstance(obj, list) and obj:
            return [list(parts) for parts in zip(*map(split, obj))]
        if isinstance(obj, dict) and obj:
            return [type(obj)(parts) for parts in zip(*map(split, obj.items()))]
        return [obj for _ in devices]

    return split(inputs)


def scatter_kwargs(inputs: tuple, kwargs: dict | None, target_gpus: list, dim: int = 0) -> tuple[tuple, tuple]:
    """scatter() for positional and keyword arguments together: two tuples of the same length (the shorter one
    padded with () or {})."""
    scattered_inputs = scatter(inputs, target_gpus, dim) if inputs else []
    scattered_kwargs = scatter(kwargs, target_gpus, dim) if kwargs else []
    if len(scattered_inputs) < len(scattered_kwargs):
        scattered_inputs.extend(() for _ in range(len(scattered_kwargs) - len(scattered_inputs)))
    elif len(scattered_kwargs) < len(scattered_inputs):
        scattered_kwargs.extend({} for _ in range(len(scattered_inputs) - len(scattered_kwargs)))
    return tuple(scattered_inputs), tuple(scattered_kwargs)


def _copies(tensors: list[Tensor], devices: list[_device_cls], detach: bool) -> list[list[Tensor]]:
    """tensors[i] on each device: the tensor itself where it already is, else a copy (differentiable unless
    `detach`), so gradients of every copy reach the original."""
    out = []
    for dev in devices:
        row = []
        for t in tensors:
            if t.device == dev:
                row.append(t)
            else:
                row.append((t.detach() if detach or not t.requires_grad else t).to(dev))
        out.append(row)
    return out


def _shallow_replica(module: Module) -> Module:
    """A copy of one module object that shares everything but its own parameter, buffer and child tables."""
    replica = object.__new__(type(module))
    state = module.__dict__.copy()
    state["_parameters"] = OrderedDict()
    state["_buffers"] = state["_buffers"].copy()
    state["_modules"] = state["_modules"].copy()
    replica.__dict__.update(state)
    return replica


def replicate(network: Module, devices: list, detach: bool = False) -> list[Module]:
    """Copies of `network`, one per device. A replica's parameters are plain tensors (not leaves, not in its
    parameters()): copies of the originals whose gradients flow back to them (unless `detach`); on the device
    the network is on, the replica uses the original parameters and buffers themselves (so BatchNorm's running
    statistics of that replica update the network's, as in PyTorch)."""
    targets = [_as_device(d) for d in devices]
    modules = list(network.modules())
    module_index = {id(m): i for i, m in enumerate(modules)}
    params = list(network.parameters())
    param_index = {id(p): i for i, p in enumerate(params)}
    buffers = list(network.buffers())
    buffer_index = {id(b): i for i, b in enumerate(buffers)}
    param_copies = _copies(params, targets, detach)
    buffer_copies = _copies(buffers, targets, detach)
    replicas = []
    for j in range(len(targets)):
        copies = [_shallow_replica(m) for m in modules]
        for m, replica in zip(modules, copies):
            for key, child in m._modules.items():
                replica._modules[key] = None if child is None else copies[module_index[id(child)]]
            for key, p in m._parameters.items():
                if p is None:
                    replica._parameters[key] = None
                else:
                    # Not a leaf any more, so not a parameter: an ordinary attribute, found before __getattr__.
                    replica.__dict__[key] = param_copies[j][param_index[id(p)]]
            for key, b in m._buffers.items():
                replica._buffers[key] = None if b is None else buffer_copies[j][buffer_index[id(b)]]
        replicas.append(copies[0])
    return replicas


def parallel_apply(modules: list, inputs: list, kwargs_tup: list | None = None, devices: list | None = None) -> list:
    """Run modules[i](*inputs[i], **kwargs_tup[i]) for every i, each with its device current; returns the
    outputs in order. An exception names the replica and device it came from."""
    if len(modules) != len(inputs):
        raise AssertionError(f"The number of modules {len(modules)} is not equal to the number of inputs "
                             f"{len(inputs)}")
    kwargs_tup = tuple(kwargs_tup) if kwargs_tup is not None else tuple({} for _ in modules)
    if len(kwargs_tup) != len(modules):
        raise AssertionError(f"The number of kwargs {len(kwargs_tup)} is not equal to the number of modules "
                             f"{len(modules)}")
    if devices is None:
        devices = [_module_device(m) for m in modules]
    outputs = []
    for i, (module, args, kwargs, dev) in enumerate(zip(modules, inputs, kwargs_tup, devices)):
        dev = _as_device(dev) if dev is not None else None
        args = args if isinstance(args, (list, tuple)) else (args,)
        index = dev.index if dev is not None and dev.type == "cuda" else None
        try:
            with cuda.device(index):
                outputs.append(module(*args, **kwargs))
        except Exception as exc:
            exc.add_note(f"Caught {type(exc).__name__} in replica {i} on device {dev}.")
            raise
    return outputs


def _module_device(module: Module):
    for t in chain(module.parameters(), module.buffers(), (v for v in module.__dict__.values()
                                                           if isinstance(v, Tensor))):
        return t.device
    return None


def gather(outputs: list, target_device, dim: int = 0):
    """Concatenate the replicas' outputs along `dim` on `target_device` (-1 or "cpu": the cpu), through
    nested tuples, lists, dicts and namedtuples; 0-dim tensors are stacked into a vector (with a warning)."""
    target = _as_device(target_device)

    def join(items):
        out = items[0]
        if isinstance(out, Tensor):
            if all(t.dim() == 0 for t in items):
                warnings.warn("Was asked to gather along dimension 0, but all input tensors were scalars; will "
                              "instead unsqueeze and return a vector.", stacklevel=4)
                items = [t.reshape(1) for t in items]
                return ops.cat([t.to(target) for t in items], 0)
            return ops.cat([t.to(target) for t in items], dim)
        if out is None:
            return None
        if isinstance(out, dict):
            if not all(len(out) == len(d) for d in items):
                raise ValueError("All dicts must have the same number of keys")
            return type(out)((k, join([d[k] for d in items])) for k in out)
        if _is_namedtuple(out):
            return type(out)._make(map(join, zip(*items)))
        return type(out)(map(join, zip(*items)))

    return join(outputs)


def _run(module: Module, inputs: tuple, kwargs: dict | None, device_ids: list[int], output_device: int,
         dim: int, src: _device_cls):
    """The multi-device forward shared by DataParallel and data_parallel."""
    for t in chain(module.parameters(), module.buffers()):
        if t.device != src:
            raise RuntimeError(f"module must have its parameters and buffers on device {src} (device_ids[0]) but "
                               f"found one of them on device: {t.device}")
    inputs, kwargs = scatter_kwargs(inputs, kwargs, device_ids, dim)
    if not inputs and not kwargs:
        # A forward without arguments still runs, on the first device.
        inputs, kwargs = ((),), ({},)
    if len(device_ids) == 1:
        return module(*inputs[0], **kwargs[0])
    used = device_ids[:len(inputs)]
    outputs = parallel_apply(replicate(module, used), inputs, kwargs, used)
    return gather(outputs, output_device, dim)


class DataParallel(Module):
    """Data parallelism over the cuda devices of one process, as torch.nn.DataParallel.

    `device_ids` (all visible devices by default) and `output_device` (device_ids[0] by default) take ints,
    'cuda:i' strings or devices; the module's parameters and buffers must be on device_ids[0] (with a single
    device id the module is moved there). Each forward scatters the batch along `dim`, runs a replica of the
    module per device and gathers the outputs on `output_device`; backward accumulates every replica's gradient
    into the module's parameters. Without a cuda device the wrapper just calls the module. The wrapped module is
    `self.module`, so state_dict keys carry a `module.` prefix, as PyTorch's.

    tritensor runs the replicas one after the other from the calling thread (see the module notes); under
    Triton's interpreter there is one device, cuda:0. PyTorch recommends DistributedDataParallel over this, and
    so does tritensor (tt.nn.parallel.DistributedDataParallel).

    >>> model = nn.DataParallel(Net())      # on every visible GPU
    >>> loss_fn(model(x), y).backward()     # the module's .grad sums the replicas' gradients
    """

    def __init__(self, module: Module, device_ids: list | None = None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        self.dim = dim
        self.module = module
        if not cuda.is_available():
            self.device_ids = []
            self.output_device = None
            return
        if device_ids is None:
            device_ids = list(range(cuda.device_count()))
        if output_device is None:
            output_device = device_ids[0]
        self.device_ids = [_device_index(d, True) for d in device_ids]
        self.output_device = _device_index(output_device, True)
        self.src_device_obj = _device_cls("cuda", self.device_ids[0])
        _check_balance(self.device_ids)
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        """Run the module on the inputs, split over the devices (see the class notes)."""
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        return _run(self.module, inputs, kwargs, self.device_ids, self.output_device, self.dim,
                    self.src_device_obj)

    def replicate(self, module: Module, device_ids: list) -> list[Module]:
        """Copies of `module` on `device_ids` (see `replicate`)."""
        return replicate(module, device_ids, not is_grad_enabled())

    def scatter(self, inputs: tuple, kwargs: dict | None, device_ids: list) -> tuple[tuple, tuple]:
        """Split the positional and keyword arguments over `device_ids` along self.dim."""
        return scatter_kwargs(inputs, kwargs, device_ids, dim=self.dim)

    def parallel_apply(self, replicas: list, inputs: tuple, kwargs: tuple) -> list:
        """Run each replica on its share of the arguments."""
        return parallel_apply(replicas, inputs, kwargs, self.device_ids[:len(replicas)])

    def gather(self, outputs: list, output_device):
        """Concatenate the replicas' outputs on `output_device` along self.dim."""
        return gather(outputs, output_device, dim=self.dim)


def data_parallel(module: Module, inputs, device_ids: list | None = None, output_device=None, dim: int = 0,
                  module_kwargs: dict | None = None):
    """Evaluate `module(*inputs, **module_kwargs)` split over the cuda devices `device_ids` (all by default),
    gathering the result on `output_device` (device_ids[0] by default): DataParallel's forward as a function."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    if not cuda.is_available():
        raise RuntimeError("device type could not be determined")
    if device_ids is None:
        device_ids = list(range(cuda.device_count()))
    if output_device is None:
        output_device = device_ids[0]
    device_ids = [_device_index(d, True) for d in device_ids]
    output_device = _device_index(output_device, True)
    return _run(module, inputs, module_kwargs, device_ids, output_device, dim, _device_cls("cuda", device_ids[0]))
