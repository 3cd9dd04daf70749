"""Sphinx configuration: the API reference and the gallery (the same scripts that `sensekit gallery` runs).

Build with ``pip install -e ".[docs]"`` then ``sphinx-build -b html docs docs/_build/html``.
"""
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "sensekit"
author = "sensekit developers"
try:
    from sensekit import __version__ as release
except ImportError:  # pragma: no cover - building without the package installed
    release = "unknown"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True

# The API pages: one per package, listing every name the package exports (its __all__; lazily imported
# names included), each with its signature and docstring.  Written at build time into docs/api/.
API_PACKAGES = {
    "sensekit.linop": "Linear operators", "sensekit.prox": "Proximal maps", "sensekit.solvers": "Solvers",
    "sensekit.sim": "Simulators", "sensekit.metrics": "Metrics", "sensekit.io": "Input and output",
    "sensekit.app": "Apps: base class, options, registry, runner", "sensekit.learned": "Learned models",
    "sensekit.core": "Device, dtype and random helpers", "sensekit.host": "The C allocator of a compute process",
    "sensekit.plot": "Plot helpers",
    "sensekit.testing": "Contract checks for plugin authors",
}


def _write_api_pages():
    import importlib
    import inspect
    out = HERE / "api"
    out.mkdir(exist_ok=True)
    for modname, title in API_PACKAGES.items():
        mod = importlib.import_module(modname)
        names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
        head = f"``{modname}`` — {title}"
        lines = [head, "=" * len(head), "", f".. automodule:: {modname}", "   :no-members:", ""]
        for n in names:
            obj = getattr(mod, n)
            if not getattr(obj, "__module__", "").startswith("sensekit") or getattr(obj, "__name__", n) != n:
                continue  # re-exported third-party objects and aliases are documented where they live
            if inspect.isclass(obj):
                lines += [f".. autoclass:: {modname}.{n}", "   :members:", "   :show-inheritance:", ""]
            elif callable(obj):
                lines += [f".. autofunction:: {modname}.{n}", ""]
        (out / f"{modname}.rst").write_text("\n".join(lines) + "\n")
    (HERE / "api.rst").write_text(
        "API reference\n=============\n\nEvery public class and function of the core, by package (the names "
        "each package exports).\n\n.. toctree::\n   :maxdepth: 1\n\n"
        + "".join(f"   api/{m}\n" for m in API_PACKAGES))


_write_api_pages()
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
exclude_patterns = ["_build", "auto_gallery/*.ipynb", "auto_gallery/**/*.py", "auto_gallery/**/*.zip"]
html_theme = "alabaster"

# gallery/README.txt heads the gallery and every gallery/<folder>/ with a README.txt becomes a section,
# so a new app's folder joins without an edit here.
sphinx_gallery_conf = {
    "examples_dirs": ["../gallery"],
    "gallery_dirs": ["auto_gallery"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "plot_gallery": os.environ.get("SENSEKIT_DOCS_PLOT", "True"),
}
if sphinx_gallery_conf["plot_gallery"] == "False":
    # without executed scripts the timing pages would only hold dangling references
    sphinx_gallery_conf["write_computation_times"] = False
