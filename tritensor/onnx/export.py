"""`tt.onnx.export`: run a model once, record its op calls, and write the ONNX graph they lower to."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import onnx
from onnx import helper

from .. import random as tt_random
from ..autograd import no_grad
from ..ops.api import cat
from ..tensor import Tensor
from .graph import GraphContext, UnsupportedOperatorError, onnx_type
from .lowerings import lookup
from .trace import Node, Tracer, flat_tensors, tracing

__all__ = ["export"]


def _default_names(base: str, n: int) -> list[str]:
    # PyTorch's defaults for unnamed values: "input", "input.1", ...
    return [base if i == 0 else f"{base}.{i}" for i in range(n)]


def _axes(name: str, spec: Any) -> dict[int, str]:
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {int(k): str(v) for k, v in spec.items()}
    # a list of axes: PyTorch names them "<name>_dynamic_axes_<i>" (1-based)
    return {int(axis): f"{name}_dynamic_axes_{i + 1}" for i, axis in enumerate(spec)}


def _value_info(name: str, t: Tensor, dynamic: dict[int, str], unknown: bool) -> onnx.ValueInfoProto:
    shape = [dynamic.get(i, None if unknown else size) for i, size in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, onnx_type(t.dtype), shape)


def _param_names(model: Any) -> dict[int, str]:
    names: dict[int, str] = {}
    if hasattr(model, "named_parameters"):
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            names.setdefault(id(t), name)
    return names


def _lower(g: GraphContext, node: Node) -> None:
    lower = lookup(node.op)
    if lower is None:
        name = node.op[2:] if node.op.startswith("F.") else node.op
        raise UnsupportedOperatorError(f"tt.onnx.export: no ONNX lowering for op '{name}' (called from {node.where})")
    names = lower(g, node.bound_arguments(), node)
    if len(names) != len(node.outputs):
        raise AssertionError(f"the lowering of '{node.op}' returned {len(names)} values for {len(node.outputs)}")
    for t, name in zip(node.outputs, names):
        g.bind(t, name)


def _run(model: Any, inputs: tuple, kwargs: dict, training: Any) -> tuple[Tracer, Any]:
    tensors = flat_tensors(inputs) + flat_tensors(kwargs)
    tracer = Tracer(tensors, lambda op: lookup(op) is not None)
    was_training = getattr(model, "training", None)
    if was_training is not None and training in ("eval", False, None):
        model.eval()
    try:
        with no_grad(), tracing(tracer):
            result = model(*inputs, **kwargs)
    finally:
        if was_training is not None:
            model.train(was_training)
    return tracer, result


def _perturbed(t: Tensor) -> Tensor:
    """The same shape and dtype with other values: floats scaled and shifted, integers reversed along the last
    axis (token ids stay valid ids); bool inputs (masks) are kept."""
    if t.dtype.is_floating_point:
        return t * 1.5 + 0.25
    if t.dtype.name == "bool" or t.ndim == 0:
        return t
    return t.flip(-1)


def _constant_arguments(tracer: Tracer) -> list[tuple[Node, Tensor]]:
    """Each recorded node's tensor arguments that the trace did not compute from the inputs (the graph's
    constants: parameters, folded values, ... and anything computed where the tracer could not see)."""
    return [(node, t) for node in tracer.nodes for t in flat_tensors((node.args, node.kwargs))
            if id(t) not in tracer.live]


def _check_constants(model: Any, inputs: tuple, kwargs: dict, training: Any, tracer: Tracer, rng_state) -> None:
    """Refuse a trace that would bake an input-dependent value into the graph as a constant: the model runs a
    second time on perturbed inputs (the random state restored), and every constant argument must come out
    the same. A tensor that changed was computed from the inputs by code that calls no bound op (a plain
    function imported from an ops module, NumPy, ...), which the exported graph could only hold frozen."""
    tt_random.set_rng_state(rng_state)
    other_inputs = tuple(_perturbed(t) if isinstance(t, Tensor) else t for t in inputs)
    other, _ = _run(model, other_inputs, kwargs, training)
    first, second = _constant_arguments(tracer), _constant_arguments(other)
    if [n.op for n in tracer.nodes] != [n.op for n in other.nodes] or len(first) != len(second):
        return  # another path through the model for other values: only the traced one is exported, as PyTorch
    for (node, a), (_, b) in zip(first, second):
        if a.shape != b.shape or not (a.detach().cpu().numpy() == b.detach().cpu().numpy()).all():
            raise UnsupportedOperatorError(
                f"tt.onnx.export: op '{node.op}' (called from {node.where}) reads a tensor that changes with the "
                "inputs but was computed outside the bound ops (by code the tracer cannot see); the exported graph "
                "would hold it as a constant")


def _needed(nodes: list[Node], outputs: list[Tensor]) -> list[Node]:
    """The nodes the graph's outputs depend on (plus every node without outputs: a write into a traced tensor,
    which must still refuse the export): a traced value no output reads (a check such as `(mask ==
    causal).all()` whose Python bool steered the run) is not exported, as PyTorch's exporter drops dead code."""
    live = {id(t) for t in outputs}
    kept = []
    for node in reversed(nodes):
        if not node.outputs or any(id(t) in live for t in node.outputs):
            kept.append(node)
            live.update(id(t) for t in flat_tensors((node.args, node.kwargs)))
    return kept[::-1]


