"""`tritensor autotune` / `python -m tritensor.autotune`: AOT checks, tuning runs, the cache.

    --compile-only --target sm_80 [--target sm_90] [--full] [--quick] [--json PATH] [--jobs N]
                   [--sass] [--require-wide] [--no-cache]
        compile every KernelSpec's shipped configs (--full: also its tuning space) for the targets,
        each as the JIT builds an aligned and an unaligned launch, and print registers, spills,
        shared memory, warps per SM, 128-bit vs narrower global accesses, TMA and tensor-core use;
        exit 1 if a shipped config fails to compile, spills, exceeds shared memory or misses its
        tensor-core instructions in either variant (--require-wide: or a memory-bound spec's aligned
        variant has no 128-bit global access).
    --list / --clear / --export PATH / --import PATH
        show / empty / write out / merge in the on-disk cache of tuned winners.
    --kernel NAME|all / --model mlp [--shapes ...] [--dtype ...] [--dry-run] [--json PATH] [--plot PNG]
        the benchmark job; it runs ops, so it lives in `tritensor.benchmark` (`tritensor autotune`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from .space import config_id, dedupe

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tritensor autotune",
        description="Autotune tritensor's Triton kernels, check their configs ahead of time, "
                    "and inspect the tuning cache.")
    aot = p.add_argument_group("ahead-of-time checks (no GPU needed)")
    aot.add_argument("--compile-only", action="store_true",
                     help="compile configs for --target and report their resource use")
    aot.add_argument("--target", action="append", choices=("sm_80", "sm_90"),
                     help="GPU target to compile for (repeatable; default: sm_80 and sm_90)")
    aot.add_argument("--full", action="store_true", help="also compile each spec's tuning space")
    aot.add_argument("--quick", action="store_true",
                     help="a representative sample: the first spec of each Triton kernel, and of each "
                          "tensor-core kernel per operand dtypes")
    aot.add_argument("--filter", action="append", default=[], metavar="TEXT",
                     help="only specs whose name contains TEXT (repeatable)")
    aot.add_argument("--sass", action="store_true",
                     help="read tensor-core use, access widths and instruction counts from the SASS "
                          "(cuobjdump -sass; ~0.3 s more per config) instead of the PTX")
    aot.add_argument("--require-wide", action="store_true",
                     help="fail when a memory-bound spec's aligned variant has no 128-bit global access "
                          "(otherwise reported as a warning)")
    aot.add_argument("--no-cache", action="store_true",
                     help="compile everything again (ignore and do not write the on-disk AOT results)")
    aot.add_argument("--json", metavar="PATH", help="write every result as JSON")
    aot.add_argument("--jobs", type=int, default=None,
                     help="compiler processes (default: the number of CPUs, at most 8)")
    cache = p.add_argument_group("tuning cache")
    cache.add_argument("--list", action="store_true", help="show the cached winners")
    cache.add_argument("--clear", action="store_true", help="delete every cached winner")
    cache.add_argument("--export", metavar="PATH", help="write the cached winners to PATH (to ship with a model)")
    cache.add_argument("--import", dest="import_path", metavar="PATH",
                       help="merge winners from a file written by --export into the cache")
    tune = p.add_argument_group("the benchmark job (times kernels on a GPU; --dry-run also in the interpreter)")
    tune.add_argument("--kernel", help="kernels module to benchmark (e.g. matmul, softmax) or 'all'")
    tune.add_argument("--model", help="tune exactly the launches of one training step of a model: mlp")
    tune.add_argument("--shapes", help="comma-separated shapes, e.g. 4096x4096x4096,128x4096x11008 for matmul "
                                       "(default: each kernel's own)")
    tune.add_argument("--dtype", default=None, help="fp16, bf16, fp32, fp64 or tf32 (default: fp16 for matmul, "
                                                    "else fp32)")
    tune.add_argument("--mode", choices=("1", "max"), default="1",
                      help="1: the default space; max: the wide space")
    tune.add_argument("--dry-run", action="store_true",
                      help="list the launches (kernel, key, config, bytes, FLOPs) without timing")
    tune.add_argument("--plot", metavar="PNG", help="roofline chart and per-kernel config bars (needs matplotlib)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.compile_only:
        return compile_only(args, argv)
    if args.list or args.clear:
        return list_cache(clear=args.clear)
    if args.export or args.import_path:
        return exchange_cache(args.export, args.import_path)
    if wants_benchmark(args):
        print("error: the benchmark job runs tritensor ops: run it as `tritensor autotune " + " ".join(argv) + "`",
              file=sys.stderr)
        return EXIT_USAGE
    parser.print_help()
    return EXIT_USAGE


def wants_benchmark(args: argparse.Namespace) -> bool:
    """True when the arguments ask for the benchmark job (tritensor.benchmark runs it)."""
    return bool(args.kernel or args.model or args.shapes or args.plot or args.dry_run)


# ---------------------------------------------------------------- --compile-only
def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def select_specs(specs: list, quick: bool = False, filters: Sequence[str] = ()) -> list:
    """The specs to check: filtered by name, and for --quick one per kernel (and tensor-core dtype set)."""
    if filters:
        specs = [s for s in specs if any(f in s.name for f in filters)]
    if not quick:
        return specs
    chosen, kernels, tc_groups = [], set(), set()
    for spec in specs:
        kernel = id(spec.kernel)
        group = (kernel, frozenset(t for t in spec.signature.values() if t.startswith("*")))
        if kernel not in kernels or (spec.tensor_cores and group not in tc_groups):
            chosen.append(spec)
        kernels.add(kernel)
        if spec.tensor_cores:
            tc_groups.add(group)
    return chosen


def compile_only(args: argparse.Namespace, argv: list[str]) -> int:
    """The AOT matrix: compile, print the table and summary, write --json; the exit code is the CI verdict."""
    if _interpreting():
        # triton.jit returns interpreted functions under TRITON_INTERPRET=1: compile in a clean process.
        import subprocess

        env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
        return subprocess.run([sys.executable, "-m", "tritensor.autotune", *argv], env=env).returncode
    from . import aot
    from .registry import discover

    if args.no_cache:
        os.environ["TRITENSOR_AOT_CACHE"] = "0"  # before the workers are spawned: they inherit it
    targets = list(dict.fromkeys(args.target or ["sm_80", "sm_90"]))
    found = discover()
    specs = select_specs(found.specs, args.quick, args.filter)
    if not specs:
        print(f"error: no KernelSpec matches {args.filter}", file=sys.stderr)
        return EXIT_USAGE
    work = build_work(specs, targets, args.full)
    if any(not aot.is_compilable(spec.kernel) for spec, *_ in work):
        print("error: kernels are interpreted functions (TRITON_INTERPRET was set when triton was imported); "
              "run `python -m tritensor.autotune --compile-only` in a fresh process", file=sys.stderr)
        return EXIT_USAGE
    jobs = args.jobs or min(os.cpu_count() or 1, 8)
    start = time.perf_counter()
    results = _compile_all(work, jobs, args.sass)
    elapsed = time.perf_counter() - start
    for r, (_, _, _, shipped, _) in zip(results, work):
        r["shipped"] = shipped
    print(format_aot_table(results, args.require_wide))
    summary = summarize(results, targets)
    for target in targets:
        s = summary[target]
        print(f"{target}: {s['compiled']}/{s['configs']} builds compiled ({s['shipped']} shipped), "
              f"{s['failed_shipped']} shipped failing, {s['spilling']} spilling, "
              f"{s['over_shared']} over shared memory, tensor cores {s['tensor_cores_ok']}/"
              f"{s['tensor_cores_required']} as required, {s['tma']} using TMA")
        narrow = s["narrow_specs"]
        if narrow:
            print(f"{target}: {len(narrow)} memory-bound spec(s) without a 128-bit global access in their aligned "
                  f"build ({'failing' if args.require_wide else 'warning; --require-wide fails'}): "
                  + ", ".join(f"{name} ({n})" for name, n in narrow.items()))
    for module, error in found.errors.items():
        print(f"error: {module}: {error}")
    cached = sum(bool(r.get("cached")) for r in results)
    print(f"{len(results)} compilations ({cached} from the AOT cache) in {elapsed:.1f} s with {jobs} process(es)")
    if args.json:
        payload = {"targets": targets, "elapsed_s": round(elapsed, 2), "jobs": jobs, "summary": summary,
                   "require_wide": args.require_wide, "module_errors": found.errors, "results": results,
                   "triton": _triton_version()}
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1, default=str)
    return EXIT_FAIL if failing(results, args.require_wide) or found.errors else EXIT_OK


def build_work(specs: list, targets: list[str], full: bool) -> list[tuple[Any, dict, str, bool, str]]:
    """(spec, config, target, shipped, variant) for every build to check, both variants of each config."""
    from .aot import VARIANTS

    work = []
    for target in targets:
        for spec in specs:
            if spec.targets and target not in spec.targets:  # e.g. a Hopper-only kernel on sm_80
                continue
            shipped = dedupe(spec.configs)
            extra = [c for c in dedupe(spec.space) if c not in shipped] if full else []
            work += [(spec, c, target, c in shipped, v) for c in shipped + extra for v in VARIANTS]
    return work


def failing(results: list[dict], require_wide: bool = False) -> list[dict]:
    """The shipped builds that fail CI: any problem, or (with require_wide) a width warning."""
    return [r for r in results if r["shipped"] and (not r["ok"] or (require_wide and r.get("warnings")))]


def _compile_all(work: list, jobs: int, sass: bool = False) -> list[dict]:
    """Compile every (spec, config, target, shipped[, variant]) of `work`, in order, with a progress bar
    on a terminal's stderr."""
    from . import aot

    with _progress(len(work)) as bar:
        if jobs <= 1 or len(work) <= 1:
            out = []
            for spec, config, target, _, *variant in work:
                out.append(aot.compile_config(spec, config, target, sass, *variant).to_dict())
                bar.update()
            return out
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: a fresh interpreter per worker (never a fork of a process that may hold a CUDA context).
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(aot.compile_by_name, spec.name, config, target, sass, *variant)
                       for spec, config, target, _, *variant in work]
            for _ in as_completed(futures):  # counted as they finish; the results keep the work's order
                bar.update()
            return [f.result() for f in futures]


