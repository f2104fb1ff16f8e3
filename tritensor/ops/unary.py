"""Unary math ops (abs, sign, sqrt, rsqrt, square, reciprocal, floor, ceil, round, trunc) registered
over kernels/unary.py, and the machinery every unary family (exponential, trigonometric, special,
activations) registers its ops with.

Each op is one autograd Function built from its kernels module's `OPS` entry by `make_function`: forward
runs the NumPy reference on cpu or the Triton kernel on cuda and saves the input or the output,
whichever the kernel's backward reads; `backward` is the derivative written with tensor ops, so
create_graph=True differentiates it again, and `backward_fused` runs the op's single backward kernel
when no graph is requested.

`register_family` makes a family's Functions and its public functions (`tt.<op>`, Tensor methods and
in-place forms). Integer and bool inputs follow PyTorch: ops that PyTorch promotes (exp, sqrt, sin,
sigmoid, ...) cast them to the default float dtype first; abs, sign, square, floor, ceil, round and
trunc keep integer dtypes.

Hot paths (the per-call cost of a small op is its layers, not its arithmetic): a floating-point input that records
no graph skips the Function (`run_unrecorded`), and a plain fresh float32/float64 cpu tensor (`host_ready`) of an op
whose reference declares its NumPy function (`kernels/unary.host_fn`) calls that function directly; out= and the
in-place forms of such inputs (`plain_inplace`) write that result; a recording cpu input gets the node `apply` would
make around the same result (`record` on each Function). Anything else takes `_apply` and `Function.apply`.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import zeros_like
from ..device import CPU
from ..grad_state import state as grad_state
from ..kernels import binary as KB
from ..kernels import elementwise as KE
from ..kernels import unary as K
from ..kernels.quiet_numpy import quiet_one
from ..kernels.unary import UnaryOp
from ..tensor import Tensor
from . import complex as _complex
from .copy import _contiguous_copy, write_into
from .dispatch import cast, expanded, launch_declared, run_elementwise, run_elementwise_backward, scalar_tensor
from .elementwise import _into, inplace


def torch_type_name(dtype: D.dtype) -> str:
    """PyTorch's scalar type name ('Float', 'Long', 'Bool', ...) for error messages."""
    return D.scalar_type_name(dtype)


