"""Ahead-of-time checks: parsing cuobjdump/ptxas output, pruning, and real compiles for sm_80/sm_90.

AOT compilation needs real JITFunctions, which triton.jit does not return under TRITON_INTERPRET=1
(set for this whole test run), so every real compile happens in a subprocess without it.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from tritensor.autotune import aot
from tritensor.autotune.cli import select_specs
from tritensor.kernels.launch_spec import KernelSpec

RES_USAGE = """
Resource usage:
 Common:
  GLOBAL:0
 Function matmul_kernel:
  REG:168 STACK:16 SHARED:1024 LOCAL:0 CONSTANT[0]:576 TEXTURE:0 SURFACE:0 SAMPLER:0
 Function helper:
  REG:32 STACK:0 SHARED:0 LOCAL:8 CONSTANT[0]:400 TEXTURE:0 SURFACE:0 SAMPLER:0
"""

PTXAS_LOG = """ptxas-blackwell info    : 0 bytes gmem
ptxas-blackwell info    : Compiling entry function 'mm' for 'sm_90a'
ptxas-blackwell info    : Function properties for mm
    312 bytes stack frame, 312 bytes spill stores, 296 bytes spill loads
ptxas-blackwell info    : Used 255 registers, used 1 barriers, 312 bytes cumulative stack size
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(extra)
    return env


def test_parse_res_usage():
    functions = aot.parse_res_usage(RES_USAGE)
    assert functions["matmul_kernel"] == {"REG": 168, "STACK": 16, "SHARED": 1024, "LOCAL": 0,
                                          "CONSTANT[0]": 576, "TEXTURE": 0, "SURFACE": 0, "SAMPLER": 0}
    assert functions["helper"]["LOCAL"] == 8
    assert aot.parse_res_usage("nothing here") == {}


def test_parse_ptxas_log():
    assert aot.parse_ptxas_log(PTXAS_LOG) == {"stack": 312, "spill_stores": 312, "spill_loads": 296, "regs": 255}
    assert aot.parse_ptxas_log("ptxas info    : Used 40 registers") == {"regs": 40}
    assert aot.parse_ptxas_log("") == {}


def test_tensor_core_kind():
    assert aot.tensor_core_kind(sass="  /*2e30*/  HGMMA.64x128x16.F32 R88, gdesc[UR8].tnspB, R88 ;") == "wgmma"
    assert aot.tensor_core_kind(sass="  /*0c10*/  HMMA.16816.F32.BF16 R4, R8, R12, R4 ;") == "mma"
    assert aot.tensor_core_kind(sass="  /*0c10*/  FFMA R4, R8, R12, R4 ;") == "-"
    assert aot.tensor_core_kind(ptx="wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {...}") == "wgmma"
    assert aot.tensor_core_kind(ptx="mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {...}") == "mma"
    assert aot.tensor_core_kind(ptx="fma.rn.f32 %f1, %f2, %f3, %f4;") == "-"


def test_targets():
    assert aot.arch_of("sm_80") == 80 and aot.arch_of("sm_90a") == 90 and aot.arch_of((9, 0)) == 90
    assert aot.target_name(80) == "sm_80"
    t = aot.gpu_target("sm_90")
    assert (t.backend, t.arch, t.warp_size) == ("cuda", 90, 32)
    assert aot.SHARED_LIMIT == {80: 166912, 90: 232448}
    with pytest.raises(ValueError, match="unknown target"):
        aot.arch_of("gfx942")


def _spec(ptr, tensor_cores=True, name="k", **constexprs):
    return KernelSpec(name, None, {"a_ptr": f"*{ptr}", "c_ptr": "*fp32", "n": "i32"}, constexprs,
                      tensor_cores=tensor_cores)