def _progress(total: int):
    """configs compiled / total, rate and time left on stderr; tqdm stays silent when stderr is no terminal
    (disable=None), so CI logs and captured output see only the report on stdout."""
    from tqdm import tqdm

    return tqdm(total=total, desc="compiling", unit="config", file=sys.stderr, disable=None, mininterval=1.0,
                dynamic_ncols=True)


def summarize(results: list[dict], targets: list[str]) -> dict[str, dict[str, Any]]:
    """Per target: counts of builds, failures by kind, tensor-core and TMA use, and the memory-bound specs
    whose aligned build has no 128-bit global access (spec -> number of such configs)."""
    out: dict[str, dict[str, Any]] = {}
    for target in targets:
        rs = [r for r in results if r["target"] == target]
        required = [r for r in rs if r["expected_tensor_cores"]]
        narrow: dict[str, int] = {}
        for r in rs:
            if r["shipped"] and r.get("warnings"):
                narrow[r["kernel"]] = narrow.get(r["kernel"], 0) + 1
        out[target] = {
            "configs": len(rs),
            "shipped": sum(r["shipped"] for r in rs),
            "compiled": sum(r["compiled"] for r in rs),
            "failed_shipped": sum(r["shipped"] and not r["ok"] for r in rs),
            "spilling": sum(bool(r["spills"]) for r in rs),
            "over_shared": sum(r["compiled"] and r["shared"] > r["shared_limit"] for r in rs),
            "tensor_cores_required": len(required),
            "tensor_cores_ok": sum(r["tensor_cores"] == r["expected_tensor_cores"] for r in required),
            "tma": sum(bool(r.get("tma")) for r in rs),
            "memory_bound_aligned": sum(r["shipped"] and bool(r.get("memory_bound")) and
                                        r.get("variant") == "aligned" for r in rs),
            "narrow_specs": narrow,
        }
    return out


