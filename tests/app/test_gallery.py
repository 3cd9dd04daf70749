"""`sensekit gallery`: every script runs (quick mode), figures and index.html are written, failures are reported."""
import ast
import html
import pathlib
import re

import pytest
from click.testing import CliRunner

from sensekit.app.gallery import describe, find_scripts, gallery_root, script_doc
from sensekit.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPTS = find_scripts()


def test_gallery_root_is_the_checkout_folder_and_has_scripts():
    assert gallery_root().resolve() == (ROOT / "gallery").resolve()
    names = {f"{p.parent.name}/{p.name}" for p in SCRIPTS}
    for required in ("mri_recon/plot_rat_cine_methods.py", "mri_recon/plot_yt_profiles.py",
                     "mri_recon/plot_coil_maps.py", "mri_recon/plot_sampling_masks.py",
                     "mri_recon/plot_convergence.py", "core/plot_solver_convergence.py"):
        assert required in names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_scripts_follow_the_gallery_convention(script):
    """sphinx-gallery format: a docstring with a title and a caption, ``# %%`` cells, ending in ``plt.show()``."""
    src = script.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(src))
    title, caption = describe(doc or "")
    assert title and caption, "docstring needs a title line and a caption paragraph"
    head = (doc or "").strip("\n").splitlines()
    assert len(head) > 1 and set(head[1].strip()) == {"="} and len(head[1].strip()) >= len(head[0].strip()), \
        "the title needs an '=' underline at least as long (sphinx-gallery takes the page title from it)"
    assert "# %%" in src
    assert src.rstrip().endswith("plt.show()")
    assert "SENSEKIT_GALLERY_QUICK" in src or "quick()" in src or "# gallery: no quick mode" in src, \
        "needs a quick mode for CI (or a '# gallery: no quick mode' comment saying why it needs none)"
    assert (script.parent / "README.txt").exists(), "each gallery folder needs a README.txt (sphinx-gallery)"


def test_gallery_quick_writes_every_figure_and_the_index(tmp_path):
    out = tmp_path / "g"
    r = CliRunner().invoke(main, ["gallery", "-o", str(out), "--quick"])
    assert r.exit_code == 0, r.output
    page = (out / "index.html").read_text(encoding="utf-8")
    for script in SCRIPTS:
        folder = out / script.parent.name
        title, caption = script_doc(script)
        row = next(ln for ln in r.output.splitlines() if ln.endswith(f"{script.parent.name}/{script.name}")
                   or f"{script.parent.name}/{script.name} (" in ln)
        if row.startswith("skipped"):   # only for real data that is absent here
            assert "real data" in row and "not found" in row
            continue
        assert row.startswith("ok"), row
        pngs = sorted(folder.glob(f"{script.stem}*.png"))
        assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
        assert html.escape(title) in page
        assert f'src="{script.parent.name}/{pngs[0].name}"' in page
        assert (folder / script.name).read_text(encoding="utf-8") == script.read_text(encoding="utf-8")
    assert "quick mode" in page and not (out / ".scratch").exists()


GOOD = '''"""
Two figures
===========

Caption with ``code``.
"""
import matplotlib.pyplot as plt
plt.figure(); plt.plot([0, 1])
plt.figure(); plt.plot([1, 0])
plt.show()
'''


def test_failures_and_skips_are_reported_per_script(tmp_path, monkeypatch):
    g = tmp_path / "gal" / "demo"
    g.mkdir(parents=True)
    (g / "README.txt").write_text("Demo section\n============\n\nSection caption.\n")
    (g / "plot_a_good.py").write_text(GOOD)
    (g / "plot_b_raises.py").write_text('"""Broken\n\nIt raises."""\nraise RuntimeError("boom")\n')
    (g / "plot_c_no_data.py").write_text('"""No data\n\nSkips."""\nfrom sensekit.plot import data_file\n'
                                         'data_file("no/such/file.mat")\n')
    (g / "plot_d_no_figure.py").write_text('"""Nothing\n\nDraws nothing."""\nx = 1\n')
    (g / "helper.py").write_text("x = 1\n")   # not a plot_ script: not run
    monkeypatch.setenv("SENSEKIT_GALLERY_DIR", str(tmp_path / "gal"))
    out = tmp_path / "out"
    (out / "demo").mkdir(parents=True)
    (out / "demo" / "plot_a_good_3.png").write_bytes(b"stale")   # left by an earlier run: removed
    r = CliRunner().invoke(main, ["gallery", "-o", str(out), "--jobs", "2"])
    assert r.exit_code == 1
    assert re.search(r"ok .* demo/plot_a_good.py", r.output)
    assert re.search(r"failed .* demo/plot_b_raises.py \(RuntimeError: boom\)", r.output)
    assert re.search(r"skipped .* demo/plot_c_no_data.py \(skipped: real data no/such/file.mat not found", r.output)
    assert re.search(r"failed .* demo/plot_d_no_figure.py \(the script left no open figure\)", r.output)
    assert "1 ok, 1 skipped, 2 failed" in r.output
    assert sorted(p.name for p in (out / "demo").glob("*.png")) == ["plot_a_good.png", "plot_a_good_2.png"]
    page = (out / "index.html").read_text()
    assert "<h2 id=\"demo\">Demo section</h2>" in page and "Section caption." in page
    assert "Caption with <code>code</code>." in page and "failed: RuntimeError: boom" in page
    r = CliRunner().invoke(main, ["gallery", "-o", str(out), "--only", "demo/plot_a*"])
    assert r.exit_code == 0 and "1 ok, 0 skipped, 0 failed" in r.output
    r = CliRunner().invoke(main, ["gallery", "-o", str(out), "--only", "nothing*"])
    assert r.exit_code == 3 and "no gallery scripts match" in r.output


@pytest.mark.parametrize("text,expected", [
    ("Title\n=====\n\nFirst paragraph\ncontinues.\n\nSecond.", ("Title", "First paragraph continues.")),
    ("\nPlain title\n\nCaption.", ("Plain title", "Caption.")),
    ("Only a title", ("Only a title", "")),
    ("", ("", "")),
])
def test_describe(text, expected):
    assert describe(text) == expected


def test_docs_conf_builds_the_same_gallery():
    ns = {"__file__": str(ROOT / "docs" / "conf.py")}
    exec(compile((ROOT / "docs" / "conf.py").read_text(), str(ROOT / "docs" / "conf.py"), "exec"), ns)
    conf = ns["sphinx_gallery_conf"]
    assert [pathlib.Path(ROOT / "docs" / d).resolve() for d in conf["examples_dirs"]] == [(ROOT / "gallery").resolve()]
    assert "sphinx_gallery.gen_gallery" in ns["extensions"]
