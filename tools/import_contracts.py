"""import-linter contracts that see the packages pyproject.toml maps into tritensor.

`kernels/` and `autotune/` are installed as `tritensor.kernels` and `tritensor.autotune` (setuptools
package-dir). grimp builds its graph from the `tritensor/` directory, so it drops every import of
`tritensor.kernels.*` and `tritensor.autotune.*`; the layers would be unchecked exactly where they matter.
These contract types add those imports back, as imports of the top-level `kernels` and `autotune` root
packages (both importable from the repository root), then run import-linter's own layers or forbidden
check on the completed graph.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

# Installed name prefix -> the root package holding its source.
MAPPED = {"tritensor.kernels": "kernels", "tritensor.autotune": "autotune"}


def _source(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in a module, function-level ones included."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
            found.append((base, node.lineno))
    return found


def _mapped(name: str, graph) -> str | None:
    """The module of the graph that an installed name inside a mapped package refers to, if any."""
    for prefix, root in MAPPED.items():
        if name == prefix or name.startswith(prefix + "."):
            candidate = root + name[len(prefix):]
            while candidate and candidate not in graph.modules:
                candidate = candidate.rpartition(".")[0]
            return candidate or None
    return None


def add_mapped_imports(graph) -> None:
    """Add the imports of tritensor.kernels.* / tritensor.autotune.* that grimp could not resolve."""
    for module in sorted(graph.modules):
        path = _source(module)
        if path is None:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for name, line in _imported_names(tree, module, path.name == "__init__.py"):
            target = _mapped(name, graph)
            if target is not None and target != module:
                graph.add_import(importer=module, imported=target, line_number=line,
                                 line_contents=f"import {name}")


class MappedLayersContract(LayersContract):
    """import-linter's `layers` contract, on the graph completed with the mapped packages' imports."""

    def check(self, graph, verbose: bool):
        add_mapped_imports(graph)
        return super().check(graph, verbose)


class MappedForbiddenContract(ForbiddenContract):
    """import-linter's `forbidden` contract, on the graph completed with the mapped packages' imports."""

    def check(self, graph, verbose: bool):
        add_mapped_imports(graph)
        return super().check(graph, verbose)