def test_expected_tensor_cores():
    assert aot.expected_tensor_cores(_spec("fp16"), {}, 80) == "mma"
    assert aot.expected_tensor_cores(_spec("bf16"), {}, 90) == "wgmma"
    assert aot.expected_tensor_cores(_spec("fp16", tensor_cores=False), {}, 90) is None
    assert aot.expected_tensor_cores(_spec("fp32"), {}, 90) is None  # IEEE fp32: no tensor cores
    assert aot.expected_tensor_cores(_spec("fp32", INPUT_PRECISION="tf32"), {}, 80) == "mma"
    assert aot.expected_tensor_cores(_spec("fp32"), {"ALLOW_TF32": True}, 90) == "wgmma"
    assert aot.expected_tensor_cores(_spec("fp32", name="mm[fp32:tf32]"), {}, 90) == "wgmma"


def _result(**kw):
    r = aot.CompileResult("k", {"BLOCK": 64, "num_warps": 4}, "sm_80", compiled=True, regs=100, stack=0,
                          spill_stores=0, spill_loads=0, shared=1000, shared_limit=166912)
    for k, v in kw.items():
        setattr(r, k, v)
    r.problems = aot.problems(r)
    return r


def test_problems():
    assert _result().ok
    assert _result(spill_stores=8, spill_loads=4).problems == ["spills (8 B stores, 4 B loads)"]
    assert _result(shared=200_000).problems == ["shared memory 200000 B > 166912 B"]
    assert _result(expected_tensor_cores="mma").problems == ["no mma instructions (found -)"]
    assert _result(expected_tensor_cores="wgmma", tensor_cores="mma").problems == \
        ["no wgmma instructions (found mma)"]
    assert _result(compiled=False, error="CompilationError: x").problems == ["compile failed: CompilationError: x"]
    d = _result(spill_stores=8).to_dict()
    assert d["ok"] is False and d["spills"] == 8 and d["config_name"] == "BLOCK=64 w4"


def test_prune_drops_spilling_and_oversized_configs(monkeypatch):
    configs = [dict(BLOCK=b, num_warps=4) for b in (32, 64, 128, 256)]
    fake = {32: _result(), 64: _result(spill_stores=4, spill_loads=4), 128: _result(shared=120_000),
            256: _result(compiled=False, error="boom")}
    calls = []

    def compile_config(spec, config, target, variant):
        calls.append((config["BLOCK"], target, variant))
        return fake[config["BLOCK"]]

    monkeypatch.setattr(aot, "is_compilable", lambda kernel: True)
    monkeypatch.setattr(aot, "compile_config", compile_config)
    spec = _spec("fp16")
    assert aot.prune(configs, spec, "sm_80") == configs[:1] + configs[2:3]
    # Both variants of a kept config are checked; a failing first variant settles it.
    assert calls == [(32, "sm_80", "aligned"), (32, "sm_80", "unaligned"), (64, "sm_80", "aligned"),
                     (128, "sm_80", "aligned"), (128, "sm_80", "unaligned"), (256, "sm_80", "aligned")]
    assert aot.prune(configs, spec, 80, shared_limit=101376) == configs[:1]  # e.g. an sm_86 part
    fake[128] = _result(shared=120_000, shared_limit=0)  # a target without a table value (sm_89)
    assert aot.prune(configs, spec, 89) == configs[:1] + configs[2:3]
    monkeypatch.undo()
    # Interpreted kernels (this process) or no spec: nothing can be checked, everything is kept.
    assert aot.prune(configs, None, "sm_80") == configs


def test_compile_config_refuses_interpreted_kernels():
    from tritensor.kernels import reduction

    with pytest.raises(aot.AotUnavailable, match="TRITON_INTERPRET"):
        aot.compile_config(reduction.SPECS[0], reduction.SPECS[0].configs[0], "sm_80")


def test_quick_selection_keeps_one_spec_per_kernel_and_tensor_core_dtype():
    k1, k2 = object(), object()
    specs = [KernelSpec("map[a:fp32]", k1, {"x": "*fp32"}), KernelSpec("map[b:fp32]", k1, {"x": "*fp32"}),
             KernelSpec("mm[fp16]", k2, {"a": "*fp16"}, tensor_cores=True),
             KernelSpec("mm[fp16:bias]", k2, {"a": "*fp16"}, tensor_cores=True),
             KernelSpec("mm[bf16]", k2, {"a": "*bf16"}, tensor_cores=True),
             KernelSpec("mm[fp32]", k2, {"a": "*fp32"})]
    assert [s.name for s in select_specs(specs, quick=True)] == ["map[a:fp32]", "mm[fp16]", "mm[bf16]"]
    assert [s.name for s in select_specs(specs, filters=["mm[f"])] == ["mm[fp16]", "mm[fp16:bias]", "mm[fp32]"]
    assert len(select_specs(specs)) == 6



