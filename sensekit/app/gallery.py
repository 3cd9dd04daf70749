"""``sensekit gallery``: run every gallery script and write its figures plus an index.html.

Gallery scripts live in ``gallery/<app-or-core>/plot_<topic>.py`` (shipped in
the wheel as the package data of ``sensekit.gallery``; ``$SENSEKIT_GALLERY_DIR``
points elsewhere).  Each runs in its own Python process with the Agg backend
(``plt.show`` does nothing); every figure still open at the end is saved as
``DIR/<folder>/<script>.png`` (``<script>_2.png``, … for more).  A script that
exits with code 77 (see :func:`sensekit.plot.data_file`) is reported as
skipped with its reason; any other failure is reported per script and makes
the command exit non-zero.  Titles and captions come from the scripts'
docstrings (first line, next paragraph), section titles from each folder's
``README.txt`` — the same sources sphinx-gallery reads for ``docs/``.
"""
from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import dataclasses
import fnmatch
import html
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
from typing import Callable, Sequence

SKIP_CODE = 77
_MARK = "SENSEKIT_GALLERY_FIGURES "


@dataclasses.dataclass
class ScriptResult:
    path: str               # absolute path of the script
    rel: str                # folder/plot_x.py
    status: str             # ok | skipped | failed
    seconds: float = 0.0
    figures: list = dataclasses.field(default_factory=list)   # paths relative to the output folder
    message: str = ""