def _grown(t: Tensor, axes: Sequence[int]) -> Tensor:
    """t with each of `axes` one longer (its first slice repeated at the end)."""
    for axis in axes:
        t = cat([t, t.narrow(axis, 0, 1)], dim=axis)
    return t


def _probe(model: Any, inputs: tuple, kwargs: dict, training: Any, tracer: Tracer, dynamic: dict[int, list[int]],
           rng_state) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """GraphContext.probe: the model runs once more with each dynamic axis of a positional input one longer, and
    every traced tensor's shape (and every constant argument's) is paired with its shape in that run. Empty when
    there is no dynamic input axis, or when the second run fails or takes another path (the traced shapes are then
    all there is, as in PyTorch)."""
    if not dynamic:
        return {}
    tt_random.set_rng_state(rng_state)
    try:
        grown = tuple(_grown(t, dynamic[i]) if i in dynamic else t for i, t in enumerate(inputs))
        other, _ = _run(model, grown, kwargs, training)
    except Exception:  # noqa: BLE001 - a model that cannot run at another size keeps its traced sizes
        return {}
    if [n.op for n in tracer.nodes] != [n.op for n in other.nodes] or len(tracer.inputs) != len(other.inputs):
        return {}
    pairs = list(zip(tracer.inputs, other.inputs))
    for node, seen in zip(tracer.nodes, other.nodes):
        args, seen_args = flat_tensors((node.args, node.kwargs)), flat_tensors((seen.args, seen.kwargs))
        if len(node.outputs) != len(seen.outputs) or len(args) != len(seen_args):
            return {}
        pairs += zip(node.outputs, seen.outputs)
        pairs += [(a, b) for a, b in zip(args, seen_args) if id(a) not in tracer.live]  # the constants
    return {id(a): (tuple(a.shape), tuple(b.shape)) for a, b in pairs}


def _dynamic_inputs(inputs: tuple, names: list[str], tensors: list[Tensor],
                    dynamic_axes: Mapping[str, Any]) -> dict[int, list[int]]:
    """Position in `inputs` -> the dynamic axes of that (positional tensor) input."""
    by_id = {id(t): name for t, name in zip(tensors, names)}
    found = {}
    for i, t in enumerate(inputs):
        axes = _axes("", dynamic_axes.get(by_id.get(id(t), ""))) if isinstance(t, Tensor) else {}
        if axes:
            found[i] = sorted(a % t.dim() for a in axes)
    return found


