"""The remembered plans of dense elementwise launches (kernels/elementwise_flat.py: launch_planned, remember_plan).

A plan repeats a whole contiguous launch of one output (its tuning key and config, its bulk/tail split, its direct
launches) keyed by what decides them: OP, the shape, the dtypes, which pointers are 16-byte aligned and the
scalars' facts. These tests run compiled kernels on the stub driver (a subprocess without TRITON_INTERPRET) and
check that a planned launch passes the kernel exactly what Triton's own path passes it, that launches which differ
in any of the key's facts never share a plan, and that a plan refuses whenever the general path must run
(observers, dry runs, launch hooks, the cached path off, forgotten launches, another config chosen).
"""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json
import numpy as np
from triton import knobs
from tritensor import dtypes
from tritensor.kernels import elementwise as E, elementwise_flat as EF, launcher as L, tuning
from tritensor.kernels.device_array import host_array

general = []  # one entry per launch through the general path's flat launch (a planned launch adds none)
_flat = E.launch_flat


def counting(*args, **kwargs):
    general.append(1)
    return _flat(*args, **kwargs)


E.launch_flat = counting
TYPES = {"float32": dtypes.float32, "float16": dtypes.float16}


def arrays(n, k=3, offset=0, dtype="float32", step=1):
    base = [(np.arange(step * n + 8) * (i + 1)).astype(dtype) for i in range(k)]
    return [host_array(b[offset:offset + step * n:step], TYPES[dtype]) for b in base]


def kernels():
    return [(name, k) for name, fn in (("flat", EF.flat_map_kernel), ("strided", E.map_kernel))
            for k in fn.device_caches[0][0].values()]


def launches(call):
    # (kernel, its arguments as a launch reads them: pointers as addresses), per launch; metadata left out
    for _, k in kernels():
        k.run.calls.clear()
    before = len(general)
    call()
    found = [[name + str(i), [x.data_ptr() if hasattr(x, "data_ptr") else x for x in c[:6] + c[7:]]]
             for i, (name, k) in enumerate(kernels()) for c in k.run.calls]
    kinds = sorted({type(v).__name__ for _, k in kernels() for c in k.run.calls for v in c[9:14]})
    return {"launches": found, "general": len(general) - before, "kinds": kinds}


def compare(make, call):
    # Triton's path (the cached path off), then a first launch on other buffers with the same facts (remembered,
    # planned), then the planned launch on the first buffers.
    operands = make()
    L.set_enabled(False)
    theirs = launches(lambda: call(*operands))
    L.set_enabled(True)
    first = launches(lambda: call(*make()))
    plans = len(EF._PLANS)
    mine = launches(lambda: call(*operands))
    return {"same": mine["launches"] == theirs["launches"], "first_general": first["general"],
            "general": mine["general"], "kinds": mine["kinds"], "n": len(mine["launches"]),
            "new_plans": len(EF._PLANS) - plans}


