"""Issue 16's documentation rule for the public functions of the core (``sensekit.*`` but apps and gallery).

Every public module-level function that returns a value (a ``return <expr>`` in its own body, nested
functions not counted, or a return annotation other than None) has a numpydoc ``Returns`` section; a
generator (context managers included) has ``Yields``; every public function that takes parameters
annotates at least one of them.
"""
import ast
import importlib
import inspect
import pkgutil
import re
import textwrap

import sensekit

SKIP = ("sensekit.apps", "sensekit.gallery")
SECTION = re.compile(r"^(Returns|Yields)\n-+$", re.M)


def _public_functions():
    for m in pkgutil.walk_packages(sensekit.__path__, "sensekit."):
        if m.name.startswith(SKIP):
            continue
        mod = importlib.import_module(m.name)
        for name, obj in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != mod.__name__:
                continue
            yield f"{mod.__name__}.{name}", obj


def _returns_and_yields(fn):
    """(returns a value, yields) from the function's own body (not nested functions or classes)."""
    node = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(fn)))).body[0]
    ret = gen = False
    stack = list(ast.iter_child_nodes(node))
    while stack:
        ch = stack.pop()
        if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(ch, (ast.Yield, ast.YieldFrom)):
            gen = True
        if isinstance(ch, ast.Return) and ch.value is not None and not (
                isinstance(ch.value, ast.Constant) and ch.value.value is None):
            ret = True
        stack.extend(ast.iter_child_nodes(ch))
    if node.returns is not None and ast.unparse(node.returns) not in ("None", "'None'", "NoReturn"):
        ret = True
    return ret, gen or inspect.isgeneratorfunction(inspect.unwrap(fn))


FUNCTIONS = sorted(_public_functions())


def test_the_scan_sees_the_core():
    names = dict(FUNCTIONS)
    assert len(FUNCTIONS) > 250, len(FUNCTIONS)
    assert _returns_and_yields(names["sensekit.metrics.nrmse"]) == (True, False)
    assert _returns_and_yields(names["sensekit.io.hdf5.atomic_path"])[1]   # a context manager yields
    assert _returns_and_yields(names["sensekit.io.cfl.write_cfl"]) == (False, False)


def test_public_functions_that_return_document_it():
    missing = []
    for qual, fn in FUNCTIONS:
        ret, gen = _returns_and_yields(fn)
        if not (ret or gen):
            continue
        sections = set(SECTION.findall(inspect.getdoc(fn) or ""))
        if gen and "Yields" not in sections:
            missing.append(f"{qual} (Yields)")
        elif not gen and "Returns" not in sections:
            missing.append(f"{qual} (Returns)")
    assert not missing, f"{len(missing)} public functions without a Returns/Yields section: {missing[:20]}"


def test_public_functions_with_parameters_have_type_hints():
    bare = []
    for qual, fn in FUNCTIONS:
        params = inspect.signature(fn).parameters.values()
        if params and all(p.annotation is inspect.Parameter.empty for p in params):
            bare.append(qual)
    assert not bare, f"{len(bare)} public functions without any parameter annotation: {bare[:20]}"


BASE_CLASSES = ["sensekit.app.base.App", "sensekit.app.runner.SampleSource", "sensekit.io.hdf5.DatasetSpec",
                "sensekit.io.source.LazyArray", "sensekit.io.source.InputSource", "sensekit.linop.base.LinOp",
                "sensekit.prox.base.Prox", "sensekit.solvers.base.Stop"]


def test_methods_of_the_core_base_classes_document_their_returns():
    """The hooks plugin authors implement (subclasses without their own docstring inherit these)."""
    missing = []
    for qual in BASE_CLASSES:
        modname, clsname = qual.rsplit(".", 1)
        cls = getattr(importlib.import_module(modname), clsname)
        for name, fn in vars(cls).items():
            if name.startswith("_") or not inspect.isfunction(fn):  # properties are documented as attributes
                continue
            ret, gen = _returns_and_yields(fn)
            if (ret or gen) and not SECTION.search(fn.__doc__ and inspect.cleandoc(fn.__doc__) or ""):
                missing.append(f"{qual}.{name}")
    assert not missing, f"base-class methods without a Returns section: {missing}"