SASS_SAMPLE = """
        /*0580*/              @!P1 LDG.E.128 R16, desc[UR4][R22.64] ;            /* 0x0000000416109981 */
        /*05a0*/                   LDG.E.EL.64 R4, desc[UR4][R26.64] ;            /* 0x000000041a048981 */
        /*05b0*/              @!PT LDG.E R8, desc[UR4][R28.64] ;                  /* 0x000000041c088981 */
        /*05c0*/               @P0 LDG.E.U16.CONSTANT R12, desc[UR4][R2.64] ;     /* 0x00000004020c9981 */
        /*0600*/                   LDGSTS.E.BYPASS.LTC128B.128 [R3], desc[UR4][R4.64] ;
        /*0610*/                   LDGSTS.E.LTC128B [R3+0x4], desc[UR4][R4.64+0x4] ;
        /*0620*/                   UTMALDG.2D [UR8], [UR4], desc[UR6] ;
        /*0630*/                   HGMMA.64x128x16.F32 R88, gdesc[UR8].tnspB, R88 ;
        /*06a0*/              @!P1 STG.E.128 desc[UR4][R8.64], R12 ;             /* 0x0000000c08009986 */
        /*06d0*/                   STG.E.U8 desc[UR4][R2.64], R4 ;               /* 0x0000000402007986 */
        /*06e0*/                   UTMASTG.2D [UR4], [UR8] ;
        /*06f0*/                   LDS.128 R4, [R3] ;
        /*0700*/                   EXIT ;
        /*0710*/                   BRA 0x710;
        /*0720*/                   NOP;
"""

PTX_SAMPLE = """
    @%p1 ld.global.v4.b32 { %r1, %r2, %r3, %r4 }, [ %rd1 + 0 ];
    ld.global.L1::evict_last.b32 { %r5 }, [ %rd2 + 0 ];
    @%p2 ld.global.v2.b32 { %r6, %r7 }, [ %rd3 + 0 ];
    ld.global.nc.v2.b64 { %rd8, %rd9 }, [ %rd4 + 0 ];
    @%p3 st.global.v4.b32 [ %rd5 + 0 ], { %r1, %r2, %r3, %r4 };
    st.global.b16 [ %rd6 + 0 ], { %rs1 };
    cp.async.cg.shared.global [ %r41 + 0 ], [ %rd31 + 0 ], 0x10, %r42;
    cp.async.ca.shared.global [ %r43 + 0 ], [ %rd32 + 0 ], 0x4, %r44;
    cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%r1], [%rd1, {%r2, %r3}], [%r4];
    cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%rd2, {%r5, %r6}], [%r7];
    ld.shared.v4.b32 { %r1, %r2, %r3, %r4 }, [ %r9 + 0 ];
"""


def test_sass_access_widths():
    assert aot.sass_access(SASS_SAMPLE) == {"ld128": 2, "ld_narrow": 4, "st128": 1, "st_narrow": 1,
                                            "tma_load": 1, "tma_store": 1}
    assert aot.sass_instructions(SASS_SAMPLE) == 14  # every instruction but the NOP padding
    assert aot.sass_access("") == dict.fromkeys(aot.ACCESS_KEYS, 0)


def test_ptx_access_widths():
    # v4.b32 and v2.b64 are 128 bits; a 16-byte cp.async is one LDGSTS.128, a 4-byte one is narrow.
    assert aot.ptx_access(PTX_SAMPLE) == {"ld128": 3, "ld_narrow": 3, "st128": 1, "st_narrow": 1,
                                          "tma_load": 1, "tma_store": 1}


