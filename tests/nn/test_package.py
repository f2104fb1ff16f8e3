"""tritensor.nn's layout follows torch.nn's (nn.modules.<file>, nn.utils, nn.parameter), and nn / optim sit on
the public API: no kernels, no autograd internals, no autograd Function of their own, no Tensor method bound."""

import ast
import pathlib

import pytest

import tritensor as tt
import tritensor.nn as nn

ROOT = pathlib.Path(tt.__file__).parent


def test_module_classes_importable_as_in_torch():
    from tritensor.nn.modules import Linear, Module
    from tritensor.nn.modules.activation import ReLU, Softmax
    from tritensor.nn.modules.container import ModuleDict, ModuleList, ParameterList, Sequential
    from tritensor.nn.modules.dropout import Dropout
    from tritensor.nn.modules.flatten import Flatten, Unflatten
    from tritensor.nn.modules.linear import Identity
    from tritensor.nn.modules.loss import CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
    from tritensor.nn.modules.module import Module as M
    from tritensor.nn.parameter import Parameter

    assert M is Module is nn.Module and Linear is nn.Linear and Parameter is nn.Parameter
    for cls in (ReLU, Softmax, ModuleDict, ModuleList, ParameterList, Sequential, Dropout, Flatten, Unflatten,
                Identity, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss):
        assert getattr(nn, cls.__name__) is cls and getattr(nn.modules, cls.__name__) is cls
    assert set(nn.modules.__all__) <= set(nn.__all__)
    assert nn.utils.clip_grad_norm_ is __import__("tritensor.nn.utils", fromlist=["x"]).clip_grad_norm_


def test_parameter_repr_is_a_method_of_parameter():
    p = nn.Parameter(tt.tensor([1.0, 2.0]))
    assert "__repr__" in vars(nn.Parameter)
    assert nn.Parameter.__repr__(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert "__repr__" not in vars(tt.Tensor) or tt.Tensor.__repr__.__module__ == "tritensor.tensor"


def _python_files(*packages):
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


FORBIDDEN = ("tritensor.kernels", "tritensor.autograd.function", "tritensor.autograd.engine", "kernels")


@pytest.mark.parametrize("path", list(_python_files("nn", "optim")), ids=lambda p: str(p.relative_to(ROOT)))
def test_nn_and_optim_sit_on_the_public_api(path):
    tree = ast.parse(path.read_text())
    package = ".".join(("tritensor",) + path.relative_to(ROOT).parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            names = [name] + [f"{name}.{a.name}" for a in node.names]
            assert not any(n == f or n.startswith(f + ".") for n in names for f in FORBIDDEN), (path, name)
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith(FORBIDDEN) for a in node.names), path
        elif isinstance(node, ast.ClassDef):
            bases = {ast.unparse(b) for b in node.bases}
            assert not bases & {"Function", "autograd.Function", "tt.autograd.Function"}, (path, node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:  # no `Tensor.x = ...` outside the ops layer's METHODS
                assert not (isinstance(target, ast.Attribute) and ast.unparse(target.value) == "Tensor"), path
    assert path.stat().st_size and len(path.read_text().splitlines()) <= 600


def test_a_layer_name_declared_by_two_modules_is_an_import_error(tmp_path, monkeypatch):
    """nn and nn.functional gather their modules' __all__: two modules declaring one name is an error naming both."""
    import sys

    import pytest

    from tritensor.nn._collect import collect_public

    package = tmp_path / "twice"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("__all__ = ['Layer', 'only_a']\nLayer = 1\nonly_a = 2\n")
    (package / "b.py").write_text("__all__ = ['Layer']\nLayer = 3\n")
    (package / "_private.py").write_text("__all__ = ['hidden']\nhidden = 4\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict = {}
    with pytest.raises(ImportError, match=r"^nn\.Layer is defined by both twice\.a and twice\.b$"):
        collect_public("twice", [str(package)], namespace, "nn")
    (package / "b.py").write_text("__all__ = ['other']\nother = 3\n")
    sys.modules.pop("twice.b")  # imported above; its new text must be read again
    namespace = {}
    assert collect_public("twice", [str(package)], namespace, "nn") == ["Layer", "only_a", "other"]
    assert namespace == {"Layer": 1, "only_a": 2, "other": 3}
