"""Where the autotuner finds kernels: every `tritensor.kernels` module's `SPECS` list.

Modules are discovered with pkgutil, so a new kernels module is tuned and AOT-checked without being
registered anywhere. Helper modules without SPECS (device_array, strided, ...) are skipped.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from types import ModuleType

from tritensor.kernels.launch_spec import KernelSpec

KERNELS_PACKAGE = "tritensor.kernels"


@dataclass
class Discovery:
    """What discovery found: specs in module order, and modules that failed to import."""

    specs: list[KernelSpec] = field(default_factory=list)
    module_of: dict[str, str] = field(default_factory=dict)  # spec name -> module name
    errors: dict[str, str] = field(default_factory=dict)  # module name -> what is wrong with it


def module_names() -> list[str]:
    """Fully qualified names of the kernels modules, sorted."""
    package = importlib.import_module(KERNELS_PACKAGE)
    return sorted(f"{KERNELS_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
                  if not m.name.startswith("_"))


@functools.cache
def discover() -> Discovery:
    """Import every kernels module once and collect its SPECS (import errors are recorded, not raised)."""
    found = Discovery()
    for name in module_names():
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # a broken module must not hide the others from the AOT check
            found.errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        for spec in with_flat_twins(getattr(module, "SPECS", None) or []):
            if spec.name in found.module_of:  # the second one could never be looked up by name
                found.errors[name] = (f"duplicate KernelSpec name {spec.name!r} (also in "
                                      f"{found.module_of[spec.name]}); the repeat is skipped")
                continue
            found.specs.append(spec)
            found.module_of[spec.name] = name
    return found


def with_flat_twins(specs: list[KernelSpec]) -> list[KernelSpec]:
    """`specs` and, after each strided map-kernel spec, the flat bulk build a dense launch of its OP runs
    (unless the module declares that flat build itself)."""
    from tritensor.kernels.elementwise import map_kernel
    from tritensor.kernels.elementwise_flat import flat_map_kernel, flat_twin

    declared = {(s.constexprs.get("OP"), tuple(s.signature.items())) for s in specs if s.kernel is flat_map_kernel}
    out = []
    for spec in specs:
        out.append(spec)
        if spec.kernel is map_kernel:
            twin = flat_twin(spec)
            if (twin.constexprs["OP"], tuple(twin.signature.items())) not in declared:
                out.append(twin)
    return out


def all_specs() -> list[KernelSpec]:
    return list(discover().specs)


def find_spec(name: str) -> KernelSpec | None:
    """The KernelSpec called `name`, or None when no kernels module declares it."""
    for spec in discover().specs:
        if spec.name == name:
            return spec
    return None


# A key holds dtypes by NumPy name; spec names use Triton's short type names.
_SPEC_TYPE_NAMES = {"float64": "fp64", "float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "int64": "i64",
                    "int32": "i32", "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "i1"}


def _fields(text: str) -> list[str]:
    return [f for f in re.split(r"[\[\]:_]", text) if f]


def spec_for(tunable: str, key: object, prefix: str = "") -> KernelSpec | None:
    """The KernelSpec that stands for launches of Tunable `tunable` with `key`, for the tuner's AOT pruning.

    A Tunable serves a family of specs named `<prefix>field[field:field:...]` (one per op, dtype or
    variant; prefix defaults to "tunable["): the member whose fields match most of the key's values
    (dtypes by their short names) stands for the key; ties go to the family's first spec. None when no
    spec belongs to the Tunable.
    """
    exact = find_spec(tunable)
    if exact is not None:
        return exact
    prefix = prefix or tunable + "["
    family = [s for s in discover().specs if s.name.startswith(prefix)]
    if not family:
        return None
    values = key if isinstance(key, (tuple, list)) else (key,)
    # Op functions are keyed by __name__ ("_add"); spec names drop the underscore ("add").
    tokens = {part for v in values for part in _fields(str(v))} | {_SPEC_TYPE_NAMES[v] for v in values
                                                                 if v in _SPEC_TYPE_NAMES}

    def matches(spec: KernelSpec) -> tuple[bool, int, int]:
        fields = _fields(spec.name[len(prefix):]) or [""]
        hits = sum(f in tokens for f in fields)
        # The op (first field) decides the kernel's code most; then more of the key matched, fewer unmatched.
        return fields[0] in tokens, hits, hits - len(fields)

    return max(family, key=matches)


def kernel_module(kernel: str) -> ModuleType:
    """The kernels module for a short name such as "matmul" (raises KeyError if there is none)."""
    qualified = f"{KERNELS_PACKAGE}.{kernel}"
    if qualified not in module_names():
        raise KeyError(f"no kernels module {kernel!r}; available: "
                       + ", ".join(n.rsplit(".", 1)[1] for n in module_names()))
    return importlib.import_module(qualified)