def test_occupancy_arithmetic():
    # 255 registers: 8192 per warp, 2 warps per scheduler quarter -> 8 warps per SM.
    assert aot.occupancy(255, 0, 4, 90) == (8, "regs")
    # 168 registers: 5376 per warp (21 x 256) -> 3 per quarter -> 12 warps (3 blocks of 4).
    assert aot.occupancy(168, 0, 4, 80) == (12, "regs")
    # 32 registers: 1024 per warp -> 16 per quarter = 64 warps, the hardware maximum.
    assert aot.occupancy(32, 0, 4, 90) == (64, "warps")
    # 63 registers round up to 64 (2048 per warp): 32 warps by registers = 4 blocks of 8, but
    # 74752 B + 1 KiB reserved = 75776 B per block: 3 blocks in 228 KiB (sm_90), 2 in 164 KiB (sm_80).
    assert aot.occupancy(63, 74752, 8, 90) == (24, "smem")
    assert aot.occupancy(63, 74752, 8, 80) == (16, "smem")
    # Tiny one-warp blocks stop at 32 blocks per SM.
    assert aot.occupancy(16, 0, 1, 90) == (32, "blocks")
    # 104 registers (13 x 256 per warp): 4 per quarter = 16 warps = 2 blocks of 8; smem allows 3.
    assert aot.occupancy(104, 66560, 8, 90) == (16, "regs")


class _Param:
    def __init__(self, name, dns=False, dnsa=False):
        self.name, self.do_not_specialize, self.do_not_specialize_on_alignment = name, dns, dnsa


class _Kernel:
    """What specialization() reads of a JITFunction: arg_names and params."""

    def __init__(self, names, dns=(), dnsa=()):
        self.arg_names = list(names)
        self.params = [_Param(n, n in dns, n in dnsa) for n in names]


def test_specialization_follows_the_jit():
    names = ["out_ptr", "x_ptr", "n", "seed", "bits", "stride_xm", "stride_xr", "scale", "BLOCK"]
    kernel = _Kernel(names, dns=("bits",), dnsa=("x_ptr",))
    signature = {"out_ptr": "*fp32", "x_ptr": "*fp16", "n": "i32", "seed": "i64", "bits": "i32",
                 "stride_xm": "i64", "stride_xr": "i64", "scale": "fp32"}
    spec = KernelSpec("k", kernel, signature, {"BLOCK": 256}, indivisible=("seed",))
    assert aot.unit_args(spec) == ("stride_xr",)
    sig, constants, attrs = aot.specialization(spec, {"BLOCK": 256}, "aligned")
    # The unit stride is a constant 1; the signature keeps the kernel's argument order.
    assert list(sig) == names and sig["stride_xr"] == "constexpr" and sig["BLOCK"] == "constexpr"
    assert constants == {"BLOCK": 256, "stride_xr": 1}
    d16 = [["tt.divisibility", 16]]
    # out_ptr, n and stride_xm: divisible; x_ptr opted out of alignment, seed is indivisible, bits is
    # not specialised at all, scale is a float.
    assert attrs == {(0,): d16, (2,): d16, (5,): d16}
    sig, constants, attrs = aot.specialization(spec, {"BLOCK": 256}, "unaligned")
    assert sig == {**signature, "BLOCK": "constexpr"} and constants == {"BLOCK": 256} and attrs == {}
    assert aot.specialization(KernelSpec("k", kernel, signature, unit_args=()), {}, "aligned")[1] == {}
    with pytest.raises(ValueError, match="variant"):
        aot.specialization(spec, {}, "fast")


def test_unit_args_inferred_from_the_kernels_naming():
    int_args = {n: "i32" for n in ("numel", "size1", "size2", "size3", "o0s0", "o0s3", "i1s2", "i1s3", "gxs3",
                                   "M", "M1", "R", "sx0", "sx1", "sxr", "sgxc", "sw", "stride_am", "stride_ak",
                                   "stride_bk", "stride_bn", "stride_cm", "stride_cn", "stride_xm", "stride_xr",
                                   "stride_out", "p_row_stride", "p_col_stride", "dst3", "value_bits")}
    spec = KernelSpec("k", None, {"x_ptr": "*fp32", "scale": "fp32", **int_args})
    assert set(aot.unit_args(spec)) == {"size1", "size2", "o0s3", "i1s3", "gxs3", "M1", "sxr", "sgxc", "sw",
                                        "stride_ak", "stride_bn", "stride_cn", "stride_xr", "stride_out",
                                        "p_col_stride"}
    assert aot.unit_args(KernelSpec("k", None, int_args, unit_args=("stride_xm", "absent"))) == ("stride_xm",)


