"""Cost of one mri-recon iteration against its physical floor, this tree A/B against a git revision.

Case: an 8 x 4 x 96 x 96 (T, C, Y, X) problem: random complex coil maps (normalised to unit root sum of
squares), a radial mask at acceleration 8 from ``sensekit.sim.masks.sampling_mask`` (seed 0), k-space of a
random complex series, normalised like ``benchmarks/mri_recon_v2.py`` (zero-filled peak 1).

Methods:

* ``tv``: ``apps/mri_recon/methods.py::tv`` (PDHG, data term dualised, spatial + temporal TV, preconditioned);
* ``llr``: ``methods.llr`` (FISTA + ``LocallyLowRank``, B = 8, random shifts);
* ``llr-tv``: ``methods.llr_tv`` where the revision has it, else the same PDHG built here from the core
  API: the four terms [(SquaredL2(1, y), E), spatial TV, temporal TV, (LocallyLowRank(random shifts), Identity)].

Each runs ``--iters`` iterations (tol 0, check_every 5, as the benchmark calls them), ``--repeats`` times;
the time per iteration is the median ``time.process_time`` of a run divided by its iterations (the set-up,
Eᴴy and the step sizes, is inside, as in results_v2.md).  The floor is 2 FFTs of the (T, C, Y, X)
complex64 k-space (``ifft2(fft2(k))``) plus, for the LLR methods, one batched SVD of every 8 x 8 block
Casorati matrix (``torch.linalg.svd`` of (n_blocks, 64, T) complex64), timed alone (median of 20) in the
same process, before and after the iterations (the lower FFT timing counts).  The two revisions run in
alternating child processes (``--rounds``), one thread each; the final images of each method are compared
(``allclose`` rtol 1e-5 against the reference revision).  ``--allocator cli`` (the default) sets the C
allocator in each child as the ``sensekit`` command does (:func:`sensekit.host.keep_freed_memory`,
where the revision has it), ``--allocator system`` leaves glibc's default.

Run::

    OMP_NUM_THREADS=1 python benchmarks/mri_iter_floor.py [--ref main] [--rounds 3] [--repeats 5]

writes ``benchmarks/mri/iter_floor.json`` and ``benchmarks/mri/iter_floor.md``.
"""
from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import pathlib
import platform
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "mri"
SHAPE = (8, 4, 96, 96)
METHOD_NAMES = ("tv", "llr", "llr-tv")


