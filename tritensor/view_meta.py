"""How a view was made, for PyTorch's refusals of some in-place writes into views (its "creation meta").

A view made while autograd records is an ordinary view: writing into it in place is recorded (CopySlices). A view
made while grad mode was off (no_grad, inference_mode), one of several views that one node returned (unbind,
split, chunk) and a view that a custom autograd.Function returned cannot be written in place while grad mode is
on and something involved requires grad: autograd could not give the write a correct gradient. A view of such a
view inherits the refusal. Tensor._view marks each view; ops/copy.py check_inplace raises `view_error`.
"""

from __future__ import annotations

from .grad_state import state

# PyTorch's CreationMeta values (DEFAULT is the Tensor class default: an ordinary view, or no view at all).
DEFAULT, NO_GRAD_MODE, INFERENCE_MODE, MULTI_OUTPUT_NODE, IN_CUSTOM_FUNCTION = range(5)

_SUFFIX = {
    MULTI_OUTPUT_NODE: " This view is the output of a function that returns multiple views. Such functions do not "
                       "allow the output views to be modified inplace. You should replace the inplace operation by "
                       "an out-of-place one.",
    NO_GRAD_MODE: " Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code "
                  "by moving both the view and the inplace either both inside the no_grad block (if you don't want "
                  "the inplace to be tracked) or both outside (if you want the inplace to be tracked).",
    INFERENCE_MODE: " Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
                    "code by moving both the view and the inplace either both inside the inference_mode block (if "
                    "you don't want the inplace to be tracked) or both outside (if you want the inplace to be "
                    "tracked).",
    IN_CUSTOM_FUNCTION: " This view was created inside a custom Function (or because an input was returned as-is) "
                        "and the autograd logic to handle view+inplace would override the custom backward "
                        "associated with the custom Function, leading to incorrect gradients. This behavior is "
                        "forbidden. You can fix this by cloning the output of the custom Function.",
}


def mark_view(base, view) -> None:
    """Give `view`, just made from `base` while grad mode is off or from a marked view, its creation meta (PyTorch's
    propagate_creation_meta: a view made while not recording is NO_GRAD_MODE or INFERENCE_MODE, else it inherits
    its base's; INFERENCE_MODE is never replaced). It is also an inference tensor exactly when its base is one:
    inside inference_mode a view of a normal tensor is a normal tensor, as in PyTorch."""
    meta = base._creation_meta
    if not state.enabled and meta != INFERENCE_MODE:
        meta = INFERENCE_MODE if state.inference else NO_GRAD_MODE
    view._creation_meta = meta
    if view._inference is not base._inference:
        view._inference = base._inference


def multi_output(view) -> None:
    """Mark `view` as one of several views one node returned while recording (PyTorch's MULTI_OUTPUT_NODE)."""
    if view._creation_meta != INFERENCE_MODE:
        view._creation_meta = MULTI_OUTPUT_NODE


def view_error(t) -> RuntimeError:
    """The error an in-place write into the marked view `t` raises while grad mode is on (PyTorch's
    handle_view_on_rebase, word for word)."""
    meta, fn = t._creation_meta, t.grad_fn
    if meta in (NO_GRAD_MODE, INFERENCE_MODE) or fn is None:
        prefix = (f"Output {t._output_nr} of {fn.name()} is a view of a view which was created in" if fn is not None
                  else "A view was created in")
        msg = (prefix + " inference mode and is being modified inplace in normal mode." if meta == INFERENCE_MODE
               else prefix + " no_grad mode and is being modified inplace with grad mode enabled.")
    else:
        msg = f"Output {t._output_nr} of {fn.name()} is a view and is being modified inplace."
    return RuntimeError(msg + _SUFFIX[meta])