def format_aot_table(results: list[dict], require_wide: bool = False) -> str:
    """One row per build: resources, warps/SM (and what limits them), 128-bit/all global loads and
    stores, TMA instructions, tensor cores, and the verdict."""
    header = ("target", "kernel", "config", "var", "regs", "spills", "shared", "warps/SM", "ld128", "st128",
              "tma", "tc", "ok")
    rows = []
    for r in results:
        warnings = r.get("warnings") or []
        if not r["ok"]:
            status = ("FAIL: " if r["shipped"] else "pruned: ") + "; ".join(r["problems"])
        elif warnings:
            status = ("FAIL: " if r["shipped"] and require_wide else "WARN: ") + "; ".join(warnings)
        else:
            status = "ok"
        access = r.get("access")
        ld = st = tma = "?"
        if access:
            ld = f"{access['ld128']}/{access['ld128'] + access['ld_narrow']}"
            st = f"{access['st128']}/{access['st128'] + access['st_narrow']}"
            tma = f"{access['tma_load']}+{access['tma_store']}" if r.get("tma") else "-"
        warps = "?" if r.get("occupancy_warps") is None else f"{r['occupancy_warps']} {r['occupancy_limit']}"
        rows.append((r["target"], r["kernel"], r["config_name"], r.get("variant", "-")[:1], _cell(r["regs"]),
                     _cell(r["spills"]), _cell(r["shared"]), warps, ld, st, tma, r["tensor_cores"], status))
    return format_table(header, rows)


def _cell(value: Any) -> str:
    return "?" if value is None else str(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:  # the last column is not padded: it holds free text
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + "  " + row[-1])
        if row is cells[0]:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _triton_version() -> str:
    import triton

    return triton.__version__


# ---------------------------------------------------------------- --list / --clear / --export / --import
def exchange_cache(export: str | None, import_path: str | None) -> int:
    """Write the cache's winners to `export` and/or merge those of `import_path` into it."""
    from .cache import TuningCache

    cache = TuningCache()
    try:
        if import_path:
            n = cache.merge_file(import_path)
            print(f"imported {n} entries from {import_path} into {cache.path}")
        if export:
            n = cache.export(export)
            print(f"exported {n} entries from {cache.path} to {export}")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def list_cache(clear: bool = False) -> int:
    from .cache import TuningCache

    cache = TuningCache()
    if clear:
        n = len(cache.entries())
        cache.clear()
        print(f"removed {n} entries from {cache.path}")
        return EXIT_OK
    entries = cache.entries()
    print(f"{cache.path}: {len(entries)} entries")
    if entries:
        rows = [(e["kernel"], e["device"], "sm_{}{}".format(*e["capability"]), e["triton"],
                 json.dumps(e["key"], separators=(",", ":")), config_id(e["config"]),
                 "-" if e.get("time_ms") is None else f"{e['time_ms']:.4f}", e.get("space", "?"),
                 e.get("tuned_at", "")) for e in entries]
        print(format_table(("kernel", "device", "arch", "triton", "key", "config", "ms", "space", "tuned"),
                           rows))
    return EXIT_OK
