"""Reading what a compiled kernel does: cuobjdump/ptxas output, global access widths, occupancy.

Everything here is text in, numbers out, so it is tested on fixed samples; `aot` runs the compiler
and the bundled CUDA tools (cuobjdump, nvdisasm, ptxas) and hands their output to these parsers.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from typing import Any

_SASS_WGMMA = re.compile(r"\b[HIQBO]GMMA\b")
_SASS_MMA = re.compile(r"\b[HIDB]MMA\b")
_RES_FUNCTION = re.compile(r"^\s*Function\s+(\S+?):?\s*$")
_RES_FIELD = re.compile(r"([A-Z_]+(?:\[\d+\])?):(\d+)")
_PTXAS_SPILLS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_PTXAS_REGS = re.compile(r"Used (\d+) registers")

# A SASS instruction line: "/*0580*/  @!P1 LDG.E.128 R16, desc[UR4][R22.64] ;" -> "LDG.E.128".
_SASS_OPCODE = re.compile(r"^\s*/\*[0-9a-f]+\*/\s+(?:@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_.]*)", re.MULTILINE)
_SASS_WIDTH = {"128": 128, "256": 256, "64": 64, "U8": 8, "S8": 8, "U16": 16, "S16": 16}
# PTX: "ld.global.L1::evict_last.v4.b32 {...}, [ %rd1 + 0 ];", "st.global.b16 [...], {...};"
_PTX_LDST = re.compile(r"\b(ld|st)\.global((?:\.[\w:]+)*)")
_PTX_TYPE = re.compile(r"^[bfsu](8|16|32|64|128)$")
# cp.async.cg.shared.global [dst], [src], 0x10, %r;  (LDGSTS; the copy size in bytes)
_PTX_CP_ASYNC = re.compile(r"\bcp\.async\.c[ag]\.shared(?:::\w+)?\.global(?:\.[\w:]+)*\s+\[[^\]]*\],\s*\[[^\]]*\],"
                           r"\s*(0x[0-9a-fA-F]+|\d+)")
_PTX_TMA_LOAD = re.compile(r"\bcp\.async\.bulk\.tensor\.\w+\.shared::\w+\.global\b")
_PTX_TMA_STORE = re.compile(r"\bcp(?:\.reduce)?\.async\.bulk\.tensor\.\w+\.global\.shared::")

ACCESS_KEYS = ("ld128", "ld_narrow", "st128", "st_narrow", "tma_load", "tma_store")

# Per-SM limits for occupancy (CUDA occupancy calculator values, compute capability 8.0 and 9.0).
REGS_PER_SM = 65536
SUB_PARTITIONS = 4  # the register file is split evenly between the SM's four schedulers
REG_ALLOC_UNIT = 256  # registers are allocated per warp in units of 256
MAX_WARPS_PER_SM = {80: 64, 90: 64}
MAX_BLOCKS_PER_SM = {80: 32, 90: 32}
SHARED_PER_SM = {80: 167936, 90: 233472}  # 164 KiB / 228 KiB
SHARED_RESERVED_PER_BLOCK = 1024  # the driver keeps 1 KiB of every block's shared memory
SHARED_ALLOC_UNIT = 128


# ---------------------------------------------------------------- the bundled tools
def tool_path(name: str) -> str:
    """Path of a CUDA tool bundled with Triton (cuobjdump, nvdisasm)."""
    from triton import knobs

    try:
        return getattr(knobs.nvidia, name.replace("-", "_")).path
    except Exception:
        import triton

        return os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)


def cubin_resources(cubin: bytes, function: str | None = None, sass: bool = False) -> dict[str, Any]:
    """REG/STACK/SHARED/LOCAL of a cubin's kernel via the bundled cuobjdump, and its SASS if asked.

    The SASS dump costs about a third of a second per cubin (nvdisasm's start-up), as much as
    compiling a small kernel; callers ask for it only where they need it.
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


def ptxas_log(ptx: str, arch: int, metadata: Any = None) -> str:
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


# ---------------------------------------------------------------- parsers
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


def sass_instructions(sass: str) -> int:
    """Static instruction count of a SASS dump (NOP padding after the final EXIT excluded)."""
    return sum(1 for op in _SASS_OPCODE.findall(sass) if op != "NOP")


def sass_access(sass: str) -> dict[str, int]:
    """Global memory instructions of a SASS dump by kind and width.

    ld128/st128: LDG/STG (and LDGSTS, the cp.async copy to shared memory, counted as a load) that
    move 128 bits or more per thread; ld_narrow/st_narrow: the narrower ones (.64, 32-bit, .U8 ...);
    tma_load/tma_store: UTMALDG / UTMASTG (and UTMAREDG, a TMA reduction into global memory).
    """
    counts = dict.fromkeys(ACCESS_KEYS, 0)
    for opcode in _SASS_OPCODE.findall(sass):
        base, *mods = opcode.split(".")
        if base in ("LDG", "LDGSTS", "STG"):
            width = max((_SASS_WIDTH[m] for m in mods if m in _SASS_WIDTH), default=32)
            kind = "st" if base == "STG" else "ld"
            counts[f"{kind}128" if width >= 128 else f"{kind}_narrow"] += 1
        elif base == "UTMALDG":
            counts["tma_load"] += 1
        elif base in ("UTMASTG", "UTMAREDG"):
            counts["tma_store"] += 1
    return counts


def ptx_access(ptx: str) -> dict[str, int]:
    """The same counts as `sass_access`, read from the PTX (free: no disassembly).

    ptxas turns each ld/st.global.v4.b32 into one LDG/STG.E.128 and a 16-byte cp.async into one
    LDGSTS.128, so the widths agree with the SASS; the counts can differ where ptxas duplicates or
    removes code (tests/autotune/test_aot.py compares both on a real kernel).
    """
    counts = dict.fromkeys(ACCESS_KEYS, 0)
    for kind, quals in _PTX_LDST.findall(ptx):
        vec, bits = 1, 32
        for q in quals.split(".")[1:]:
            if q in ("v2", "v4", "v8"):
                vec = int(q[1:])
            else:
                m = _PTX_TYPE.match(q)
                if m:
                    bits = int(m.group(1))
        counts[f"{kind}128" if vec * bits >= 128 else f"{kind}_narrow"] += 1
    for size in _PTX_CP_ASYNC.findall(ptx):
        counts["ld128" if int(size, 0) >= 16 else "ld_narrow"] += 1
    counts["tma_load"] += len(_PTX_TMA_LOAD.findall(ptx))
    counts["tma_store"] += len(_PTX_TMA_STORE.findall(ptx))
    return counts


# ---------------------------------------------------------------- occupancy
def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def occupancy(regs: int, shared: int, num_warps: int, arch: int) -> tuple[int, str]:
    """(resident warps per SM, what limits them: "regs", "smem", "warps" or "blocks").

    Registers are allocated per warp (regs x 32 rounded up to 256) from each scheduler's quarter of
    the 64K register file; shared memory per block is the kernel's plus the driver's 1 KiB, in
    128-byte units, from 164 KiB (sm_80) or 228 KiB (sm_90) per SM.
    """
    arch = 90 if arch >= 90 else 80
    limits: dict[str, int] = {
        "warps": MAX_WARPS_PER_SM[arch] // num_warps,
        "blocks": MAX_BLOCKS_PER_SM[arch],
    }
    regs_per_warp = _round_up(max(regs, 1) * 32, REG_ALLOC_UNIT)
    warps_per_partition = REGS_PER_SM // SUB_PARTITIONS // regs_per_warp
    limits["regs"] = warps_per_partition * SUB_PARTITIONS // num_warps
    if shared:
        per_block = _round_up(shared + SHARED_RESERVED_PER_BLOCK, SHARED_ALLOC_UNIT)
        limits["smem"] = SHARED_PER_SM[arch] // per_block
    # On a tie the hardware maximum is named: a kernel at 64 warps is not "limited by registers".
    limiter = min(limits, key=lambda k: (limits[k], ("warps", "blocks", "regs", "smem").index(k)))
    return limits[limiter] * num_warps, limiter
