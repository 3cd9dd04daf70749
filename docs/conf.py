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
