"""The solver modules import without cycles: each one alone, in a fresh interpreter."""
import pkgutil
import subprocess
import sys

import pytest

import sensekit.solvers

MODULES = sorted(i.name for i in pkgutil.iter_modules(sensekit.solvers.__path__, "sensekit.solvers."))


def test_every_solver_module_imports_first_in_a_fresh_process():
    # a module that is part of an import cycle fails (or half-initialises) when it is the first one imported
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    for m in MODULES:
        p = subprocess.run([sys.executable, "-c", code, m], capture_output=True, text=True)
        assert p.returncode == 0, f"{m}: {p.stderr[-800:]}"


@pytest.mark.parametrize("path", ["sensekit/solvers/problems.py"])
def test_problems_import_cg_at_module_level(path):
    import pathlib
    text = (pathlib.Path(sensekit.__file__).parent.parent / path).read_text()
    assert "        from .cg import" not in text and "from .krylov import cg_iterate" in text