def test_memory_bound_defaults_to_not_tensor_cores():
    assert KernelSpec("k", None, {}).memory_bound is True
    assert KernelSpec("k", None, {}, tensor_cores=True).memory_bound is False
    assert KernelSpec("k", None, {}, memory_bound=False).memory_bound is False


def _access(ld128=0, ld_narrow=0, st128=0, st_narrow=0, tma_load=0, tma_store=0):
    return dict(ld128=ld128, ld_narrow=ld_narrow, st128=st128, st_narrow=st_narrow, tma_load=tma_load,
                tma_store=tma_store)


def test_width_rule_fires_on_narrow_aligned_memory_bound_builds():
    narrow = _result(memory_bound=True, access=_access(ld_narrow=16, st_narrow=8))
    assert aot.width_problem(narrow) == "no 128-bit global access (16 narrower loads, 8 narrower stores)"
    assert narrow.wide is False and narrow.ok  # a warning, not a problem: CI fails on it under --require-wide
    assert aot.width_problem(_result(memory_bound=True, access=_access(ld128=1, ld_narrow=9))) is None
    assert aot.width_problem(_result(memory_bound=True, access=_access(tma_load=2))) is None
    assert aot.width_problem(_result(memory_bound=True, variant="unaligned", access=_access(ld_narrow=4))) is None
    assert aot.width_problem(_result(memory_bound=False, access=_access(ld_narrow=4))) is None
    assert aot.width_problem(_result(memory_bound=True, access=None)) is None  # not read: nothing to judge


def _row(kernel, variant, ok=True, warnings=(), shipped=True, target="sm_90", **kw):
    r = _result(kernel=kernel, variant=variant, target=target, access=_access(ld128=4, st128=2), regs=32,
                occupancy_warps=64, occupancy_limit="warps", **kw).to_dict()
    r.update(ok=ok, warnings=list(warnings), shipped=shipped, problems=[] if ok else ["spills (8 B stores, 8 B loads)"])
    return r


def test_cli_verdict_table_and_summary():
    from tritensor.autotune import cli

    rows = [_row("map[add]", "aligned"), _row("map[add]", "unaligned"),
            _row("sum", "aligned", warnings=["no 128-bit global access (4 narrower loads, 1 narrower stores)"]),
            _row("sum", "unaligned", ok=False), _row("sum", "aligned", shipped=False, ok=False)]
    assert [r["kernel"] + r["variant"] for r in cli.failing(rows)] == ["sumunaligned"]
    assert [r["variant"] for r in cli.failing(rows, require_wide=True)] == ["aligned", "unaligned"]
    table = cli.format_aot_table(rows).splitlines()
    assert table[0].split() == ["target", "kernel", "config", "var", "regs", "spills", "shared", "warps/SM",
                                "ld128", "st128", "tma", "tc", "ok"]
    assert table[2].split()[-7:] == ["64", "warps", "4/4", "2/2", "-", "-", "ok"]
    assert "WARN: no 128-bit" in table[4] and "FAIL: spills" in table[5] and "pruned: spills" in table[6]
    assert "FAIL: no 128-bit" in cli.format_aot_table(rows, require_wide=True).splitlines()[4]
    summary = cli.summarize(rows, ["sm_90"])["sm_90"]
    assert summary["narrow_specs"] == {"sum": 1} and summary["failed_shipped"] == 1
    assert summary["memory_bound_aligned"] == 0 and summary["configs"] == 5


