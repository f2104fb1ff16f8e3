"""`tritensor selftest`: its quick variant runs in Triton's interpreter (every op family and the MLP step
against the cpu path, launch counts), names each part only a real GPU can run as skipped with why, and
reports a failing check without stopping the others."""

import argparse
import json
import os
import subprocess
import sys

import pytest

import tritensor as tt
from tritensor import selftest
from tritensor.benchmark.workloads import WORKLOADS, Workload

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TRITON_INTERPRET": "1"}
GPU_ONLY = {"triton launcher", "streams and events", "event timer", "tuning run", "nccl collectives"}


def test_quick_selftest_in_the_interpreter_checks_every_op_family(tmp_path):
    report_path = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "tritensor", "selftest", "--report", str(report_path)],
                          capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(report_path.read_text())
    assert report["interpreter"] is True and report["quick"] is True
    checks = {c["name"]: c for c in report["checks"]}
    ops = {name.split()[1]: c for name, c in checks.items() if name.startswith("op ")}
    assert set(ops) == set(WORKLOADS)
    assert all(c["status"] == "ok" for c in ops.values()), ops
    assert checks["training step mlp"]["status"] == "ok"
    assert checks["device memory"]["status"] == "ok"
    skipped = {name for name, c in checks.items() if c["status"] == "skipped"}
    assert skipped == GPU_ONLY
    assert all(checks[name]["detail"] for name in skipped)  # each says why
    counts = report["launches_per_step"]["mlp"]
    # Two linear layers, a ReLU, the loss and Adam over four parameters: more launches than autograd nodes.
    assert counts["graph_nodes"] >= 5 and counts["kernel_launches"] > counts["graph_nodes"]
    assert report["summary"] == {"ok": len(checks) - len(GPU_ONLY), "failed": 0, "skipped": len(GPU_ONLY)}
    assert f"{len(checks) - len(GPU_ONLY)} ok, 0 failed" in done.stdout


def _broken(shape, dtype, device):
    x = tt.ones(*shape, device=device)
    # Wrong on cuda only: the check must see the devices disagree.
    return (lambda: x * 2) if device == "cuda" else (lambda: x)


def test_a_failing_check_is_reported_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    workloads = {"elementwise": WORKLOADS["elementwise"],
                 "broken": Workload("broken", "x * 2", 2, ((4, 4),), _broken, ("fp32",))}
    monkeypatch.setattr(selftest, "WORKLOADS", workloads)
    monkeypatch.setattr(selftest, "MODELS", {})
    report_path = tmp_path / "report.json"
    status = selftest.main(argparse.Namespace(quick=True, report=str(report_path), device="cuda"))
    assert status == selftest.EXIT_FAIL
    report = json.loads(report_path.read_text())
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["op broken 7x33 fp32"]["status"] == "failed"
    assert "broken (7, 33) fp32" in checks["op broken 7x33 fp32"]["detail"]
    assert "op broken 7x33 fp32" in report["tracebacks"]
    assert checks["op elementwise 7x33 fp32"]["status"] == "ok"
    assert report["summary"]["failed"] == 1
    assert "FAILED   op broken" in capsys.readouterr().out


def test_without_a_gpu_or_the_interpreter_it_says_how_to_run(tmp_path):
    env = {**ENV, "TRITON_INTERPRET": "0"}
    done = subprocess.run([sys.executable, "-m", "tritensor", "selftest", "--report", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=120, env=env)
    if done.returncode == 0:
        pytest.skip("a GPU is present: the real self test ran")
    assert done.returncode == 2
    assert "no CUDA GPU is available" in done.stderr and "TRITON_INTERPRET=1" in done.stderr
    assert not (tmp_path / "r.json").exists()
