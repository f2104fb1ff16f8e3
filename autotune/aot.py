"""Ahead-of-time compile checks: every config becomes a cubin whose resource use is read back.

`triton.compile` with a `GPUTarget` needs no GPU. Each config is compiled as Triton's JIT
specialises a launch, in two variants: "aligned" (pointers 16-byte aligned, integer arguments
multiples of 16, unit strides constants: what a contiguous launch of round sizes runs) and
"unaligned" (none of those facts: the worst case, e.g. an offset view of odd sizes). From each we
read what decides whether it runs well on the target (`sass.py` parses the tools' output):
registers and stack (Triton's bundled `cuobjdump -res-usage`), spill traffic (the ptxas `-v` log),
shared memory (Triton's dynamic allocation plus the cubin's static part), tensor-core instructions,
the width of its global loads and stores (128-bit or narrower, TMA), and the warps per SM that
registers and shared memory allow.

Results are cached on disk (`<tritensor cache dir>/aot`), keyed by what determines the cubin:
Triton's hash of the kernel source and its dependencies, signature, constants and attributes, the
compile options, the target and the Triton version. A rerun of an unchanged matrix reads files.

AOT compilation needs real `JITFunction`s: under TRITON_INTERPRET=1 `triton.jit` returns
interpreted functions, so the check runs in a process without it (`python -m tritensor.autotune
--compile-only` re-executes itself without it when needed).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tritensor.kernels.launch_spec import KernelSpec

from .sass import (  # noqa: F401  (re-exported: the parsers' historical home)
    ACCESS_KEYS,
    cubin_resources,
    occupancy,
    parse_ptxas_log,
    parse_res_usage,
    ptx_access,
    ptxas_log,
    sass_access,
    sass_instructions,
    tensor_core_kind,
    tool_path,
)
from .space import Config, config_id, freeze, split

TARGETS = {"sm_80": 80, "sm_90": 90}
# Opt-in shared memory per block (cudaDevAttrMaxSharedMemoryPerBlockOptin): A100 163 KiB, H100 227 KiB.
SHARED_LIMIT = {80: 166912, 90: 232448}
MAX_REGS = 255  # per thread, every target
VARIANTS = ("aligned", "unaligned")
CACHE_SCHEMA = 1  # bump when CompileResult's fields or their reading change

_LOW_PRECISION = {"fp16", "bf16", "fp8e4nv", "fp8e5", "fp8e4b15", "fp8e4b8", "fp8e5b16"}
_INT_TYPES = {"i32", "i64", "u32", "u64"}  # the JIT's divisibility and ==1 facts apply to these
# Integer args equal to 1 at a contiguous launch, by the kernels modules' naming conventions (a spec's
# `unit_args` overrides): padded leading dims of a collapsed launch (size1, size2, M1); the innermost
# of packed 4-d strides (o0s3, xs3, ...); the row's own stride of (M0, M1, R|C) views (sxr, sgxc,
# stride_xr, ...) and of 1-d outputs; row-major matmul operands (stride_ak, stride_bn, stride_cn).
_UNIT_NAME = re.compile(r"""^(?:
    size[12] | M1
  | [a-z]+\d*s3
  | s[a-z]*[rc] | sw
  | stride_[a-z]*r | stride_(?:out|aux|g|y|bias)
  | stride_(?:[vig]k|ak|bn|cn|cinn|pn)
  | \w+_col_stride
)$""", re.X)


class AotUnavailable(RuntimeError):
    """Raised when kernels are interpreted (TRITON_INTERPRET=1) and cannot be compiled for a GPU."""


@dataclass
class CompileResult:
    """One (spec, config, target, variant) compiled: its resources, and what is wrong with it (if anything)."""

    kernel: str
    config: Config
    target: str  # "sm_80"
    variant: str = "aligned"  # "aligned" or "unaligned" (see the module docstring)
    compiled: bool = False
    error: str | None = None
    regs: int | None = None
    stack: int | None = None  # bytes of stack frame per thread (spills live here)
    local: int | None = None
    spill_stores: int | None = None  # bytes
    spill_loads: int | None = None  # bytes
    shared: int | None = None  # bytes per block: dynamic (Triton) + static (cubin)
    shared_static: int | None = None  # the cubin's static part (1 KiB on sm_90 with current ptxas)
    shared_limit: int = 0
    tensor_cores: str = "-"  # "wgmma", "mma" or "-"
    expected_tensor_cores: str | None = None  # what the spec requires on this target, if anything
    memory_bound: bool = False  # the spec's: its aligned variant must reach 128-bit global accesses
    num_warps: int | None = None
    occupancy_warps: int | None = None  # resident warps per SM (registers, shared memory, hardware)
    occupancy_limit: str | None = None  # "regs", "smem", "warps" or "blocks"
    access: dict[str, int] | None = None  # sass.ACCESS_KEYS -> static instruction count
    access_source: str = ""  # "sass" or "ptx"
    instructions: int | None = None  # static SASS instructions (when the SASS was read)
    compile_s: float = 0.0
    cached: bool = False  # read from the on-disk AOT cache
    problems: list[str] = field(default_factory=list)  # CI failures
    warnings: list[str] = field(default_factory=list)  # findings that fail only under --require-wide

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def spills(self) -> int:
        return (self.spill_stores or 0) + (self.spill_loads or 0)

    @property
    def config_name(self) -> str:
        return config_id(self.config)

    @property
    def wide(self) -> bool | None:
        """Any 128-bit (or TMA) global access; None when the accesses were not read."""
        if self.access is None:
            return None
        return any(self.access.get(k, 0) for k in ("ld128", "st128", "tma_load", "tma_store"))

    @property
    def tma(self) -> bool:
        return bool(self.access and (self.access.get("tma_load") or self.access.get("tma_store")))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["config"] = {k: v for k, v in self.config.items()}
        d["config_name"] = self.config_name
        d["ok"] = self.ok
        d["spills"] = self.spills
        d["wide"] = self.wide
        d["tma"] = self.tma
        return d


def arch_of(target: str | int) -> int:
    """80 for "sm_80" / "sm80" / 80 / (8, 0)."""
    if isinstance(target, tuple):
        return target[0] * 10 + target[1]
    if isinstance(target, int):
        return target
    digits = target.lower().removeprefix("sm_").removeprefix("sm").rstrip("a")
    if not digits.isdigit():
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    return int(digits)


def target_name(target: str | int) -> str:
    """"sm_80" for 80, "sm80", (8, 0) ..."""
    return f"sm_{arch_of(target)}"


def gpu_target(target: str | int):
    """Triton's GPUTarget for a target name ("sm_80" -> GPUTarget("cuda", 80, 32))."""
    from triton.backends.compiler import GPUTarget

    return GPUTarget("cuda", arch_of(target), 32)


