"""What `import tritensor` and the autotune entry points load: the layers above ops load on first use."""

import subprocess
import sys

import tritensor as tt


def _loaded_after(code: str) -> set:
    probe = (f"import sys\n{code}\n"
             "print(' '.join(m for m in sys.modules if m.startswith('tritensor.')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={"TRITON_INTERPRET": "1", "PATH": ""})
    return set(result.stdout.split())


def test_autotune_import_and_help_do_not_load_nn_or_run_kernels():
    loaded = _loaded_after("import tritensor.autotune")
    assert "tritensor.autotune" in loaded
    assert not {m for m in loaded if m.startswith(("tritensor.nn", "tritensor.optim", "tritensor.data"))}
    loaded = _loaded_after("import runpy\ntry:\n    runpy.run_module('tritensor.autotune', run_name='__main__', "
                           "alter_sys=True)\nexcept SystemExit:\n    pass\nsys.argv[1:] = []")
    assert "tritensor.autotune.cli" in loaded
    assert not {m for m in loaded if m.startswith(("tritensor.nn", "tritensor.optim", "tritensor.data"))}
    assert "tritensor.autotune.aot" not in loaded  # --help compiles nothing


def test_packages_above_ops_load_on_first_use():
    assert "tritensor.nn" not in _loaded_after("import tritensor")
    assert tt.nn.Linear is __import__("tritensor.nn", fromlist=["Linear"]).Linear
    assert tt.save is tt.io.save and "nn" in dir(tt)