def build_model(model: Any, args: Any, input_names: Sequence[str] | None = None,
                output_names: Sequence[str] | None = None,
                dynamic_axes: Mapping[str, Any] | None = None, opset_version: int | None = 17,
                training: Any = "eval", kwargs: Mapping[str, Any] | None = None) -> onnx.ModelProto:
    """The checked ModelProto `export` writes (same arguments, without the file)."""
    opset_version = 17 if opset_version is None else opset_version  # PyTorch: None is the default opset
    newest = onnx.defs.onnx_opset_version()
    if not 13 <= opset_version <= newest:  # below 13 Squeeze/Split/ReduceSum take their axes as attributes
        raise ValueError(f"tt.onnx.export supports opset_version 13 to {newest} (13 and up), got {opset_version}")
    inputs = args if isinstance(args, tuple) else (args,)
    kwargs = dict(kwargs or {})
    if inputs and isinstance(inputs[-1], dict):  # PyTorch: a trailing dict holds keyword arguments
        kwargs, inputs = {**inputs[-1], **kwargs}, inputs[:-1]
    rng_state = tt_random.get_rng_state()
    tracer, result = _run(model, inputs, kwargs, training)
    _check_constants(model, inputs, kwargs, training, tracer, rng_state)
    g = GraphContext(opset_version, _param_names(model))
    in_tensors = tracer.inputs
    in_names = list(input_names or []) + _default_names("input", len(in_tensors))[len(input_names or []):]
    dynamic_axes = dict(dynamic_axes or {})
    g.probe = _probe(model, inputs, kwargs, training, tracer,
                     _dynamic_inputs(inputs, in_names, in_tensors, dynamic_axes), rng_state)
    for t, name in zip(in_tensors, in_names):
        g.bind(t, name)
        if id(t) in g.probe:
            g.probed_inputs.append((name, *g.probe[id(t)]))
    outs = flat_tensors(result)
    for node in _needed(tracer.nodes, outs):
        _lower(g, node)
    for i, t in enumerate(outs):
        if id(t) not in tracer.live:  # computed where the tracer cannot see (not by public ops), or a constant
            raise UnsupportedOperatorError(
                f"tt.onnx.export: output {i} does not depend on the inputs through traced ops: it is a constant, "
                "or was computed by code that calls no public op (a packed sequence's data, say)")
    out_names = list(output_names or []) + _default_names("output", len(outs))[len(output_names or []):]
    unknown = bool(dynamic_axes)  # an output's size may follow a dynamic input: leave unnamed dims unknown
    graph_outputs = []
    for t, name in zip(outs, out_names):
        g.nodes.append(helper.make_node("Identity", [g.tensor(t)], [name], name=f"/Identity_{name}"))
        graph_outputs.append(_value_info(name, t, _axes(name, dynamic_axes.get(name)), unknown))
    graph_inputs = [_value_info(name, t, _axes(name, dynamic_axes.get(name)), False)
                    for t, name in zip(in_tensors, in_names)]
    graph = helper.make_graph(g.nodes, type(model).__name__ if hasattr(model, "forward") else "main_graph",
                              graph_inputs, graph_outputs, g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset_version)],
                              producer_name="tritensor")
    # the oldest IR each opset needs (7 for opsets 13-14, as PyTorch writes them), so older runtimes load it
    proto.ir_version = min(proto.ir_version, 7 if opset_version <= 14 else 8 if opset_version <= 18 else 9)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model: Any, args: Any, f: str | os.PathLike | io.IOBase, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, dynamic_axes: Mapping[str, Any] | None = None,
           opset_version: int | None = 17, *, training: Any = "eval", export_params: bool = True,
           do_constant_folding: bool = True, verbose: bool = False,
           kwargs: Mapping[str, Any] | None = None) -> None:
    """Export `model` to ONNX as PyTorch's torch.onnx.export (the tracing exporter) does.

    The model runs once on `args` (a tensor or a tuple; a trailing dict holds keyword arguments) in eval mode
    and without grad; every public op it calls is recorded where ops are bound and lowered through the one
    table of tritensor/onnx/lowerings (an op without a lowering fails naming it, with the line that called
    it). Parameters and buffers become initializers named by their state_dict keys; ops on constants only are
    folded. `input_names`/`output_names` name the graph's values ("input", "input.1", ... and "output", ...
    by default); `dynamic_axes` maps a name to {axis: "dim_name"} or a list of axes, which become symbolic
    dims. `f` is a path or a binary file object. The graph passes onnx.checker before it is written.
    `opset_version` is 13 up to the newest the installed onnx knows: below 17, ops whose ONNX signature differs
    take that opset's form, as PyTorch's exporter writes them (layer_norm as its formula, ...).
    Sizes read in Python (x.size(0)) are traced as constants, as in PyTorch; reshapes keep a dynamic leading
    batch dim, but a causal mask is built for the traced sequence length.
    """
    if not export_params:
        raise NotImplementedError("tt.onnx.export: export_params=False is not supported")
    del do_constant_folding, verbose  # ops on constants are always folded; nothing is printed
    proto = build_model(model, args, input_names, output_names, dynamic_axes, opset_version, training, kwargs)
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    else:
        f.write(data)
