"""Pages generated at docs-build time (mkdocs-gen-files), so they cannot go stale.

- `ops.md`: every op the registry binds (`tritensor/ops/*.py`: `__all__` and `METHODS`), with its family
  module, Tensor methods, in-place form and the dtypes it accepts. Dtypes are probed: each op is called
  on tiny cpu tensors of each dtype with a few argument patterns; a dtype is listed when one pattern
  returns. Devices are cpu (the NumPy reference) and cuda (the Triton kernel) for every op, by design.
- `api/ops/<family>.md`: one API page per op family, listing its public functions.
- `contributing.md`: CONTRIBUTING.md with its links rewritten for the site.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import mkdocs_gen_files
import numpy as np

import tritensor as tt
from tritensor.ops import api

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
ROOT = Path(__file__).resolve().parents[1]


def _sample(dtype) -> tt.Tensor:
    return tt.tensor(np.array([[1, 0, 1], [0, 1, 1]])).to(dtype) if dtype is tt.bool else \
        tt.tensor(np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 4.0]])).to(dtype)


def _patterns(x: tt.Tensor) -> list[tuple]:
    """Argument lists that cover the op signatures: unary, binary, dim-taking, index-taking, lists, ternary."""
    index = tt.zeros(2, 3, dtype=tt.int64)
    mask = tt.tensor(np.array([[True, False, True], [False, True, False]]))
    return [(x,), (x, x), (x, 1), (x, 0), (x, x, x), ([x, x],), (x, 0, index), (x, 0, tt.zeros(2, dtype=tt.int64)),
            (x, mask, 0), (x, mask), (x, x.t()), (x, 0, index, x), (mask, x, x), (x, 1, 1), ("ij->ji", x),
            (x, 3), (x, index), (x[0], x[0]), (x, x[0]), (x[0],)]


def _accepts(fn, dtype) -> bool:
    for args in _patterns(_sample(dtype)):
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                fn(*args)
            return True
        except Exception:  # noqa: BLE001 - an unsupported dtype or argument pattern: try the next one
            continue
    return False


def _dtypes(fn) -> str:
    names = [name for name in DTYPES if _accepts(fn, getattr(tt, name))]
    if not names:
        return "(not probed)"
    if names == DTYPES:
        return "all"
    return ", ".join(names)


def _family_rows(module) -> list[str]:
    methods = getattr(module, "METHODS", {})
    rows, seen = [], {}
    for name in getattr(module, "__all__", ()):
        fn = getattr(module, name)
        if name.endswith("_") and name[:-1] in module.__all__:
            continue  # the in-place form, shown with its op
        if id(fn) in seen:
            seen[id(fn)].append(name)
            continue
        seen[id(fn)] = aliases = []
        rows.append((name, fn, aliases))
    lines = []
    for name, fn, aliases in rows:
        bound = sorted(m for m, f in methods.items() if f is fn and not m.startswith("__"))
        inplace = sorted(m for m in methods if m in (f"{n}_" for n in [name, *aliases]))
        ops_name = f"`tt.{name}`" + (" (" + ", ".join(f"`{a}`" for a in aliases) + ")" if aliases else "")
        lines.append(f"| {ops_name} | `{module.__name__.rsplit('.', 1)[-1]}` | "
                     f"{', '.join(f'`{m}`' for m in bound) or '—'} | {', '.join(f'`{m}`' for m in inplace) or '—'} | "
                     f"cpu, cuda | {_dtypes(fn)} |")
    return lines


def _methods_only(module) -> list[str]:
    """Tensor methods of a family that are not also tt functions (x.view_as, x.T, ...)."""
    public = {id(getattr(module, n)) for n in getattr(module, "__all__", ())}
    return sorted(m for m, f in getattr(module, "METHODS", {}).items()
                  if id(f) not in public and not m.startswith("__") and not m.endswith("_"))


def ops_page() -> str:
    out = ["# Supported ops", "",
           "Generated from the op registry (`tritensor/ops/*.py`: `__all__` and `METHODS`) when the docs are built.",
           "Every op runs on `cpu` (its NumPy reference) and `cuda` (its Triton kernel). The dtypes column is",
           "probed on the cpu: each op is called on tiny tensors of each dtype; a dtype is listed when the op accepts",
           "it. \"all\" means " + ", ".join(DTYPES) + ". \"(not probed)\" marks ops whose arguments the probe does",
           "not construct (see the op's own page).", ""]
    for module in api._op_modules():
        rows = _family_rows(module)
        extra = _methods_only(module)
        if not rows and not extra:
            continue
        family = module.__name__.rsplit(".", 1)[-1]
        out += [f"## {family}", "", f"API: [tritensor.ops.{family}](api/ops/{family}.md)", ""]
        if rows:
            out += ["| op (aliases) | family | Tensor method | in-place | devices | dtypes |",
                    "|---|---|---|---|---|---|", *rows, ""]
        if extra:
            out += ["Tensor-only methods and properties: " + ", ".join(f"`{m}`" for m in extra), ""]
    return "\n".join(out)


def family_pages() -> list[str]:
    families = []
    for module in api._op_modules():
        if not getattr(module, "__all__", None):
            continue
        family = module.__name__.rsplit(".", 1)[-1]
        members = "\n".join(f"        - {n}" for n in module.__all__)
        with mkdocs_gen_files.open(f"api/ops/{family}.md", "w") as f:
            f.write(f"# tritensor.ops.{family}\n\n::: {module.__name__}\n    options:\n      members:\n{members}\n")
        families.append(family)
    return families


def contributing_page() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    return re.sub(r"\]\(docs/", "](", text)


with mkdocs_gen_files.open("ops.md", "w") as f:
    f.write(ops_page())
with mkdocs_gen_files.open("contributing.md", "w") as f:
    f.write(contributing_page())
with mkdocs_gen_files.open("api/ops/index.md", "w") as f:
    f.write("# tt: ops by family\n\nEvery function below is also `tt.<name>`; the [supported ops](../../ops.md) page"
            " lists their Tensor methods, devices and dtypes.\n\n"
            + "\n".join(f"- [{fam}]({fam}.md)" for fam in family_pages()) + "\n")


def autotune_page() -> str:
    import inspect

    from tritensor.autotune import cli

    usage = cli.build_parser().format_help()
    return ("# autotune CLI\n\n`python -m tritensor.autotune` (also `tritensor autotune`) tunes every kernel on this "
            "GPU, keeps the winners on disk and prints what was measured; `--compile-only` is the AOT check.\n\n"
            f"```text\n{usage}\n{inspect.getdoc(cli)}\n```\n")


with mkdocs_gen_files.open("api/autotune.md", "w") as f:
    f.write(autotune_page())