def is_compilable(kernel: object) -> bool:
    """True for a real JITFunction (False for the interpreter's stand-in)."""
    from triton.runtime.jit import JITFunction

    return isinstance(kernel, JITFunction)


def expected_tensor_cores(spec: KernelSpec, config: Config, arch: int) -> str | None:
    """The tensor-core instruction family a spec must use on `arch`, or None when none is required.

    fp16/bf16/fp8 operands must reach the tensor cores; fp32 only when the spec asks for tf32
    (a "tf32" constexpr value, or a truthy constexpr whose name contains TF32).
    """
    if not spec.tensor_cores:
        return None
    element_types = {t.lstrip("*") for t in spec.signature.values() if t.startswith("*")}
    constexprs = {**spec.constexprs, **split(config)[0]}
    tf32 = any(v == "tf32" or ("TF32" in k.upper() and v is True) for k, v in constexprs.items()) \
        or "tf32" in spec.name.lower()
    if not (element_types & _LOW_PRECISION or ("fp32" in element_types and tf32)):
        return None
    return "wgmma" if arch >= 90 and not spec.mma_on_sm90 else "mma"


# ---------------------------------------------------------------- the JIT's specialisation
def unit_args(spec: KernelSpec) -> tuple[str, ...]:
    """Integer args equal to 1 at a contiguous launch: the spec's `unit_args`, else inferred from names."""
    if spec.unit_args is not None:
        return tuple(n for n in spec.unit_args if n in spec.signature)
    return tuple(n for n, t in spec.signature.items() if t in _INT_TYPES and _UNIT_NAME.match(n))


