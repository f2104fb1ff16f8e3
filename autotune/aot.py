"""Ahead-of-time compile checks: every config becomes a cubin whose resource use is read back.

`triton.compile` with a `GPUTarget` needs no GPU. From the result we read what decides whether a
config can run well on the target: registers and stack (Triton's bundled `cuobjdump -res-usage`),
spill traffic (the ptxas `-v` log), shared memory (Triton's dynamic allocation plus the cubin's
static part) and tensor-core instructions (mma/wgmma in the PTX, or HMMA/HGMMA in the SASS).

AOT compilation needs real `JITFunction`s: under TRITON_INTERPRET=1 `triton.jit` returns
interpreted functions, so the check runs in a process without it (`python -m tritensor.autotune
--compile-only` re-executes itself without it when needed).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from tritensor.kernels.launch_spec import KernelSpec

from .space import Config, config_id, freeze, split

TARGETS = {"sm_80": 80, "sm_90": 90}
# Opt-in shared memory per block (cudaDevAttrMaxSharedMemoryPerBlockOptin): A100 163 KiB, H100 227 KiB.
SHARED_LIMIT = {80: 166912, 90: 232448}
MAX_REGS = 255  # per thread, every target

_LOW_PRECISION = {"fp16", "bf16", "fp8e4nv", "fp8e5", "fp8e4b15", "fp8e4b8", "fp8e5b16"}
_SASS_WGMMA = re.compile(r"\b[HIQBO]GMMA\b")
_SASS_MMA = re.compile(r"\b[HIDB]MMA\b")
_RES_FUNCTION = re.compile(r"^\s*Function\s+(\S+?):?\s*$")
_RES_FIELD = re.compile(r"([A-Z_]+(?:\[\d+\])?):(\d+)")
_PTXAS_SPILLS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_PTXAS_REGS = re.compile(r"Used (\d+) registers")


class AotUnavailable(RuntimeError):
    """Raised when kernels are interpreted (TRITON_INTERPRET=1) and cannot be compiled for a GPU."""


@dataclass
class CompileResult:
    """One (spec, config, target) compiled: its resources, and what is wrong with it (if anything)."""

    kernel: str
    config: Config
    target: str  # "sm_80"
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
    compile_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def spills(self) -> int:
        return (self.spill_stores or 0) + (self.spill_loads or 0)

    @property
    def config_name(self) -> str:
        return config_id(self.config)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["config"] = {k: v for k, v in self.config.items()}
        d["config_name"] = self.config_name
        d["ok"] = self.ok
        d["spills"] = self.spills
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
    return "wgmma" if arch >= 90 else "mma"


# ---------------------------------------------------------------- reading cubins and logs
def tool_path(name: str) -> str:
    """Path of a CUDA tool bundled with Triton (cuobjdump, nvdisasm)."""
    from triton import knobs

    try:
        return getattr(knobs.nvidia, name.replace("-", "_")).path
    except Exception:
        import triton

        return os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)


def parse_res_usage(text: str) -> dict[str, dict[str, int]]:
    """`cuobjdump -res-usage` output -> {function: {"REG": .., "STACK": .., "SHARED": .., "LOCAL": ..}}."""
    functions: dict[str, dict[str, int]] = {}
    current: str | None = None
    for line in text.splitlines():
        m = _RES_FUNCTION.match(line)
        if m:
            current = m.group(1)
            functions[current] = {}
            continue
        if current is not None and ":" in line and line.startswith((" ", "\t")):
            fields = _RES_FIELD.findall(line)
            if fields and not functions[current]:
                functions[current] = {k: int(v) for k, v in fields}
    return functions


def parse_ptxas_log(text: str) -> dict[str, int]:
    """ptxas -v text -> {"stack", "spill_stores", "spill_loads", "regs"} (the keys that were found)."""
    out: dict[str, int] = {}
    m = _PTXAS_SPILLS.search(text)
    if m:
        out["stack"], out["spill_stores"], out["spill_loads"] = (int(g) for g in m.groups())
    m = _PTXAS_REGS.search(text)
    if m:
        out["regs"] = int(m.group(1))
    return out


def tensor_core_kind(sass: str = "", ptx: str = "") -> str:
    """"wgmma", "mma" or "-" from the SASS (what runs) or, failing that, the PTX."""
    if sass:
        if _SASS_WGMMA.search(sass):
            return "wgmma"
        if _SASS_MMA.search(sass):
            return "mma"
        return "-"
    if "wgmma.mma_async" in ptx:
        return "wgmma"
    if re.search(r"\bmma\.sync\b", ptx):
        return "mma"
    return "-"


def cubin_resources(cubin: bytes, function: str | None = None, sass: bool = False) -> dict[str, Any]:
    """REG/STACK/SHARED/LOCAL of a cubin's kernel via the bundled cuobjdump, and its SASS if asked.

    The SASS dump costs about a second per cubin, so by default tensor-core use is read from the
    PTX (mma.sync / wgmma.mma_async there always become HMMA / HGMMA in the SASS).
    """
    with tempfile.TemporaryDirectory(prefix="tritensor-aot-") as tmp:
        path = os.path.join(tmp, "kernel.cubin")
        with open(path, "wb") as f:
            f.write(cubin)
        cuobjdump = tool_path("cuobjdump")
        usage = subprocess.run([cuobjdump, "-res-usage", path], capture_output=True, text=True, check=True)
        dump = subprocess.run([cuobjdump, "-sass", path], capture_output=True, text=True, check=True) \
            if sass else None
    functions = parse_res_usage(usage.stdout)
    if not functions:
        raise RuntimeError(f"cuobjdump -res-usage printed no function:\n{usage.stdout}{usage.stderr}")
    fields = functions.get(function) if function else None
    if fields is None:
        fields = next(iter(functions.values()))
    return {"fields": fields, "sass": dump.stdout if dump is not None else ""}


def _ptxas_log(ptx: str, arch: int, metadata: Any = None) -> str:
    """Re-run ptxas -v on PTX (only needed when Triton's cache served the cubin and printed no log).

    The flags follow Triton's own ptxas call (nvidia backend make_cubin) so the spill figures match.
    """
    from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability

    flags = ["-lineinfo", "-v", "--regAllocOptLevel=2"]
    if metadata is not None and not getattr(metadata, "enable_fp_fusion", True):
        flags.append("--fmad=false")
    if metadata is not None and getattr(metadata, "ptx_options", None):
        flags += metadata.ptx_options.split(" ")
    with tempfile.TemporaryDirectory(prefix="tritensor-aot-") as tmp:
        src = os.path.join(tmp, "kernel.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        cmd = [get_ptxas(arch).path, *flags, f"--gpu-name={sm_arch_from_capability(arch)}", src,
               "-o", os.path.join(tmp, "kernel.cubin")]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


# ---------------------------------------------------------------- compiling
_results: dict[tuple, CompileResult] = {}


def compile_config(spec: KernelSpec, config: Config, target: str | int = "sm_80",
                   sass: bool = False) -> CompileResult:
    """Compile one config of a spec for a target and read its resources (cached in this process).

    `sass`: read tensor-core use from the SASS instead of the PTX (slower). Never raises for a
    config that does not compile: the result says so. Raises AotUnavailable when the kernel is
    interpreted.
    """
    arch = arch_of(target)
    key = (spec.name, freeze(config), arch, sass)
    cached = _results.get(key)
    if cached is not None:
        return cached
    if not is_compilable(spec.kernel):
        raise AotUnavailable(
            f"{spec.name}: the kernel is an interpreted function (TRITON_INTERPRET=1 was set when triton "
            "was imported); run `python -m tritensor.autotune --compile-only` in a process without it")
    result = CompileResult(spec.name, dict(config), target_name(arch), shared_limit=SHARED_LIMIT.get(arch, 0),
                           expected_tensor_cores=expected_tensor_cores(spec, config, arch))
    start = time.perf_counter()
    try:
        _compile_into(result, spec, config, arch, sass)
    except Exception as exc:  # any compiler error is a finding about this config
        result.error = f"{type(exc).__name__}: {_first_lines(str(exc))}"
    result.compile_s = round(time.perf_counter() - start, 3)
    result.problems = problems(result)
    _results[key] = result
    return result


def _compile_into(result: CompileResult, spec: KernelSpec, config: Config, arch: int, sass: bool) -> None:
    import triton
    from triton import knobs

    constexprs, options = split(config)
    constexprs = {**spec.constexprs, **constexprs}
    signature = {**spec.signature, **{k: "constexpr" for k in constexprs}}
    source = triton.compiler.ASTSource(fn=spec.kernel, signature=signature, constexprs=constexprs)
    log = io.StringIO()
    previous = knobs.nvidia.dump_ptxas_log
    knobs.nvidia.dump_ptxas_log = True  # Triton prints ptxas -v (spills) when it runs ptxas
    try:
        with contextlib.redirect_stdout(log):
            compiled = triton.compile(source, target=gpu_target(arch), options=options)
    finally:
        knobs.nvidia.dump_ptxas_log = previous
    resources = cubin_resources(compiled.asm["cubin"], compiled.metadata.name, sass)
    fields = resources["fields"]
    result.regs = fields.get("REG")
    result.stack = fields.get("STACK", 0)
    result.local = fields.get("LOCAL", 0)
    result.shared_static = fields.get("SHARED", 0)
    result.shared = int(getattr(compiled.metadata, "shared", 0) or 0) + result.shared_static
    result.tensor_cores = tensor_core_kind(resources["sass"], compiled.asm.get("ptx", ""))
    ptxas = parse_ptxas_log(log.getvalue())
    if "spill_stores" not in ptxas:
        # Spills live in the stack frame: with none there is nothing to spill into.
        ptxas = parse_ptxas_log(_ptxas_log(compiled.asm["ptx"], arch, compiled.metadata)) if result.stack else \
            {"spill_stores": 0, "spill_loads": 0}
    result.spill_stores = ptxas.get("spill_stores")
    result.spill_loads = ptxas.get("spill_loads")
    # Some Triton versions also report these on the metadata; the cubin stays the primary source.
    if result.regs is None and isinstance(getattr(compiled.metadata, "n_regs", None), int):
        result.regs = compiled.metadata.n_regs
    if result.spill_stores is None and isinstance(getattr(compiled.metadata, "n_spills", None), int):
        result.spill_stores = result.spill_loads = compiled.metadata.n_spills
    result.compiled = True  # only once every resource was read: a tool failure reads as a failed compile


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


def prune(configs: Iterable[Config], spec: KernelSpec | None, target: str | int | None,
          shared_limit: int | None = None) -> list[Config]:
    """The configs that compile for `target` without spilling and fit its shared memory.

    `shared_limit` (bytes) overrides the target's table value (the live device's opt-in limit).
    Without a spec or a target, or when kernels are interpreted, nothing can be checked and every
    config is kept (timing then drops configs that fail to launch).
    """
    configs = list(configs)
    if spec is None or target is None or not is_compilable(spec.kernel):
        return configs
    kept = []
    for config in configs:
        r = compile_config(spec, config, target)
        limit = shared_limit if shared_limit is not None else r.shared_limit  # 0: no table value
        fits = not limit or (r.shared or 0) <= limit
        if r.compiled and not r.spills and r.spill_stores is not None and fits:
            kept.append(config)
    return kept


def compile_by_name(spec_name: str, config: Config, target: str, sass: bool = False) -> dict[str, Any]:
    """Worker entry point for parallel checks: look the spec up by name (specs do not pickle)."""
    from .registry import find_spec

    spec = find_spec(spec_name)
    if spec is None:
        raise KeyError(f"no KernelSpec named {spec_name!r}")
    return compile_config(spec, config, target, sass).to_dict()


def _first_lines(text: str, n: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[:n]) + (" ..." if len(lines) > n else "")
