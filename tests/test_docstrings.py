"""Every public callable of the API has its own docstring, and every module of the package has one.

`help(tt.nn.ReLU)` must show ReLU's text, not Module's: a class counts only with a docstring in its own
`__dict__`. Public means: the names `tt`, `tt.nn`, `tt.nn.functional`, `tt.optim`, `tt.optim.lr_scheduler`,
`tt.data`, `tt.autograd`, `tt.cuda`, `tt.accelerator` and `tt.io` expose without a leading underscore that
are functions or classes defined in tritensor, and every Tensor method and property without a leading
underscore (operators such as `__add__` are documented by the op they call). Each is one test case, so a
failure names the object.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pydoc
from pathlib import Path

import pytest

import tritensor as tt
from tritensor.tensor import Tensor

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"tritensor": ROOT / "tritensor", "tritensor.kernels": ROOT / "kernels",
                "tritensor.autotune": ROOT / "autotune"}
NAMESPACES = ["tritensor", "tritensor.nn", "tritensor.nn.functional", "tritensor.optim", "tritensor.optim.lr_scheduler",
              "tritensor.optim.swa_utils", "tritensor.data", "tritensor.autograd", "tritensor.cuda",
              "tritensor.accelerator", "tritensor.io", "tritensor.amp", "tritensor.cuda.amp", "tritensor.distributed",
              "tritensor.nn.parallel", "tritensor.utils.tensorboard", "tritensor.serialization",
              "tritensor.onnx", "tritensor.linalg", "tritensor.fft", "tritensor.special", "tritensor.sparse",
              "tritensor.profiler", "tritensor.distributions", "tritensor.multiprocessing",
              "tritensor.vision.transforms", "tritensor.vision.transforms.functional", "tritensor.vision.datasets",
              "tritensor.vision.models",
              "tritensor.vision.utils"]


def _own_doc(obj) -> str:
    """The docstring obj itself defines (a class's inherited docstring does not count)."""
    if isinstance(obj, property):
        doc = obj.__doc__ or (obj.fget.__doc__ if obj.fget is not None else None)
    elif isinstance(obj, (staticmethod, classmethod)):
        doc = obj.__func__.__doc__
    elif inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
    else:
        doc = getattr(obj, "__doc__", None)
    return (doc or "").strip()


def _is_ours(obj) -> bool:
    return (inspect.isclass(obj) or callable(obj)) and not inspect.ismodule(obj) \
        and str(getattr(obj, "__module__", "") or "").startswith("tritensor")


def _public_callables() -> list:
    cases = []
    for name in NAMESPACES:
        module = importlib.import_module(name)
        for attr in sorted(dir(module)):
            if attr.startswith("_"):
                continue
            obj = getattr(module, attr)
            if _is_ours(obj):
                cases.append(pytest.param(obj, id=f"{name}.{attr}"))
    return cases


def _tensor_members() -> list:
    cases = []
    for attr in sorted(dir(Tensor)):
        if attr.startswith("_"):
            continue
        obj = inspect.getattr_static(Tensor, attr)
        if isinstance(obj, (property, staticmethod, classmethod)) or inspect.isfunction(obj) or inspect.isclass(obj):
            cases.append(pytest.param(obj, id=f"Tensor.{attr}"))
    return cases


def _module_files() -> list:
    cases = []
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if "__pycache__" in parts or (package == "tritensor" and parts[0] in ("kernels", "autotune")):
                continue
            name = ".".join((package, *parts)).removesuffix(".__init__")
            cases.append(pytest.param(path, id=name))
    return cases


@pytest.mark.parametrize("obj", _public_callables())
def test_public_callable_has_its_own_docstring(obj):
    assert _own_doc(obj), f"{obj!r} has no docstring of its own"


@pytest.mark.parametrize("obj", _tensor_members())
def test_tensor_member_has_a_docstring(obj):
    assert _own_doc(obj), f"Tensor member {obj!r} has no docstring"


@pytest.mark.parametrize("path", _module_files())
def test_module_has_a_docstring(path):
    assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no module docstring"


def test_op_families_document_every_registration():
    """Each op family's public functions and Tensor methods, operators included, carry a docstring."""
    from tritensor.ops import api

    missing = []
    for module in api._op_modules():
        names = [(f"tt.{n}", getattr(module, n)) for n in getattr(module, "__all__", ())]
        names += [(f"Tensor.{n}", fn) for n, fn in getattr(module, "METHODS", {}).items()]
        missing += [f"{module.__name__}: {label}" for label, obj in names
                    if not _own_doc(obj) and obj is not object.__hash__ and label != "Tensor.__hash__"]
    assert not missing, missing


def test_help_shows_the_class_own_text():
    """help(nn.ReLU) shows ReLU's own text (a class without one would show its base's)."""
    text = pydoc.render_doc(tt.nn.ReLU, renderer=pydoc.plaintext)
    assert _own_doc(tt.nn.ReLU) and _own_doc(tt.nn.ReLU).splitlines()[0] in text
