"""Every doctest of the library, collected once: each module of ``sensekit`` (and the apps) that has examples."""
import doctest
import importlib
import pkgutil

import pytest

import sensekit
import sensekit.apps


def _modules():
    names = []
    for pkg in (sensekit, sensekit.apps):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            names.append(info.name)
    return sorted(names)


def _with_examples(name):
    try:
        mod = importlib.import_module(name)
    except ImportError:  # a module behind an optional extra that is not installed
        return False
    return any(t.examples for t in doctest.DocTestFinder().find(mod))


MODULES = [m for m in _modules() if _with_examples(m)]


def test_the_core_has_doctests():
    # the solvers' docstrings carry runnable examples; losing them all would be a regression
    assert sum(m.startswith("sensekit.solvers.") for m in MODULES) >= 10, MODULES


@pytest.mark.parametrize("mod", MODULES)
def test_doctests(mod):
    failures, tried = doctest.testmod(importlib.import_module(mod), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