out = {}
with L.stub_driver(90):
    for n in (1030, 8, 2048):
        out[f"add{n}"] = compare(lambda: arrays(n), E.add)
    out["add_alpha_float"] = compare(lambda: arrays(1030), lambda o, a, b: E.add(o, a, b, 2.5))
    out["add_alpha_int"] = compare(lambda: arrays(8), lambda o, a, b: E.add(o, a, b, -1))
    out["add_alpha_int16"] = compare(lambda: arrays(8), lambda o, a, b: E.add(o, a, b, 16))
    out["add_alpha_int64"] = compare(lambda: arrays(8), lambda o, a, b: E.add(o, a, b, 2 ** 40))
    out["neg"] = compare(lambda: arrays(1030, 2), E.neg)
    out["mul_fp16"] = compare(lambda: arrays(1030, dtype="float16"), E.mul)
    out["copy_fp32_fp16"] = compare(lambda: [arrays(9, 1, dtype="float16")[0], arrays(9, 1)[0]], E.copy)
    # Same shape and dtypes as add8, one operand misaligned: another specialisation, another plan.
    out["add8_misaligned"] = compare(lambda: arrays(8)[:2] + arrays(8, offset=1)[2:], E.add)
    # Same numel as add8, another shape: another plan, the same kernels.
    out["add_2x4"] = compare(lambda: [a.view_as((2, 4), (4, 1)) for a in arrays(8)], E.add)
    # Same shape, dtypes and alignment as add8 but every operand strided (not dense): never add8's plan.
    out["add8_strided"] = compare(lambda: arrays(8, step=2), E.add)

    o, a, b = arrays(1030)
    E.add(o, a, b)  # planned from here on
    records = []
    tuning.add_observer(records.append)
    # Twice each: the general path's launch under an observer or a dry run must not leave a plan that serves the next.
    out["observed"] = [launches(lambda: E.add(o, a, b))["general"] for _ in range(2)], len(records)
    tuning.remove_observer(records.append)
    old = tuning.set_dry_run(True)
    dry = [launches(lambda: E.add(o, a, b)) for _ in range(2)]
    tuning.set_dry_run(old)
    out["dry_run"] = [d["general"] for d in dry], [len(d["launches"]) for d in dry]
    hook = lambda metadata: None
    knobs.runtime.launch_enter_hook.add(hook)
    hooked = launches(lambda: E.add(o, a, b))
    knobs.runtime.launch_enter_hook.remove(hook)
    metadata = [c[6] is not None for _, k in kernels() for c in k.run.calls]
    out["hooked"] = hooked["general"], metadata
    # A plan whose tokens no longer match (as after any change they stand for), or a key that holds another op's
    # plan: the general path, which makes the plan again; then the plan.
    mine = [k for k in EF._PLANS if k[0] == id(E._add_no_alpha) and k[1] == (1030,)]
    other = next(k for k in EF._PLANS if k[0] != id(E._add_no_alpha))
    breaks = {"tuned": lambda k: setattr(EF._PLANS[k], "tuned", object()),
              "launched": lambda k: setattr(EF._PLANS[k], "launched", object()),
              "key": lambda k: EF._PLANS.__setitem__(k, EF._PLANS[other])}
    out["broken"] = {}
    for name, damage in breaks.items():
        for k in mine:
            damage(k)
        out["broken"][name] = [launches(lambda: E.add(o, a, b))["general"] for _ in range(2)]
    EF.flat_map_kernel.clear_launches()
    out["forgotten"] = [launches(lambda: E.add(o, a, b))["general"] for _ in range(3)]
    # Another config chosen (a selector installed forgets every choice): the next launch makes its plan.
    config = dict(BLOCK=512, num_warps=4, maxnreg=128)
    tuning.install_selector(lambda tunable, key, sizes, run, repeatable: (dict(config), True))
    chosen = [launches(lambda: E.add(o, a, b)) for _ in range(3)]
    L.set_enabled(False)
    theirs = launches(lambda: E.add(o, a, b))
    L.set_enabled(True)
    tuning.install_selector(None)
    out["selector"] = ([c["general"] for c in chosen], chosen[2]["launches"] == theirs["launches"],
                       [args[13] for _, args in theirs["launches"]])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def planned():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITENSOR_AUTOTUNE"] = "0"  # the heuristic configs (no GPU to time on)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case,n", [("add1030", 2), ("add8", 1), ("add2048", 1), ("add_alpha_float", 2),
                                    ("add_alpha_int", 1), ("add_alpha_int16", 1), ("neg", 2), ("mul_fp16", 1),
                                    ("copy_fp32_fp16", 1), ("add8_misaligned", 1), ("add_2x4", 1)])
def test_a_planned_launch_passes_what_tritons_path_passes(planned, case, n):
    # A planned launch (no general launch) runs the kernels of Triton's path with its arguments (pointers as
    # addresses), on other buffers than those its plan was made from, and makes no new plan.
    result = dict(planned[case])
    del result["first_general"]
    assert result == {"same": True, "general": 0, "kinds": ["int"], "n": n, "new_plans": 0}


def test_launches_of_other_facts_do_not_share_a_plan(planned):
    # The first launch of a key goes the general way (it makes the plan): a new add, new scalars' kinds (a float
    # alpha is another OP; int alphas other facts), another OP, other dtypes and one misaligned operand.
    for case in ("add1030", "add_alpha_float", "add_alpha_int", "add_alpha_int16", "neg", "mul_fp16",
                 "copy_fp32_fp16", "add8_misaligned"):
        assert planned[case]["first_general"] == 1, case


def test_what_a_plan_cannot_state_takes_the_general_path(planned):
    # An int scalar past 32 bits is specialised by Triton's own binder: no plan, the general path every time.
    assert planned["add_alpha_int64"]["general"] == 1 and planned["add_alpha_int64"]["same"]
    # Dense-looking but strided operands of a planned shape/dtype/alignment: the strided kernel, never the plan.
    strided = planned["add8_strided"]
    assert strided["same"] and strided["general"] == 0 and strided["n"] == 1 and strided["kinds"] == ["DeviceArray"]


def test_a_plan_refuses_where_the_general_path_must_run(planned):
    assert planned["observed"] == [[1, 1], 2]  # an observer sees each launch: the general path, through tuning.launch
    assert planned["dry_run"] == [[1, 1], [0, 0]]  # a dry run launches nothing
    assert planned["hooked"] == [1, [True, True]]  # a launch hook gets its metadata (fast_jit's path)
    # Forgotten launches: Triton's path and a new direct launch and plan, then the plan again.
    assert planned["forgotten"] == [1, 0, 0]


def test_a_plan_with_a_broken_token_or_key_is_refused_and_made_again(planned):
    assert planned["broken"] == {"tuned": [1, 0], "launched": [1, 0], "key": [1, 0]}


def test_a_newly_chosen_config_gets_its_own_plan(planned):
    general, same, counts = planned["selector"]
    # The selector's choice is made by the general path, whose launch makes the plan of that choice: 1024 of 1030
    # elements in two 512-wide programs and a tail of 6, as on Triton's path.
    assert general == [1, 0, 0] and same and counts == [1024, 6]