def specialization(spec: KernelSpec, constexprs: dict[str, Any], variant: str
                   ) -> tuple[dict[str, str], dict[str, Any], dict[tuple[int, ...], list]]:
    """(signature, constants, attrs) for `ASTSource`, as the JIT builds them for a launch of `variant`.

    Triton's JIT (runtime/jit.py, backends/compiler.py) marks a pointer whose address is a multiple
    of 16 and an integer that is a multiple of 16 with `tt.divisibility = 16`, and turns an integer
    equal to 1 into the constant 1; parameters listed in the kernel's `do_not_specialize` get
    neither, those in `do_not_specialize_on_alignment` no divisibility. "aligned" applies this to a
    contiguous launch (every pointer aligned, every integer a multiple of 16 but `spec.indivisible`,
    `unit_args` equal to 1); "unaligned" applies none of it.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    kernel: Any = spec.kernel
    signature = dict(spec.signature)
    constants = dict(constexprs)
    attrs: dict[tuple[int, ...], list] = {}
    if variant == "aligned":
        params = {p.name: p for p in getattr(kernel, "params", ())}
        ones = set(unit_args(spec))
        for name, ty in spec.signature.items():
            param = params.get(name)
            if param is not None and param.do_not_specialize:
                continue
            if name in ones:
                signature[name] = "constexpr"
                constants[name] = 1
                continue
            aligned = param is None or not param.do_not_specialize_on_alignment
            if aligned and (ty.startswith("*") or (ty in _INT_TYPES and name not in spec.indivisible)):
                attrs[(kernel.arg_names.index(name),)] = [["tt.divisibility", 16]]
    signature.update({k: "constexpr" for k in constants})
    order = {n: i for i, n in enumerate(getattr(kernel, "arg_names", ()))}
    signature = dict(sorted(signature.items(), key=lambda kv: order.get(kv[0], len(order))))
    return signature, constants, attrs


# ---------------------------------------------------------------- compiling
_results: dict[tuple, CompileResult] = {}


def compile_config(spec: KernelSpec, config: Config, target: str | int = "sm_80",
                   sass: bool = False, variant: str = "aligned") -> CompileResult:
    """Compile one config of a spec for a target and variant and read its resources.

    `sass`: read tensor-core use, global access widths and the instruction count from the SASS
    (cuobjdump -sass; about 0.3 s more per config) instead of the PTX. Results are cached in this
    process and on disk. Never raises for a config that does not compile: the result says so.
    Raises AotUnavailable when the kernel is interpreted.
    """
    arch = arch_of(target)
    key = (spec.name, freeze(config), arch, sass, variant)
    cached = _results.get(key)
    if cached is not None:
        return cached
    if not is_compilable(spec.kernel):
        raise AotUnavailable(
            f"{spec.name}: the kernel is an interpreted function (TRITON_INTERPRET=1 was set when triton "
            "was imported); run `python -m tritensor.autotune --compile-only` in a process without it")
    result = CompileResult(spec.name, dict(config), target_name(arch), variant,
                           shared_limit=SHARED_LIMIT.get(arch, 0),
                           expected_tensor_cores=expected_tensor_cores(spec, config, arch),
                           memory_bound=spec.bound_by_memory(config))
    start = time.perf_counter()
    try:
        _compile_into(result, spec, config, arch, sass)
    except Exception as exc:  # any compiler error is a finding about this config
        result.error = f"{type(exc).__name__}: {_first_lines(str(exc))}"
    result.compile_s = round(time.perf_counter() - start, 3)
    result.problems = problems(result)
    result.warnings = [w for w in [width_problem(result)] if w]
    _results[key] = result
    return result


def _compile_into(result: CompileResult, spec: KernelSpec, config: Config, arch: int, sass: bool) -> None:
    import triton

    constexprs, options = split(config)
    signature, constants, attrs = specialization(spec, {**spec.constexprs, **constexprs}, result.variant)
    source = triton.compiler.ASTSource(fn=spec.kernel, signature=signature, constexprs=constants, attrs=attrs)
    disk_key = _disk_key(source, options, arch, sass)
    if _load(result, disk_key):
        return
    from triton import knobs

    log = io.StringIO()
    previous = knobs.nvidia.dump_ptxas_log
    knobs.nvidia.dump_ptxas_log = True  # Triton prints ptxas -v (spills) when it runs ptxas
    try:
        with contextlib.redirect_stdout(log):
            compiled = triton.compile(source, target=gpu_target(arch), options=options)
    finally:
        knobs.nvidia.dump_ptxas_log = previous
    _read_resources(result, compiled, arch, sass, log.getvalue())
    result.compiled = True  # only once every resource was read: a tool failure reads as a failed compile
    _store(result, disk_key)


def _read_resources(result: CompileResult, compiled: Any, arch: int, sass: bool, log: str) -> None:
    resources = cubin_resources(compiled.asm["cubin"], compiled.metadata.name, sass)
    fields = resources["fields"]
    ptx = compiled.asm.get("ptx", "")
    result.regs = fields.get("REG")
    result.stack = fields.get("STACK", 0)
    result.local = fields.get("LOCAL", 0)
    result.shared_static = fields.get("SHARED", 0)
    result.shared = int(getattr(compiled.metadata, "shared", 0) or 0) + result.shared_static
    result.tensor_cores = tensor_core_kind(resources["sass"], ptx)
    if resources["sass"]:
        result.access, result.access_source = sass_access(resources["sass"]), "sass"
        result.instructions = sass_instructions(resources["sass"])
    else:
        result.access, result.access_source = ptx_access(ptx), "ptx"
    ptxas = parse_ptxas_log(log)
    if "spill_stores" not in ptxas:
        # Spills live in the stack frame: with none there is nothing to spill into.
        ptxas = parse_ptxas_log(ptxas_log(ptx, arch, compiled.metadata)) if result.stack else \
            {"spill_stores": 0, "spill_loads": 0}
    result.spill_stores = ptxas.get("spill_stores")
    result.spill_loads = ptxas.get("spill_loads")
    # Some Triton versions also report these on the metadata; the cubin stays the primary source.
    if result.regs is None and isinstance(getattr(compiled.metadata, "n_regs", None), int):
        result.regs = compiled.metadata.n_regs
    if result.spill_stores is None and isinstance(getattr(compiled.metadata, "n_spills", None), int):
        result.spill_stores = result.spill_loads = compiled.metadata.n_spills
    result.num_warps = int(getattr(compiled.metadata, "num_warps", 0) or 0) or None
    if result.regs is not None and result.num_warps:
        result.occupancy_warps, result.occupancy_limit = occupancy(result.regs, result.shared or 0,
                                                                   result.num_warps, arch)


# ---------------------------------------------------------------- the on-disk cache
_CACHED_FIELDS = ("regs", "stack", "local", "spill_stores", "spill_loads", "shared", "shared_static",
                  "tensor_cores", "num_warps", "occupancy_warps", "occupancy_limit", "access",
                  "access_source", "instructions")


def cache_path() -> Path | None:
    """The AOT results directory, or None when TRITENSOR_AOT_CACHE=0 turns the cache off."""
    if os.environ.get("TRITENSOR_AOT_CACHE", "1") == "0":
        return None
    from .cache import cache_dir

    return cache_dir() / "aot"


def _disk_key(source: Any, options: dict[str, Any], arch: int, sass: bool) -> str:
    import triton

    # ASTSource.hash covers the kernel's source and every jit function it calls, the signature,
    # the constants and the attributes: everything but the options and the target.
    material = json.dumps([CACHE_SCHEMA, triton.__version__, source.hash(), sorted(options.items()), arch, sass],
                          default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def _load(result: CompileResult, key: str) -> bool:
    directory = cache_path()
    if directory is None:
        return False
    try:
        data = json.loads((directory / f"{key}.json").read_text())
        for name in _CACHED_FIELDS:
            setattr(result, name, data[name])
    except (OSError, ValueError, KeyError, TypeError):  # absent or unreadable: compile again
        return False
    result.compiled = result.cached = True
    return True


def _store(result: CompileResult, key: str) -> None:
    directory = cache_path()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump({name: getattr(result, name) for name in _CACHED_FIELDS}, f)
        os.replace(tmp, directory / f"{key}.json")  # atomic: concurrent workers never see half a file
    except OSError:  # a read-only or full disk costs only the next run's time
        pass


# ---------------------------------------------------------------- verdicts
def problems(result: CompileResult) -> list[str]:
    """Why a compiled config is unfit for its target (empty when it is fine)."""
    if not result.compiled:
        return [f"compile failed: {result.error}"]
    found = []
    if result.spill_stores is None or result.spill_loads is None:
        found.append("spill count unknown")
    elif result.spills:
        found.append(f"spills ({result.spill_stores} B stores, {result.spill_loads} B loads)")
    if result.shared is not None and result.shared_limit and result.shared > result.shared_limit:
        found.append(f"shared memory {result.shared} B > {result.shared_limit} B")
    if result.regs is not None and result.regs > MAX_REGS:
        found.append(f"{result.regs} registers > {MAX_REGS}")
    expected = result.expected_tensor_cores
    if expected and result.tensor_cores != expected:
        found.append(f"no {expected} instructions (found {result.tensor_cores})")
    return found


def width_problem(result: CompileResult) -> str | None:
    """The width rule: a memory-bound spec's aligned build must move 128 bits per access somewhere."""
    if not (result.compiled and result.memory_bound and result.variant == "aligned") or result.wide is not False:
        return None
    a = result.access or {}
    return (f"no 128-bit global access ({a.get('ld_narrow', 0)} narrower loads, "
            f"{a.get('st_narrow', 0)} narrower stores)")