def _med(ts):
    ts = sorted(ts)
    return ts[len(ts) // 2]


def make_problem(torch):
    """(E, y) of the benchmark case."""
    from sensekit.apps.mri_recon.model import forward_model
    from sensekit.sim.masks import sampling_mask
    T, C, Y, X = SHAPE
    g = torch.Generator().manual_seed(0)
    maps = torch.randn(C, Y, X, dtype=torch.complex64, generator=g)
    maps = maps / maps.abs().pow(2).sum(0).sqrt()
    mask = sampling_mask("radial", T, (Y, X), 8.0, generator=torch.Generator().manual_seed(0))
    E = forward_model(maps, mask, T)
    x = torch.randn(T, Y, X, dtype=torch.complex64, generator=g)
    k = E(x) + 0.01 * E(torch.randn(T, Y, X, dtype=torch.complex64, generator=g))
    return E, k / float(E.H(k).abs().max())


def llr_tv(E, y, cfg, *, callbacks=()):
    """PDHG on ½‖E x − y‖² + spatial TV + temporal TV + LLR (the terms of the planned ``llr-tv`` method)."""
    import torch
    from sensekit.apps.mri_recon import params
    from sensekit.linop import Identity
    from sensekit.prox import LocallyLowRank, SquaredL2, Zero
    from sensekit.solvers import PDHG, MaxIter, PrimalDual, solve, tv_term
    shape = E.in_shape
    x0 = E.H(y)
    ref = LocallyLowRank(1.0, block=8, shift=(0, 0)).block_smax(x0)
    g = LocallyLowRank(0.001 * ref, block=8, shift="random", generator=torch.Generator().manual_seed(0))
    terms = [(SquaredL2(1.0, y), E), tv_term(shape, 0.003, axes=(-2, -1)), tv_term(shape, 0.0025, axes=(-3,)),
             (g, Identity(shape))]
    res = solve(PDHG(precondition=True, ratio=params.PDHG_RATIO), PrimalDual(Zero(), terms), x0=x0,
                stop=MaxIter(cfg.max_iter), callbacks=callbacks, check_every=cfg.check_every)
    return res.x, res.iterations, {}


def floor(torch, reps=20):
    """(2-FFT seconds, 8 x 8 block-SVD seconds): the same timer as the v2 benchmark's iteration floor."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.mri_recon_v2 import iteration_floor
    return iteration_floor(SHAPE, block=8, reps=reps)


def child(iters, repeats, save, profile=None, allocator="cli"):
    """Time the methods in this process (whichever ``sensekit`` it imports); print one JSON line.

    ``allocator="cli"``: set the C allocator as the ``sensekit`` command does (``sensekit.host``), where
    the revision has that; ``"system"``: leave glibc's default."""
    import torch
    torch.set_num_threads(1)
    kept = False
    if allocator == "cli":
        try:
            from sensekit.host import keep_freed_memory
        except ImportError:
            keep_freed_memory = None
        kept = bool(keep_freed_memory and keep_freed_memory())
    from sensekit.apps.mri_recon import methods
    from sensekit.apps.mri_recon.app import Config
    E, y = make_problem(torch)
    # the app's llr-tv where the revision has it (the same four terms and weights as llr_tv above)
    fns = {"tv": methods.tv, "llr": methods.llr, "llr-tv": getattr(methods, "llr_tv", llr_tv)}
    out, images = {"floor_fft_s": None}, {}
    out["llr_tv_from"] = "methods.llr_tv" if hasattr(methods, "llr_tv") else "benchmark llr_tv"
    out["allocator"] = "freed memory kept (sensekit.host)" if kept else "glibc default"
    fft, svd = floor(torch)
    out["floor_fft_s"], out["floor_svd_s"] = fft, svd
    for name in METHOD_NAMES:
        cfg = Config(method=name if name != "llr-tv" or hasattr(methods, "llr_tv") else "tv", tol=0,
                     max_iter=iters, check_every=5)
        fn = fns[name]
        fn(E, y, cfg)
        ts = []
        for _ in range(repeats):
            t0 = time.process_time()
            x, it, _ = fn(E, y, cfg)
            ts.append((time.process_time() - t0) / it)
        out[name] = {"s_per_iter": _med(ts), "all": ts, "iterations": it}
        images[name] = x
        if profile:
            import cProfile
            import pstats
            pr = cProfile.Profile()
            pr.enable()
            fn(E, y, cfg)
            pr.disable()
            s = io.StringIO()
            pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(18)
            print(f"--- {name}\n{s.getvalue()}", file=sys.stderr)
    out["fft_floor_fresh_s"] = floor(torch)[0]
    torch.save(images, save)
    print("RESULT " + json.dumps(out), flush=True)


def extract(rev, where):
    """The ``sensekit`` and ``apps`` trees of ``rev`` under ``where`` (apps linked as ``sensekit/apps``)."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "sensekit", "apps"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
        tf.extractall(where, filter="data")
    os.symlink(os.path.join(where, "apps"), os.path.join(where, "sensekit", "apps"))
    return where


def run_child(pythonpath, iters, repeats, save, allocator="cli"):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p))
    code = (f"import sensekit; "
            f"assert sensekit.__file__.startswith({(pythonpath or str(ROOT))!r}), sensekit.__file__; "
            f"from benchmarks.mri_iter_floor import child; "
            f"child({iters}, {repeats}, {save!r}, allocator={allocator!r})")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=pythonpath or ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref", default="main", help="git revision to compare against (default main)")
    p.add_argument("--rounds", type=int, default=3, help="alternating child processes per side")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per method in each child")
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--profile", action="store_true", help="cProfile one run of each method in this tree only")
    p.add_argument("--allocator", choices=("cli", "system"), default="cli",
                   help="cli: the C allocator as `sensekit` sets it (each side that has it); system: glibc's")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args(argv)
    import torch
    if a.profile:
        with tempfile.TemporaryDirectory() as tmp:
            child(a.iters, 1, os.path.join(tmp, "x.pt"), profile=True)
        return
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", a.ref], check=True, capture_output=True,
                         text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "sensekit", "apps"],
                                capture_output=True, text=True).stdout.strip())
    runs = {"ref": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        refdir = extract(a.ref, os.path.join(tmp, "ref"))
        saves = {"ref": os.path.join(tmp, "ref.pt"), "new": os.path.join(tmp, "new.pt")}
        for r in range(a.rounds):
            order = ("ref", "new") if r % 2 == 0 else ("new", "ref")
            for who in order:
                res = run_child(refdir if who == "ref" else "", a.iters, a.repeats, saves[who], a.allocator)
                runs[who].append(res)
                print(who, {k: (round(v["s_per_iter"] * 1e3, 2) if isinstance(v, dict) else
                                (round(v * 1e3, 3) if isinstance(v, float) else v)) for k, v in res.items()},
                      flush=True)
        xr, xn = torch.load(saves["ref"]), torch.load(saves["new"])
    rows = []
    for name in METHOD_NAMES:
        row = {"method": name}
        for who in ("ref", "new"):
            per = _med([run[name]["s_per_iter"] for run in runs[who]])
            # the FFT floor is the lower of its timings before and after the iterations: under glibc's default
            # allocator the first ones pay page faults for fresh memory that the iterations do not all pay
            fl = _med([min(run["floor_fft_s"], run.get("fft_floor_fresh_s", run["floor_fft_s"])) +
                       (run["floor_svd_s"] if name != "tv" else 0.0) for run in runs[who]])
            row[f"{who}_llr_tv_from"] = runs[who][0].get("llr_tv_from")
            row[f"{who}_allocator"] = runs[who][0].get("allocator", "glibc default")
            row[f"{who}_ms_per_iter"] = round(per * 1e3, 2)
            row[f"{who}_floor_ms"] = round(fl * 1e3, 2)
            row[f"{who}_ratio"] = round(per / fl, 2)
        d = (xn[name] - xr[name]).abs().max().item()
        row["max_abs_diff"] = d
        row["max_rel_diff"] = d / xr[name].abs().max().item()
        row["allclose_rtol_1e-5"] = bool(torch.allclose(xn[name], xr[name], rtol=1e-5, atol=1e-5 * float(
            xr[name].abs().max())))
        row["speedup"] = round(row["ref_ms_per_iter"] / row["new_ms_per_iter"], 2)
        rows.append(row)
        print(row, flush=True)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
            "platform": platform.platform(), "torch": torch.__version__, "threads": 1, "ref": f"{a.ref} ({rev})",
            "new": f"{head}{' + uncommitted changes' if dirty else ''}", "shape_tcyx": list(SHAPE),
            "iters": a.iters, "rounds": a.rounds, "repeats": a.repeats, "load": os.getloadavg()}
    if a.no_write:
        return rows
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "iter_floor.json").write_text(json.dumps({"meta": meta, "rows": rows, "runs": runs}, indent=1))
    lines = ["# mri-recon: time per iteration against the physical floor", "",
             f"Generated by `python benchmarks/mri_iter_floor.py --ref {a.ref}` on {meta['date']}, "
             f"{meta['platform']}, torch {meta['torch']}, 1 thread, on a 2-core machine shared with other jobs "
             f"(load average {', '.join(f'{v:.1f}' for v in meta['load'])} at the end: absolute times are noisy, "
             f"the ratios less so).  Reference: {meta['ref']}; this tree: {meta['new']}.", "",
             f"Case: (T, C, Y, X) = {tuple(SHAPE)}, radial mask R 8, {a.iters} iterations (tol 0, check_every 5); "
             f"median over {a.rounds} alternating child processes per side of the median of {a.repeats} runs "
             f"(process time / iterations).  Floor: 2 FFTs of the k-space (+ for llr and llr-tv one batched SVD "
             f"of the 8 x 8 block Casorati matrices), timed alone in the same process before and after the "
             f"iterations (the lower of the two FFT timings; so with the same C "
             f"allocator setting as the iterations).  C allocator: reference {rows[0]['ref_allocator']}, this "
             f"tree {rows[0]['new_allocator']}.", "",
             "| method | ref ms/iter | ref floor ms | ref ratio | new ms/iter | new floor ms | new ratio | speed-up "
             "| final image max rel. diff | allclose 1e-5 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['ref_ms_per_iter']} | {r['ref_floor_ms']} | {r['ref_ratio']} | "
                     f"{r['new_ms_per_iter']} | {r['new_floor_ms']} | {r['new_ratio']} | {r['speedup']} | "
                     f"{r['max_rel_diff']:.1e} | {r['allclose_rtol_1e-5']} |")
    (OUT / "iter_floor.md").write_text("\n".join(lines) + "\n")
    return rows


if __name__ == "__main__":
    main()