def test_build_work_has_both_variants_of_every_config():
    from tritensor.autotune import cli

    spec = KernelSpec("k", None, {}, configs=[dict(BLOCK=64), dict(BLOCK=64)],
                      space=[dict(BLOCK=64), dict(BLOCK=128)])
    work = cli.build_work([spec], ["sm_80", "sm_90"], full=True)
    assert [(c["BLOCK"], t, shipped, v) for _, c, t, shipped, v in work] == [
        (b, t, b == 64, v) for t in ("sm_80", "sm_90") for b in (64, 128) for v in ("aligned", "unaligned")]
    assert len(cli.build_work([spec], ["sm_90"], full=False)) == 2
    hopper = KernelSpec("tma", None, {}, configs=[dict(BLOCK=64)], targets=("sm_90",))
    assert [t for _, _, t, _, _ in cli.build_work([hopper], ["sm_80", "sm_90"], full=False)] == ["sm_90"] * 2


PROBE = '''
import json, os, sys
import triton
import triton.language as tl
from tritensor.autotune import aot
from tritensor.kernels.launch_spec import KernelSpec


@triton.jit
def dot_kernel(a_ptr, b_ptr, c_ptr, BLOCK: tl.constexpr):
    r = tl.arange(0, BLOCK)
    a = tl.load(a_ptr + r[:, None] * BLOCK + r[None, :])
    b = tl.load(b_ptr + r[:, None] * BLOCK + r[None, :])
    tl.store(c_ptr + r[:, None] * BLOCK + r[None, :], tl.dot(a, b).to(c_ptr.dtype.element_ty))


@triton.jit
def hog_kernel(x_ptr, y_ptr, BLOCK: tl.constexpr):
    # Every loaded value stays live across the reduction: BLOCK / 32 fp32 values per thread.
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(y_ptr + offs, x * tl.sum(x, axis=0) + x * x)


out_dir = sys.argv[1]
os.environ["TRITENSOR_CACHE_DIR"] = out_dir  # a fresh AOT results cache
dot = KernelSpec("probe.dot[fp16]", dot_kernel, {"a_ptr": "*fp16", "b_ptr": "*fp16", "c_ptr": "*fp16"}, {},
                 [dict(BLOCK=64, num_warps=4)], tensor_cores=True)
hog = KernelSpec("probe.hog[fp32]", hog_kernel, {"x_ptr": "*fp32", "y_ptr": "*fp32"}, {},
                 [dict(BLOCK=16384, num_warps=1)])
from tritensor.autotune.registry import find_spec
add = find_spec("elementwise.map[add:fp32]")
results = {}
for spec, cfg, target, sass, variant in ((dot, 0, "sm_80", False, "aligned"), (dot, 0, "sm_90", True, "aligned"),
                                         (hog, 0, "sm_80", False, "aligned"), (add, 0, "sm_90", True, "aligned"),
                                         (add, 0, "sm_90", True, "unaligned")):
    r = aot.compile_config(spec, spec.configs[cfg], target, sass=sass, variant=variant)
    results[f"{spec.name}@{target}:{variant}"] = r.to_dict()
# Triton's own cache serves these: the PTX reading of the same build, and a rerun from the AOT cache.
results["add_ptx"] = aot.compile_config(add, add.configs[0], "sm_90", sass=False).to_dict()
aot._results.clear()
results["add_again"] = aot.compile_config(add, add.configs[0], "sm_90", sass=True).to_dict()
# The same dot cubin, saved for the parent to read with cuobjdump itself.
sig, constants, attrs = aot.specialization(dot, {"BLOCK": 64}, "aligned")
src = triton.compiler.ASTSource(fn=dot_kernel, signature=sig, constexprs=constants, attrs=attrs)
k = triton.compile(src, target=aot.gpu_target("sm_90"), options={"num_warps": 4})
open(f"{out_dir}/dot_sm90.cubin", "wb").write(k.asm["cubin"])
json.dump({"results": results, "shared": k.metadata.shared}, open(f"{out_dir}/probe.json", "w"))
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    out = tmp_path_factory.mktemp("aot_probe")
    (out / "probe.py").write_text(PROBE)
    subprocess.run([sys.executable, str(out / "probe.py"), str(out)], env=clean_env(), check=True, timeout=300)
    return out, json.loads((out / "probe.json").read_text())


def test_real_cubin_resources_via_cuobjdump(probe):
    out, data = probe
    r = aot.cubin_resources((out / "dot_sm90.cubin").read_bytes(), "dot_kernel", sass=True)
    assert 16 < r["fields"]["REG"] <= 255
    assert r["fields"]["STACK"] == 0
    assert r["fields"]["SHARED"] >= 0 and "LOCAL" in r["fields"]
    assert "HGMMA" in r["sass"] and aot.tensor_core_kind(sass=r["sass"]) == "wgmma"
    dot90 = data["results"]["probe.dot[fp16]@sm_90:aligned"]
    assert dot90["regs"] == r["fields"]["REG"]
    assert dot90["shared"] == data["shared"] + r["fields"]["SHARED"]  # Triton's dynamic + the static part
    assert dot90["access"] == aot.sass_access(r["sass"]) and dot90["access_source"] == "sass"
    assert dot90["instructions"] == aot.sass_instructions(r["sass"]) > 50


def test_real_compile_results(probe):
    _, data = probe
    dot80, dot90 = data["results"]["probe.dot[fp16]@sm_80:aligned"], data["results"]["probe.dot[fp16]@sm_90:aligned"]
    for r, tc in ((dot80, "mma"), (dot90, "wgmma")):
        assert r["compiled"] and r["ok"], r
        assert r["tensor_cores"] == r["expected_tensor_cores"] == tc
        assert r["spills"] == 0 and r["stack"] == 0
        # Two 64x64 fp16 operand tiles staged in shared memory: at least 8 KiB.
        assert 8192 <= r["shared"] <= r["shared_limit"]
        assert r["memory_bound"] is False and r["warnings"] == []
        assert r["num_warps"] == 4 and 0 < r["occupancy_warps"] <= 64
    assert dot80["shared_limit"] == 166912 and dot90["shared_limit"] == 232448
    hog = data["results"]["probe.hog[fp32]@sm_80:aligned"]
    assert hog["compiled"] and not hog["ok"]
    assert hog["spill_stores"] > 0 and hog["spill_loads"] > 0 and hog["stack"] > 0
    assert hog["problems"] == [f"spills ({hog['spill_stores']} B stores, {hog['spill_loads']} B loads)"]
    assert hog["tensor_cores"] == "-" and hog["expected_tensor_cores"] is None


def test_aligned_build_of_the_map_kernel_vectorises(probe):
    # What the JIT builds for a contiguous fp32 add (aligned pointers, numel a multiple of 16, unit
    # strides) loads and stores 128 bits per thread with fewer registers than the build without those facts.
    _, data = probe
    aligned = data["results"]["elementwise.map[add:fp32]@sm_90:aligned"]
    unaligned = data["results"]["elementwise.map[add:fp32]@sm_90:unaligned"]
    assert aligned["ok"] and unaligned["ok"] and aligned["memory_bound"]
    assert aligned["access"]["ld128"] >= 2 and aligned["access"]["st128"] >= 1 and aligned["wide"]
    assert aligned["access"]["ld_narrow"] == aligned["access"]["st_narrow"] == 0 and aligned["warnings"] == []
    assert unaligned["access"]["ld128"] == unaligned["access"]["st128"] == 0 and unaligned["access"]["ld_narrow"] > 0
    assert aligned["regs"] < unaligned["regs"]
    assert aligned["instructions"] < unaligned["instructions"]
    assert aligned["occupancy_warps"] >= unaligned["occupancy_warps"]
    # The PTX reading (the default, no disassembly) counts what the SASS shows.
    assert data["results"]["add_ptx"]["access"] == aligned["access"]
    assert data["results"]["add_ptx"]["access_source"] == "ptx"
    again = data["results"]["add_again"]
    assert again["cached"] and not aligned["cached"]
    assert {k: again[k] for k in ("regs", "access", "shared", "occupancy_warps", "instructions")} == \
        {k: aligned[k] for k in ("regs", "access", "shared", "occupancy_warps", "instructions")}


def test_compile_only_reexecutes_without_the_interpreter(tmp_path, capsys):
    """main() under TRITON_INTERPRET=1 (this process) runs the check in a clean subprocess."""
    from tritensor.autotune.cli import main

    out = tmp_path / "aot.json"
    rc = main(["--compile-only", "--target", "sm_80", "--filter", "reduction.sum[fp32]", "--jobs", "1",
               "--json", str(out)])
    data = json.loads(out.read_text())
    results = [r for r in data["results"] if r["kernel"] == "reduction.sum[fp32]"]
    assert len(results) >= 2 and all(r["compiled"] and r["ok"] and r["target"] == "sm_80" for r in results)
    assert {r["variant"] for r in results} == {"aligned", "unaligned"}
    assert rc == (1 if data["module_errors"] else 0)


def test_shipped_configs_compile_for_sm80_and_sm90(tmp_path):
    """The CI's AOT gate: a representative sample (--quick) of every kernels module's shipped configs.

    `python -m tritensor.autotune --compile-only` (no --quick) checks every shipped config.
    """
    out = tmp_path / "aot.json"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tritensor.autotune", "--compile-only", "--target", "sm_80",
                           "--target", "sm_90", "--quick", "--json", str(out)],
                          env=clean_env(), capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - start
    print(done.stdout[-4000:], f"\nAOT check took {elapsed:.1f} s", file=sys.stderr)
    data = json.loads(out.read_text())
    results = data["results"]
    assert {r["target"] for r in results} == {"sm_80", "sm_90"}
    from tritensor.autotune.registry import discover, module_names

    expected = {s.name for s in select_specs(discover().specs, quick=True)}
    assert {r["kernel"] for r in results} == expected  # every Triton kernel of every kernels module
    assert "reduction.sum[fp32]" in expected and len({id(s.kernel) for s in discover().specs}) == len(
        {id(s.kernel) for s in select_specs(discover().specs, quick=True)})
    matmul = [r for r in results if r["kernel"].startswith("matmul[") and
              ("fp16" in r["kernel"] or "bf16" in r["kernel"])]
    if any(name.endswith(".matmul") for name in module_names()):
        assert matmul, "no matmul fp16/bf16 spec was checked"
    # Every finding at once, so one run tells each kernel's owner what to fix.
    findings = [f"{module}: {error}" for module, error in data["module_errors"].items()]
    findings += [f"{r['target']} {r['kernel']} {r['config_name']}: {'; '.join(r['problems'])}"
                 for r in results if not (r["compiled"] and r["spills"] == 0 and r["shared"] <= r["shared_limit"]
                                          and r["ok"])]
    findings += [f"{r['target']} {r['kernel']} {r['config_name']}: tensor cores {r['tensor_cores']}"
                 for r in matmul if r["tensor_cores"] != ("mma" if r["target"] == "sm_80" else "wgmma")]
    assert not findings, "AOT findings:\n" + "\n".join(findings)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_every_map_spec_has_the_flat_build_a_dense_launch_runs():
    """A dense launch of any map op runs flat_map_kernel: the matrix compiles it for every strided map spec,
    with the spec's OP, operand types and scalar types, in flat_map_kernel's argument order."""
    import inspect

    from tritensor.autotune.registry import all_specs
    from tritensor.kernels.elementwise import map_kernel
    from tritensor.kernels.elementwise_flat import flat_map_kernel

    specs = all_specs()
    flat = {(s.constexprs["OP"], s.signature["out0_ptr"], s.signature["in0_ptr"]): s for s in specs
            if s.kernel is flat_map_kernel and not s.constexprs["MASKED"]}
    maps = [s for s in specs if s.kernel is map_kernel]
    assert len(maps) > 100
    params = list(inspect.signature(flat_map_kernel.fn).parameters)
    for spec in maps:
        twin = flat[(spec.constexprs["OP"], spec.signature["out0_ptr"], spec.signature["in0_ptr"])]
        assert list(twin.signature) == [p for p in params if p not in twin.constexprs and p not in
                                        ("BLOCK", "SCALARS", "MASKED", "OP", "N_IN", "N_OUT")], twin.name
        assert all(twin.signature[k] == spec.signature[k] for k in twin.signature if k.endswith("_ptr")
                   or k in ("p0", "p1")), twin.name
        assert twin.constexprs["MASKED"] is False and twin.memory_bound and twin.configs