def prune(configs: Iterable[Config], spec: KernelSpec | None, target: str | int | None,
          shared_limit: int | None = None) -> list[Config]:
    """The configs whose every variant compiles for `target` without spilling and fits its shared memory.

    `shared_limit` (bytes) overrides the target's table value (the live device's opt-in limit).
    Without a spec or a target, or when kernels are interpreted, nothing can be checked and every
    config is kept (timing then drops configs that fail to launch).
    """
    configs = list(configs)
    if spec is None or target is None or not is_compilable(spec.kernel):
        return configs
    kept = []
    for config in configs:
        if all(_fits(compile_config(spec, config, target, variant=v), shared_limit) for v in VARIANTS):
            kept.append(config)
    return kept


def _fits(r: CompileResult, shared_limit: int | None) -> bool:
    limit = shared_limit if shared_limit is not None else r.shared_limit  # 0: no table value
    fits = not limit or (r.shared or 0) <= limit
    return r.compiled and not r.spills and r.spill_stores is not None and fits


def compile_by_name(spec_name: str, config: Config, target: str, sass: bool = False,
                    variant: str = "aligned") -> dict[str, Any]:
    """Worker entry point for parallel checks: look the spec up by name (specs do not pickle)."""
    from .registry import find_spec

    spec = find_spec(spec_name)
    if spec is None:
        raise KeyError(f"no KernelSpec named {spec_name!r}")
    return compile_config(spec, config, target, sass, variant).to_dict()


def _first_lines(text: str, n: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[:n]) + (" ..." if len(lines) > n else "")
