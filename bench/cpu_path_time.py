"""CPU time (and wall time) of the cpu path's fused references against bench/test_cpu_path_bench.py's plain-NumPy
baselines, same process, interleaved: softmax, log_softmax, cross_entropy (int64 targets), layer_norm and GELU at
256x4096 fp32, forward and forward + backward, tritensor with one thread and with its default threads.

    OPENBLAS_NUM_THREADS=1 python bench/cpu_path_time.py [--repeat 15] [--json]
    OPENBLAS_NUM_THREADS=1 python bench/cpu_path_time.py --base /tmp/base_tree [--rounds 3] [--warm-heap]
    OPENBLAS_NUM_THREADS=1 python bench/cpu_path_time.py --cases layer_norm,layer_norm_fb  (those cases only)

pytest-benchmark times wall time, which on a shared host counts the time spent waiting for a core; this script
reports process_time (what the code costs: the figure that counts here) beside wall time, as ratios
tritensor / NumPy (<= 1.0: as fast as the best plain NumPy). The baselines are the bench's own functions, so a
faster plain-NumPy formulation there is what this compares against too. CPU time of a threaded run adds every
thread's time: with threads it measures the work, wall time the latency. Page faults per call are shown too: on
this host a first touch of fresh memory costs ~3 us per 4 KiB page (~3 ms per 4 MiB array), as much as a dozen
ufunc passes, and whether a large array is fresh depends on glibc's heap history (trimming), so a difference in
faults between two sides explains most differences in time.

--base DIR: also run this script with PYTHONPATH=DIR (an earlier revision's tree, its `tritensor/kernels` and
`tritensor/autotune` linked to `../kernels`, `../autotune`), alternately with this checkout, `--rounds` times, and
print both sides' ratios and the after / before time ratios (minimum over the rounds).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _baselines():
    spec = importlib.util.spec_from_file_location("cpu_path_bench", HERE / "test_cpu_path_bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cases(b, tt, F) -> dict:
    """name: (numpy callable, tritensor callable), each a no-argument call on 256x4096 fp32 operands (cross_entropy:
    int64 targets in [0, 4096), as the bench's fixture draws them)."""
    import numpy as np

    rng = np.random.default_rng(0)
    m, r = 256, 4096
    x, g = rng.standard_normal((m, r), dtype=np.float32), rng.standard_normal((m, r), dtype=np.float32)
    w, bias = rng.standard_normal(r, dtype=np.float32), rng.standard_normal(r, dtype=np.float32)
    t = rng.integers(0, r, m)
    tx, tg, tw, tb, tt_t = (tt.from_numpy(a) for a in (x, g, w, bias, t))
    lx, lw, lb = (tt.from_numpy(a.copy()).requires_grad_() for a in (x, w, bias))
    eps, shape = b.EPS, (r,)

    def ce_fb():
        loss = F.cross_entropy(lx, tt_t)
        return loss, tt.autograd.grad(loss, (lx,))[0]

    return {
        "softmax": (lambda: b.np_softmax(x), lambda: F.softmax(tx, 1)),
        "softmax_fb": (lambda: b.np_softmax_fb(x, g), lambda: b.tt_fb(lambda a: F.softmax(a, 1), lx, tg)),
        "log_softmax": (lambda: b.np_log_softmax(x), lambda: F.log_softmax(tx, 1)),
        "log_softmax_fb": (lambda: b.np_log_softmax_fb(x, g), lambda: b.tt_fb(lambda a: F.log_softmax(a, 1), lx, tg)),
        "cross_entropy": (lambda: b.np_cross_entropy(x, t), lambda: F.cross_entropy(tx, tt_t)),
        "cross_entropy_fb": (lambda: b.np_cross_entropy_fb(x, t), ce_fb),
        "layer_norm": (lambda: b.np_layer_norm(x, w, bias), lambda: F.layer_norm(tx, shape, tw, tb, eps)),
        "layer_norm_fb": (lambda: b.np_layer_norm_fb(x, w, bias, g),
                          lambda: b.tt_fb(lambda a, wt, bt: F.layer_norm(a, shape, wt, bt, eps), lx, tg, lw, lb)),
        "gelu": (lambda: b.np_gelu(x), lambda: F.gelu(tx)),
        "gelu_fb": (lambda: b.np_gelu_fb(x, g), lambda: b.tt_fb(F.gelu, lx, tg)),
    }


def _time(fn, number: int) -> tuple[float, float, float]:
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(number):
        fn()
    cpu, wall = (time.process_time() - c0) / number, (time.perf_counter() - w0) / number
    return cpu, wall, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / number


def warm_heap() -> None:
    """Free one 16 MiB array first: glibc then serves later arrays under 16 MiB from its heap and trims it only past
    32 MiB free (its dynamic mmap / trim thresholds), as in any program that has held a large array, instead of
    returning 4 MiB arrays to the kernel after a call and faulting them in again on the next, on one side or
    the other, depending on the order of earlier allocations."""
    import numpy as np

    np.ones(4 << 20, np.float32)  # (allocated, touched, freed)


def measure(repeat: int, number: int, names: list[str] | None = None) -> dict:
    """{case: {side: [cpu_ms, wall_ms, page faults]}}, sides numpy / threads-1 / threads-default, each the minimum
    over `repeat` interleaved rounds of `number` calls; `names`: these cases only (default: all)."""
    import tritensor as tt
    import tritensor.nn.functional as F

    cases = _cases(_baselines(), tt, F)
    if names:
        unknown = sorted(set(names) - set(cases))
        if unknown:
            raise SystemExit(f"unknown cases {unknown}; known: {', '.join(cases)}")
        cases = {name: cases[name] for name in names}
    default = tt.get_num_threads()
    best: dict = {}
    for name, (np_fn, tt_fn) in cases.items():
        sides = {"numpy": (np_fn, None), "threads-1": (tt_fn, 1), "threads-default": (tt_fn, default)}
        for fn, _ in sides.values():
            fn()  # warm up: first-use costs (imports, pools, caches)
        got = {side: [float("inf")] * 3 for side in sides}
        for _ in range(repeat):
            for side, (fn, threads) in sides.items():
                if threads is not None:
                    tt.set_num_threads(threads)
                fn()  # untimed: the heap as this side leaves it, not as the previous side did (glibc's trimming)
                cpu, wall, faults = _time(fn, number)
                got[side] = [min(got[side][0], cpu * 1e3), min(got[side][1], wall * 1e3), min(got[side][2], faults)]
        tt.set_num_threads(default)
        best[name] = got
    return best


def _report(best: dict, title: str) -> None:
    print(f"{title}: ms per call (cpu / wall), ratio to NumPy (cpu / wall), [page faults per call]")
    for name, got in best.items():
        base = got["numpy"]
        cols = [f"numpy {base[0]:6.2f} / {base[1]:6.2f} [{base[2]:5.0f}]"]
        for side in ("threads-1", "threads-default"):
            t = got[side]
            ratio = f"{t[0] / base[0]:4.2f} / {t[1] / base[1]:4.2f}"
            cols.append(f"{side} {t[0]:6.2f} / {t[1]:6.2f} = {ratio} [{t[2]:5.0f}]")
        print(f"  {name:15s} " + "   ".join(cols))


def _run_side(pythonpath: str | None, repeat: int, number: int, warm: bool, cases: str | None) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("TRITON_INTERPRET", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    flags = (["--warm-heap"] if warm else []) + (["--cases", cases] if cases else [])
    out = subprocess.run([sys.executable, __file__, "--json", "--repeat", str(repeat), "--number", str(number), *flags],
                         check=True, capture_output=True, text=True, env=env, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _merge(runs: list[dict]) -> dict:
    return {name: {side: [min(r[name][side][i] for r in runs) for i in range(3)] for side in runs[0][name]}
            for name in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--number", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON line (what --base reads)")
    parser.add_argument("--base", help="an earlier revision's tree, run alternately with this one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm-heap", action="store_true", help="free a 16 MiB array first (see warm_heap)")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    args = parser.parse_args()
    if args.warm_heap:
        warm_heap()
    if args.base is None:
        best = measure(args.repeat, args.number, args.cases.split(",") if args.cases else None)
        if args.json:
            print(json.dumps(best))
        else:
            _report(best, "this checkout")
        return 0
    runs: dict = {"before": [], "after": []}
    for _ in range(args.rounds):
        runs["before"].append(_run_side(args.base, args.repeat, args.number, args.warm_heap, args.cases))
        runs["after"].append(_run_side(None, args.repeat, args.number, args.warm_heap, args.cases))
    before, after = _merge(runs["before"]), _merge(runs["after"])
    _report(before, f"before ({args.base})")
    _report(after, "after (this checkout)")
    print("after / before, tritensor time (cpu / wall)")
    for name in after:
        cols = [f"{side} {after[name][side][0] / before[name][side][0]:5.2f} / "
                f"{after[name][side][1] / before[name][side][1]:5.2f}" for side in ("threads-1", "threads-default")]
        print(f"  {name:15s} " + "   ".join(cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