def gallery_root() -> pathlib.Path:
    """The folder holding the gallery's sub-folders (``$SENSEKIT_GALLERY_DIR`` or the installed scripts).

    Returns
    -------
    pathlib.Path
        The gallery folder.
    """
    env = os.environ.get("SENSEKIT_GALLERY_DIR")
    if env:
        return pathlib.Path(env)
    spec = importlib.util.find_spec("sensekit.gallery")
    if spec is None or not spec.submodule_search_locations:
        return pathlib.Path(__file__).resolve().parents[2] / "gallery"
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def find_scripts(only: Sequence[str] = (), root: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Every ``<folder>/plot_*.py`` below the gallery root, sorted; ``only`` filters by glob on ``folder/name``.

    Returns
    -------
    list[pathlib.Path]
        The matching scripts, sorted.
    """
    root = root or gallery_root()
    found = sorted(p for p in root.glob("*/plot_*.py") if p.is_file())
    if only:
        found = [p for p in found if any(fnmatch.fnmatch(f"{p.parent.name}/{p.name}", pat)
                                         or fnmatch.fnmatch(p.name, pat) for pat in only)]
    return found


def describe(text: str) -> tuple[str, str]:
    """(title, caption) of a docstring or README: the first line, and the paragraph after it.

    RST section underlines (``=====``) are ignored, so both plain and
    sphinx-gallery style headers work.

    Returns
    -------
    tuple[str, str]
        The title and the caption (``("", "")`` for an empty text).
    """
    lines = [ln.rstrip() for ln in (text or "").strip().splitlines()]
    lines = [ln for ln in lines if not re.fullmatch(r"\s*([=\-~^\"'`#*+.:_])\1{2,}\s*", ln)]
    if not lines:
        return "", ""
    title = lines[0].strip()
    rest = lines[1:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    para = []
    for ln in rest:
        if not ln.strip():
            break
        para.append(ln.strip())
    return title, " ".join(para)


def script_doc(path: pathlib.Path) -> tuple[str, str]:
    """(title, caption) of a gallery script's module docstring.

    Returns
    -------
    tuple[str, str]
        The title (the file stem when there is none) and the caption.
    """
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, UnicodeDecodeError, OSError):
        doc = None
    title, caption = describe(doc or "")
    return title or path.stem, caption


def _drive() -> None:  # pragma: no cover - runs in the script's own process
    """Entry point of the per-script process: run the script, save every open figure."""
    script, out_folder, stem = sys.argv[1:4]
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    plt.show = lambda *a, **k: None
    sys.argv = [script]
    sys.path.insert(0, os.path.dirname(script))
    import runpy
    runpy.run_path(script, run_name="__main__")
    written = []
    for k, num in enumerate(plt.get_fignums()):
        fig = plt.figure(num)
        name = f"{stem}.png" if k == 0 else f"{stem}_{k + 1}.png"
        tmp = os.path.join(out_folder, f".{name}.tmp")
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        os.replace(tmp, os.path.join(out_folder, name))
        written.append(name)
    plt.close("all")
    print(_MARK + json.dumps(written), flush=True)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def run_script(path: pathlib.Path, out_dir: str, *, quick: bool = False, timeout: float = 900,
               env: dict | None = None) -> ScriptResult:
    """Run one script in a fresh process (cwd: a scratch folder) and collect its figures.

    Returns
    -------
    ScriptResult
        The script's status (ok, skipped or failed), time, figures and message.
    """
    folder = os.path.join(out_dir, path.parent.name)
    os.makedirs(folder, exist_ok=True)
    for old in pathlib.Path(folder).glob(f"{path.stem}*.png"):   # no stale figures from an earlier run
        if re.fullmatch(re.escape(path.stem) + r"(_\d+)?\.png", old.name):
            old.unlink()
    shutil.copyfile(path, os.path.join(folder, path.name))   # the source, linked from the index
    e = dict(os.environ if env is None else env)
    e["MPLBACKEND"] = "Agg"
    if quick:
        e["SENSEKIT_GALLERY_QUICK"] = "1"
    else:
        e.pop("SENSEKIT_GALLERY_QUICK", None)
    scratch = os.path.join(out_dir, ".scratch", path.parent.name, path.stem)
    os.makedirs(scratch, exist_ok=True)
    rel = f"{path.parent.name}/{path.name}"
    cmd = [sys.executable, "-c", "from sensekit.app.gallery import _drive; _drive()", str(path.resolve()),
           os.path.abspath(folder), path.stem]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=scratch, env=e, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return ScriptResult(str(path), rel, "failed", time.perf_counter() - t0,
                            message=f"timed out after {timeout:g} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(scratch))
            os.rmdir(os.path.join(out_dir, ".scratch"))
    secs = time.perf_counter() - t0
    if p.returncode == SKIP_CODE:
        return ScriptResult(str(path), rel, "skipped", secs, message=_last_line(p.stdout + "\n" + p.stderr))
    if p.returncode != 0:
        return ScriptResult(str(path), rel, "failed", secs, message=_last_line(p.stderr) or f"exit code {p.returncode}")
    names = []
    for ln in p.stdout.splitlines():
        if ln.startswith(_MARK):
            names = json.loads(ln[len(_MARK):])
    if not names:
        return ScriptResult(str(path), rel, "failed", secs, message="the script left no open figure")
    return ScriptResult(str(path), rel, "ok", secs, figures=[f"{path.parent.name}/{n}" for n in names])


def run_gallery(scripts: Sequence[pathlib.Path], out_dir: str, *, quick: bool = False, jobs: int = 1,
                timeout: float = 900, on_result: Callable[[ScriptResult], None] | None = None) -> list[ScriptResult]:
    """Run the scripts (``jobs`` at a time) and write ``out_dir/index.html``; returns one result per script.

    Returns
    -------
    list[ScriptResult]
        One result per script, in the order of ``scripts``.
    """
    os.makedirs(out_dir, exist_ok=True)
    results: dict = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        futs = {ex.submit(run_script, s, out_dir, quick=quick, timeout=timeout): s for s in scripts}
        for fut in concurrent.futures.as_completed(futs):
            res = fut.result()
            results[futs[fut]] = res
            if on_result:
                on_result(res)
    ordered = [results[s] for s in scripts]
    write_index(ordered, out_dir, quick=quick)
    return ordered


def _rst_inline(text: str) -> str:
    """HTML-escape, then render ``code`` and `code` spans."""
    t = html.escape(text)
    return re.sub(r"``?([^`]+)``?", r"<code>\1</code>", t)


def write_index(results: Sequence[ScriptResult], out_dir: str, *, quick: bool = False) -> str:
    """``index.html``: one section per gallery folder, each figure with its title, caption and source link.

    Returns
    -------
    str
        The path of the written ``index.html``.
    """
    from .._version import __version__
    sections: dict = {}
    for r in results:
        sections.setdefault(pathlib.Path(r.path).parent, []).append(r)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>sensekit gallery</title>',
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em;color:#222}"
        "figure{margin:1.5em 0;border-top:1px solid #ddd;padding-top:.8em}img{max-width:100%}"
        ".failed{color:#b00}.skipped{color:#a60}.meta{color:#777;font-size:.85em}code{background:#f4f4f4}</style>",
        "</head><body>", "<h1>sensekit gallery</h1>",
        f'<p class="meta">sensekit {html.escape(__version__)} · {time.strftime("%Y-%m-%d %H:%M")}'
        f'{" · quick mode (small sizes, few iterations)" if quick else ""}</p>',
    ]
    for folder, items in sections.items():
        readme = folder / "README.txt"
        title, caption = describe(readme.read_text(encoding="utf-8")) if readme.exists() else (folder.name, "")
        parts.append(f'<h2 id="{html.escape(folder.name)}">{html.escape(title)}</h2>')
        if caption:
            parts.append(f"<p>{_rst_inline(caption)}</p>")
        for r in items:
            t, c = script_doc(pathlib.Path(r.path))
            src = f"{folder.name}/{pathlib.Path(r.path).name}"
            parts.append(f'<figure id="{html.escape(pathlib.Path(r.path).stem)}">')
            parts.append(f"<h3>{html.escape(t)}</h3>")
            for fig in r.figures:
                parts.append(f'<img src="{html.escape(fig)}" alt="{html.escape(t)}">')
            if r.status != "ok":
                parts.append(f'<p class="{r.status}">{r.status}: {html.escape(r.message)}</p>')
            parts.append(f"<figcaption>{_rst_inline(c)} <span class=\"meta\">"
                         f'(<a href="{html.escape(src)}">{html.escape(src)}</a>, {r.seconds:.1f} s)</span>'
                         "</figcaption></figure>")
    parts.append("</body></html>")
    path = os.path.join(out_dir, "index.html")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts) + "\n")
    os.replace(tmp, path)
    return path