def check_tensor(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def _graph_alias(ctx: Function, saved: Tensor) -> Tensor:
    """The saved output as a tensor whose grad_fn is ctx again (a tensor-op backward differentiates
    through it). The output itself is saved detached: saving it with its grad_fn would make a
    reference cycle output -> node -> output."""
    alias = saved.detach()
    alias.grad_fn, alias._output_nr, alias._requires_grad = ctx, 0, True
    return alias


# torch.nn classes named like an op's node (nn.Tanh, nn.Sigmoid, ...): the recipe names those Functions
# <Node>Function (Function.name() strips the suffix, so grad_fn still prints PyTorch's <Node>Backward0).
_NN_CLASS_NAMES = frozenset({"Tanh", "Sigmoid", "Softplus", "Hardtanh", "Hardsigmoid", "Hardswish", "Mish",
                             "LogSigmoid"})


def _derivative_ref(op: UnaryOp) -> Callable | None:
    """The op's `<name>_derivative_ref` in its kernels module (gelu's), or None: `(out, kept or None)` from x, where
    kept is what the cpu backward needs (its `derivative=`) computed on the forward's passes, so that a
    graph-recording forward keeps it instead of the backward recomputing it."""
    ref = op.forward_ref
    name = getattr(ref, "__name__", "")
    if not name.endswith("_ref"):
        return None
    return getattr(sys.modules.get(ref.__module__), name[:-4] + "_derivative_ref", None)


def make_function(node_name: str, op: UnaryOp, derivative: Callable | None,
                  module: str = __name__) -> type[Function]:
    """The Function of one unary op. Its forward takes (x, params, copy_input): params are the op's
    keyword parameters in `op.params` order; copy_input is set by in-place forms, whose input is
    overwritten before backward runs. `derivative(grad, saved, *params)` is the gradient in tensor
    ops, where `saved` is x or the output per `op.saves`; None marks a piecewise-constant op."""
    names = tuple(op.params)
    save_output = op.saves == "output"
    keep = _derivative_ref(op) if derivative is not None else None

    def forward(ctx, x: Tensor, params: tuple, copy_input: bool) -> Tensor:
        if keep is not None and x.device.type == "cpu" and ctx.needs_input_grad[:1] == (True,):
            y, ctx.derivative_host = keep(x._np if x._np is not None else x._host(), **dict(zip(names, params)))
            out = Tensor._wrap(y)
        else:
            out = run_elementwise(op.forward_ref, op.forward, [x], x.dtype, **dict(zip(names, params)))
        save(ctx, x, out, params, copy_input)
        return out

    def save(ctx, x: Tensor, out: Tensor, params: tuple, copy_input: bool) -> None:
        if ctx.needs_input_grad and derivative is not None:
            ctx.params = params
            if save_output:
                saved = out.detach()
            elif copy_input:
                # The input's values as they were, still linked to the node that produced them.
                saved = _contiguous_copy(x)
                saved.grad_fn, saved._output_nr, saved._requires_grad = x.grad_fn, x._output_nr, x._requires_grad
            else:
                saved = x
            ctx.save_for_backward(saved)

    def backward(ctx, grad):
        if derivative is None:
            return zeros_like(grad), None, None
        (saved,) = ctx.saved_tensors
        if save_output:
            saved = _graph_alias(ctx, saved)
        return derivative(grad, saved, *ctx.params), None, None

    def backward_fused(self, grad):
        (saved,) = self.saved_tensors
        kept, self.derivative_host = self.derivative_host, None  # used up: a second backward recomputes it
        if kept is not None and grad.device.type == "cpu":  # the forward's derivative: one product, in place
            (grad_x,) = op.backward_ref(grad._host(), saved._host(), **dict(zip(names, self.params)), derivative=kept)
            return Tensor._wrap(np.asarray(grad_x, dtype=grad.dtype.np)), None, None
        (grad_x,) = run_elementwise_backward(op.backward_ref, op.backward, 1, grad, [saved],
                                             **dict(zip(names, self.params)))
        return grad_x, None, None

    namespace = {"differentiable_forward": False, "derivative_host": None, "forward": staticmethod(forward),
                 "backward": staticmethod(backward), "__module__": module,
                 "__doc__": f"Autograd node of {node_name.lower()} (saves its {op.saves})."}
    if derivative is not None:
        namespace["backward_fused"] = backward_fused
    class_name = f"{node_name}Function" if node_name in _NN_CLASS_NAMES else node_name
    function = type(class_name, (Function,), namespace)

    def record(x: Tensor, out: Tensor, params: tuple = ()) -> Tensor:
        """`apply(x, params, False)` for a floating-point cpu x that requires grad while grad mode is on, whose
        result `out` the caller computed as forward does (`run_plain` / `run_unrecorded`): the node apply records,
        with what forward saves, linked to out."""
        node = function._record_node((x, params, False))
        save(node, x, out, params, False)
        return node._link_result(out)

    # An op whose forward keeps its derivative from the same passes (gelu) records through apply only.
    function.record = staticmethod(record) if keep is None else None
    return function


def _prepare(name: str, op: UnaryOp, x: Tensor) -> Tensor:
    """x in the dtype the op computes in: integers kept or cast to the default float dtype."""
    dtype = x.dtype
    if dtype.is_floating_point:
        return x
    if not op.keeps_int:
        return cast(x, D.get_default_dtype())
    if dtype is D.bool:
        if name == "square":  # pow(x, 2): a bool base and an int exponent promote to int64
            return cast(x, D.int64)
        if name not in ("abs", "sign"):
            raise RuntimeError(f'"{name}" not implemented for \'Bool\'')
    return x


def _apply(name: str, op: UnaryOp, function: type[Function], x: Tensor, copy_input: bool) -> Tensor:
    if x.dtype.is_complex:
        if name == "abs":
            return _complex.abs(x)
        raise NotImplementedError(f"{name} is not implemented for complex tensors in tritensor "
                                  f"(dtype {x.dtype}); only abs of the unary ops takes complex input")
    x = _prepare(name, op, x)
    if x.dtype is D.bool:  # abs and sign of a bool are the identity
        return _contiguous_copy(x)
    return function.apply(x, (), copy_input)


_FLOAT32_64 = (D.float32, D.float64)


def host_ready(x: Tensor) -> bool:
    """x is a plain fresh float32/float64 cpu tensor of at least one dimension (C-contiguous, `_stride` not yet
    made): a forward reference's `host_fn` (kernels/unary.host_fn) computes its op's result from x's array alone,
    a new C-contiguous array of x's dtype, so the hot paths wrap it with `Tensor._fresh` and no check."""
    return x._stride is None and x.dtype in _FLOAT32_64 and x.device is CPU and x._np is not None and x._shape != ()


def run_unrecorded(op: UnaryOp, x: Tensor, **params) -> Tensor:
    """What a unary op's Function computes for a floating-point input that records no graph (its forward's
    run_elementwise on one operand: the NumPy reference on cpu, the kernel into a new contiguous output on cuda),
    without the layers between: the hot path of the unary ops and the activations (whose checks such an input
    passes)."""
    if x.device.type == "cpu":
        y = op.forward_ref(x._np if x._np is not None else x._host(), **params)
        # A reference's result is usually a new C-contiguous array of x's dtype: _wrap's checks only when it is not.
        if type(y) is np.ndarray and y.dtype is x.dtype.np and y.flags.c_contiguous:
            return Tensor._fresh(y, x.dtype)
        out = Tensor._wrap(y)
        return out if out.dtype is x.dtype else Tensor._wrap(out._np.astype(x.dtype.np))
    out = Tensor._empty(x._shape, x.dtype, x.device)
    if params:
        op.forward(out._dev(), x._dev(), **params)
        return out
    # A forward that declares its map op (K.runs_map) runs a launch made before by its plan, without DeviceArrays.
    declared = getattr(op.forward, "map_op", None)
    if declared is None or not launch_declared(declared, out, x):
        op.forward(out._dev(), x._dev())
    return out


def run_plain(op: UnaryOp, host: Callable | None, x: Tensor) -> Tensor:
    """run_unrecorded(op, x) for a floating-point x that records no graph, through `host` (the reference's
    `host_fn`, or None) where x is `host_ready`."""
    if host is not None and host_ready(x):
        return Tensor._fresh(quiet_one(host, x._np), x.dtype)
    return run_unrecorded(op, x)


def plain_inplace(x) -> bool:
    """An in-place op on x records nothing and rebases no history: a floating-point tensor that does not require
    grad and is no view (`inplace`'s checks and history steps have nothing to do), so the op's unrecorded result
    is written into it (write_into: the version bump included)."""
    return type(x) is Tensor and x.dtype.is_floating_point and not x._requires_grad and x._base is None


def _make_public(name: str, op: UnaryOp, function: type[Function], module: str,
                 description: str = "") -> tuple[Callable, Callable]:
    """tt.<name>(input, *, out=None) and its in-place form <name>_(input); `description` opens the docstring."""
    host = getattr(op.forward_ref, "host_fn", None)

    def fn(input: Tensor, *, out: Tensor | None = None) -> Tensor:
        if type(input) is Tensor and input.dtype.is_floating_point \
                and not (grad_state.enabled and input._requires_grad):
            if host is not None and out is None and host_ready(input):  # (run_plain inlined: the everyday call)
                return Tensor._fresh(quiet_one(host, input._np), input.dtype)
            result = run_plain(op, host, input)
            return result if out is None else _into(out, result)
        if out is None and type(input) is Tensor and input.device is CPU and input.dtype.is_floating_point \
                and function.record is not None:  # recording: the node apply would make, around the same result
            return function.record(input, run_plain(op, host, input))
        check_tensor(name, input)
        result = _apply(name, op, function, input, False)
        return result if out is None else _into(out, result)

    def fn_(input: Tensor) -> Tensor:
        if plain_inplace(input):
            write_into(input, run_plain(op, host, input))
            return input
        check_tensor(name + "_", input)
        return inplace(lambda t: _apply(name, op, function, t, True), input)

    fn.__name__ = fn.__qualname__ = name
    fn_.__name__ = fn_.__qualname__ = name + "_"
    what = description or f"Elementwise {name}."
    fn.__doc__ = f"{what}\n\n    As torch.{name}; also a Tensor method, with the in-place form `{name}_`.\n    "
    fn_.__doc__ = f"In-place {name}: {what[0].lower()}{what[1:]}"
    fn.__module__ = fn_.__module__ = module
    return fn, fn_


def register_family(ops: dict[str, UnaryOp], derivatives: dict[str, Callable | None], module: str,
                    node_names: dict[str, str] | None = None,
                    aliases: dict[str, str] | None = None, descriptions: dict[str, str] | None = None,
                    ) -> tuple[dict[str, type[Function]], dict[str, Callable]]:
    """A unary family's Functions (name -> Function) and public functions (name -> function, with the
    in-place `<name>_` forms and PyTorch's aliases), for its module's __all__ and METHODS.

    `derivatives[name](grad, saved)` is the op's gradient in tensor ops (None: piecewise constant);
    `node_names` gives PyTorch's node names where they are not the op's name capitalised;
    `descriptions[name]` is the one line that opens the public function's docstring.
    """
    node_names = node_names or {}
    functions = {name: make_function(node_names.get(name, name.capitalize()), op, derivatives[name], module)
                 for name, op in ops.items()}
    public: dict[str, Callable] = {}
    for name, op in ops.items():
        public[name], public[name + "_"] = _make_public(name, op, functions[name], module,
                                                        (descriptions or {}).get(name, ""))
    for alias, target in (aliases or {}).items():
        public[alias], public[alias + "_"] = public[target], public[target + "_"]
    return functions, public


# Derivatives in tensor ops; they call the public functions (Tensor methods) looked up at call time.
_DERIVATIVES: dict[str, Callable | None] = {
    "abs": lambda g, x: g * x.sign(),
    "sign": None,
    "sqrt": lambda g, y: g * (y * 2).reciprocal(),
    "rsqrt": lambda g, y: g * (y * y * y * -0.5),
    "square": lambda g, x: g * (x * 2),
    "reciprocal": lambda g, y: g * -(y * y),
    "floor": None, "ceil": None, "round": None, "trunc": None,
}

# The docstrings' first lines.
_DESCRIPTIONS = {
    "abs": "Absolute value |x| elementwise; alias `absolute`. Integer dtypes are kept.",
    "sign": "Sign of each element: -1, 0 or 1. Integer dtypes are kept.",
    "sqrt": "Square root elementwise; negative inputs give NaN.",
    "rsqrt": "Reciprocal square root 1/sqrt(x) elementwise.",
    "square": "x * x elementwise. Integer dtypes are kept; bool becomes int64.",
    "reciprocal": "1/x elementwise; integers are promoted to the default float dtype.",
    "floor": "Largest integer <= x elementwise (integer dtypes are returned unchanged).",
    "ceil": "Smallest integer >= x elementwise (integer dtypes are returned unchanged).",
    "round": "Round half to even elementwise.",
    "trunc": "Round toward zero elementwise; alias `fix`.",
}

# PyTorch's node name for square (pow(x, 2) there).
FUNCTIONS, _PUBLIC = register_family(K.OPS, _DERIVATIVES, __name__, {"square": "Pow"},
                                     {"absolute": "abs", "fix": "trunc"}, _DESCRIPTIONS)


# ---------------------------------------------------------------- round (with decimals)
class RoundDecimals(Function):
    """round(x * 10^d) / 10^d (d > 0) or round(x / 10^-d) * 10^-d (d < 0), computed in opmath as PyTorch."""

    differentiable_forward = False

    def name(self) -> str:
        return "RoundBackward1"

    @staticmethod
    def forward(ctx, x: Tensor, decimals: int) -> Tensor:
        scale = 10.0 ** builtins.abs(decimals)
        if x.device.type == "cpu":
            a = K._opmath(x._host())
            p = a.dtype.type(scale)
            with np.errstate(all="ignore"):
                r = np.rint(a / p) * p if decimals < 0 else np.rint(a * p) / p
            return Tensor._wrap(r.astype(x.dtype.np))
        compute = D.float32 if x.dtype in (D.float16, D.bfloat16) else x.dtype
        a = cast(x, compute)
        p = expanded(scalar_tensor(scale, compute, x.device), a._shape)
        scaled = Tensor._empty(a._shape, compute, x.device)
        (KB.div if decimals < 0 else KE.mul)(scaled._dev(), a._dev(), p)
        rounded = Tensor._empty(a._shape, compute, x.device)
        K.round(rounded._dev(), scaled._dev())
        (KE.mul if decimals < 0 else KB.div)(scaled._dev(), rounded._dev(), p)
        return cast(scaled, x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return zeros_like(grad), None


def _round_apply(x: Tensor, decimals: int, copy_input: bool) -> Tensor:
    x = _prepare("round", K.OPS["round"], x)
    if decimals == 0:
        return FUNCTIONS["round"].apply(x, (), copy_input)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"round_decimals\" not implemented for '{torch_type_name(x.dtype)}'")
    return RoundDecimals.apply(x, int(decimals))


def round(input: Tensor, *, decimals: int = 0, out: Tensor | None = None) -> Tensor:  # noqa: A001
    """Round half to even (torch.round); `decimals` rounds to that many decimal digits (negative: tens...)."""
    check_tensor("round", input)
    result = _round_apply(input, decimals, False)
    return result if out is None else _into(out, result)


def round_(input: Tensor, *, decimals: int = 0) -> Tensor:
    """In-place round."""
    check_tensor("round_", input)
    return inplace(lambda t: _round_apply(t, decimals, True), input)


_PUBLIC["round"], _PUBLIC["round_"] = round, round_
globals().update(_PUBLIC)

__all__: list[str] = list(_PUBLIC)
METHODS: dict = {**_PUBLIC, "__abs__": _PUBLIC["abs"]}
