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

    def compile_config(spec, config, target):
        calls.append((config["BLOCK"], target))
        return fake[config["BLOCK"]]

    monkeypatch.setattr(aot, "is_compilable", lambda kernel: True)
    monkeypatch.setattr(aot, "compile_config", compile_config)
    spec = _spec("fp16")
    assert aot.prune(configs, spec, "sm_80") == configs[:1] + configs[2:3]
    assert calls == [(32, "sm_80"), (64, "sm_80"), (128, "sm_80"), (256, "sm_80")]
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


PROBE = '''
import json, sys
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
dot = KernelSpec("probe.dot[fp16]", dot_kernel, {"a_ptr": "*fp16", "b_ptr": "*fp16", "c_ptr": "*fp16"}, {},
                 [dict(BLOCK=64, num_warps=4)], tensor_cores=True)
hog = KernelSpec("probe.hog[fp32]", hog_kernel, {"x_ptr": "*fp32", "y_ptr": "*fp32"}, {},
                 [dict(BLOCK=16384, num_warps=1)])
results = {}
for spec, target, sass in ((dot, "sm_80", True), (dot, "sm_90", True), (hog, "sm_80", False)):
    results[f"{spec.name}@{target}"] = aot.compile_config(spec, spec.configs[0], target, sass=sass).to_dict()
# The same cubin again, saved for the parent to read with cuobjdump itself.
src = triton.compiler.ASTSource(fn=dot_kernel, signature={"a_ptr": "*fp16", "b_ptr": "*fp16", "c_ptr": "*fp16",
                                                         "BLOCK": "constexpr"}, constexprs={"BLOCK": 64})
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
    dot90 = data["results"]["probe.dot[fp16]@sm_90"]
    assert dot90["regs"] == r["fields"]["REG"]
    assert dot90["shared"] == data["shared"] + r["fields"]["SHARED"]  # Triton's dynamic + the static part


def test_real_compile_results(probe):
    _, data = probe
    dot80, dot90 = data["results"]["probe.dot[fp16]@sm_80"], data["results"]["probe.dot[fp16]@sm_90"]
    for r, tc in ((dot80, "mma"), (dot90, "wgmma")):
        assert r["compiled"] and r["ok"], r
        assert r["tensor_cores"] == r["expected_tensor_cores"] == tc
        assert r["spills"] == 0 and r["stack"] == 0
        # Two 64x64 fp16 operand tiles staged in shared memory: at least 8 KiB.
        assert 8192 <= r["shared"] <= r["shared_limit"]
    assert dot80["shared_limit"] == 166912 and dot90["shared_limit"] == 232448
    hog = data["results"]["probe.hog[fp32]@sm_80"]
    assert hog["compiled"] and not hog["ok"]
    assert hog["spill_stores"] > 0 and hog["spill_loads"] > 0 and hog["stack"] > 0
    assert hog["problems"] == [f"spills ({hog['spill_stores']} B stores, {hog['spill_loads']} B loads)"]
    assert hog["tensor_cores"] == "-" and hog["expected_tensor_cores"] is None


def test_compile_only_reexecutes_without_the_interpreter(tmp_path, capsys):
    """main() under TRITON_INTERPRET=1 (this process) runs the check in a clean subprocess."""
    from tritensor.autotune.cli import main

    out = tmp_path / "aot.json"
    rc = main(["--compile-only", "--target", "sm_80", "--filter", "reduction.sum[fp32]", "--jobs", "1",
               "--json", str(out)])
    data = json.loads(out.read_text())
    results = [r for r in data["results"] if r["kernel"] == "reduction.sum[fp32]"]
    assert len(results) >= 1 and all(r["compiled"] and r["ok"] and r["target"] == "sm_80" for r in results)
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
