"""torch.utils.data's import paths (tritensor.utils.data and its dataloader / dataset / sampler / distributed
modules), and the data package's layering: the public API only, imported at module level."""

import ast
import importlib
from pathlib import Path

import pytest

import tritensor
import tritensor.data as data

MODULES = {
    "tritensor.utils.data.dataloader": ["DataLoader", "default_collate", "default_convert"],
    "tritensor.utils.data.dataset": ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
                                     "ChainDataset", "Subset", "random_split"],
    "tritensor.utils.data.sampler": ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
                                     "WeightedRandomSampler", "BatchSampler"],
    "tritensor.utils.data.distributed": ["DistributedSampler"],
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_submodules_re_export_tritensor_data(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(MODULES[module])
    for name in MODULES[module]:
        assert getattr(mod, name) is getattr(data, name)


def test_package_re_exports_everything():
    from tritensor.utils.data import DataLoader, TensorDataset, dataloader

    assert DataLoader is data.DataLoader and TensorDataset is data.TensorDataset
    assert dataloader.DataLoader is DataLoader
    assert tritensor.utils.data.__all__ == data.__all__
    for name in data.__all__:
        assert getattr(tritensor.utils.data, name) is getattr(data, name)


def _imports(path: Path):
    """(module imported, inside a function?) for every import in a file."""
    tree = ast.parse(path.read_text())
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or ""), id(node) in in_function
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in in_function


@pytest.mark.parametrize("path", sorted(Path(data.__file__).parent.glob("*.py")), ids=lambda p: p.name)
def test_data_uses_the_public_api_at_module_level(path):
    for module, in_function in _imports(path):
        assert "kernels" not in module and "autograd.function" not in module and "autograd.engine" not in module
        assert module not in ("tritensor", "..") or not in_function
        if in_function:  # only optional third-party dependencies are imported lazily
            assert not module.startswith(".") and not module.startswith("tritensor"), (path.name, module)
