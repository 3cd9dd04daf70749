"""mri-recon: sensekit's model-based methods against BART pics, SigPy and DeepInverse on the same inputs.

Peers: BART ``pics`` (the Debian package, a subprocess on .cfl files), SigPy's ``TotalVariationRecon`` and
``L1WaveletRecon`` (frame by frame: its MRI apps are 2-D), DeepInverse's FISTA with its 3-D TV and 3-D
wavelet priors on its ``MultiCoilMRI`` physics.

Inputs: simulated acquisitions from the rat cine (8 frames, 192 x 192) and, unless ``quick``, the
first 20 PINCAT frames (128 x 128): 8 synthetic coils, 1 % noise, per-frame variable-density lines at
acceleration 8 (see tests/helpers.py).  Every method gets the same k-space and the same coil maps (the
app's estimate), and every image is set to zero where all maps are zero (ESPIRiT's crop), as
`sensekit run` and BART's pics do.  Rows report the final PSNR/SSIM (CONTRACTS.md scoring), the wall time, and for
sensekit methods the time to reach 99 % of the final PSNR (scoring time excluded).  Peers' images are
scaled by the least-squares factor to the reference magnitude before scoring (their output scaling
conventions differ); sensekit rows are scored as they are.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _case(name, tmp):
    sys.path.insert(0, str(ROOT / "tests"))
    import h5py
    from helpers import pincat_file, rat_cine_file
    from sensekit.apps.mri_recon.app import MRIRecon
    path = os.path.join(tmp, f"{name}.h5")
    (rat_cine_file(path, accel=8) if name == "rat" else pincat_file(path, accel=8, frames=20))
    with h5py.File(path) as f:
        arrays = {k: f[k][()] for k in f}
        layouts = {k: list(f[k].attrs.get("axes", "").split(",")) for k in f}
    return MRIRecon().prepare(arrays, {}, layouts)


def _fit_scale(x, ref):
    import numpy as np
    a, r = np.abs(x), np.abs(ref)
    return x * (float((a * r).sum()) / max(float((a * a).sum()), 1e-30))


def _sensekit_rows(case, inp, methods_to_run):
    import torch
    from sensekit.apps.mri_recon import methods
    from sensekit.apps.mri_recon.app import Config, MRIRecon
    from sensekit.apps.mri_recon.model import forward_model, zero_unobserved
    from sensekit.metrics import image_series_scores
    app = MRIRecon()
    k = inp["kspace"].to(torch.complex64)
    maps = app.maps_for(inp, Config())
    E = forward_model(maps, inp["mask"], k.shape[0])
    scale = float(E.H(k).abs().max())
    ref = inp["image_ref"]
    rows = []
    for m in methods_to_run:
        trace, spent = [], [0.0]

        def cb(info, state, trace=trace, spent=spent):
            t0 = time.perf_counter()
            x = state.x
            if x.ndim == 4 and m == "rdledm":
                x = x.select(-4, 0)
            if x.ndim == 4 and m == "ls":
                x = x.sum(-4)
            trace.append((info["time"] - spent[0], image_series_scores(zero_unobserved(x, maps) * scale, ref)["psnr"]))
            spent[0] += time.perf_counter() - t0
        cfg = Config(method=m, check_every=5)
        t0 = time.perf_counter()
        x, iters, _ = methods.METHODS[m][0](E, k / scale, cfg, callbacks=[cb])
        total = time.perf_counter() - t0 - spent[0]
        s = image_series_scores(zero_unobserved(x, maps) * scale, ref)     # as `sensekit run` outputs it
        t99 = next((t for t, p in trace if p >= s["psnr"] - abs(s["psnr"]) * 0.01), total) if trace else total
        rows.append({"benchmark": "mri_recon", "case": case, "method": f"sensekit {m}", "peer": False,
                     "time_s": round(total, 3), "time_to_99_s": round(t99, 3), "iterations": iters,
                     "psnr": round(s["psnr"], 3), "ssim": round(s["ssim"], 4)})
    return rows, maps


def _bart_rows(case, inp, maps, lams):
    import numpy as np
    from sensekit.metrics import image_series_scores
    if shutil.which("bart") is None:
        return [{"benchmark": "mri_recon", "case": case, "method": "bart pics", "peer": True,
                 "skipped": "bart not installed (apt-get install bart)"}]
    ksp = inp["kspace"].numpy()            # (T, C, Y, X)
    T, C, Y, X = ksp.shape
    ref = inp["image_ref"].numpy()

    from sensekit.io.cfl import read_cfl, write_cfl   # BART's .cfl/.hdr through the project's own reader/writer
    write = write_cfl

    def read(base):
        return read_cfl(base, squeeze_trailing=False)

    rows = []
    with tempfile.TemporaryDirectory() as d:
        k = np.zeros((Y, X, 1, C) + (1,) * 6 + (T,), np.complex64)
        k[:, :, 0, :, 0, 0, 0, 0, 0, 0, :] = np.transpose(ksp, (2, 3, 1, 0))
        s = np.zeros((Y, X, 1, C), np.complex64)
        s[:, :, 0, :] = np.transpose(maps.numpy(), (1, 2, 0))
        write(os.path.join(d, "k"), k)
        write(os.path.join(d, "s"), s)
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        for label, reg in lams:
            out = os.path.join(d, "x")
            t0 = time.perf_counter()
            r = subprocess.run(["bart", "pics", "-S", "-i", "100", *reg, os.path.join(d, "k"), os.path.join(d, "s"),
                                out], capture_output=True, text=True, env=env)
            dt = time.perf_counter() - t0
            if r.returncode != 0:
                rows.append({"benchmark": "mri_recon", "case": case, "method": f"bart pics {label}", "peer": True,
                             "skipped": r.stderr.strip()[-200:]})
                continue
            img = read(out)
            img = img.reshape(img.shape + (1,) * (16 - img.ndim))        # BART: 16 dims, time at 10
            x = np.transpose(img[:, :, 0, 0, 0, 0, 0, 0, 0, 0, :, 0, 0, 0, 0, 0], (2, 0, 1))
            sc = image_series_scores(_fit_scale(x, ref), ref)
            rows.append({"benchmark": "mri_recon", "case": case, "method": f"bart pics {label}", "peer": True,
                         "time_s": round(dt, 3), "psnr": round(sc["psnr"], 3), "ssim": round(sc["ssim"], 4)})
    return rows


def _sigpy_rows(case, inp, maps, lams):
    import numpy as np
    from sensekit.metrics import image_series_scores
    try:
        pass
    except Exception as e:  # noqa: BLE001
        return [{"benchmark": "mri_recon", "case": case, "method": "sigpy", "peer": True,
                 "skipped": f"sigpy not importable: {type(e).__name__}"}]
    ksp = inp["kspace"].numpy()
    mask = inp["mask"].numpy()
    ref = inp["image_ref"].numpy()
    mps = maps.numpy()
    rows = []
    for label, cls, lam in lams:
        t0 = time.perf_counter()
        # SigPy's MRI apps reconstruct one 2-D image: frame by frame (no temporal prior)
        x = np.stack([cls(ksp[t], mps, lam, weights=mask[t][None].astype(np.float32), max_iter=100,
                          show_pbar=False).run() for t in range(ksp.shape[0])])
        dt = time.perf_counter() - t0
        x = np.where((np.abs(mps) ** 2).sum(0) > 0, x, 0)            # the app's zeroing, as for BART
        sc = image_series_scores(_fit_scale(x, ref), ref)
        rows.append({"benchmark": "mri_recon", "case": case, "method": f"sigpy {label}", "peer": True,
                     "time_s": round(dt, 3), "psnr": round(sc["psnr"], 3), "ssim": round(sc["ssim"], 4)})
    return rows


def _deepinv_rows(case, inp, maps, settings):
    """DeepInverse's classical pipeline: its multi-coil MRI physics on the (T, Y, X) series (2-D FFT per
    frame, per-frame masks) with its FISTA solver and, as priors, its 3-D TV (x, y, t with equal weight,
    proximal map by an inner primal-dual loop) and 3-D wavelet ℓ1 (ptwt, db4, 3 levels).  No learned
    denoiser: DeepInverse's pretrained weights download at run time, which this benchmark does not do."""
    import torch
    from sensekit.apps.mri_recon.model import zero_unobserved
    from sensekit.metrics import image_series_scores
    try:
        from deepinv.optim import optim_builder
        from deepinv.optim.data_fidelity import L2
        from deepinv.optim.prior import TVPrior, WaveletPrior
        from deepinv.physics import MultiCoilMRI
    except Exception as e:  # noqa: BLE001  (ImportError, or a torchvision built for another torch)
        return [{"benchmark": "mri_recon", "case": case, "method": "deepinv", "peer": True,
                 "skipped": f"deepinv not importable here: {type(e).__name__}: {str(e)[:120]}"}]
    k = inp["kspace"].to(torch.complex64)                                  # (T, C, Y, X)
    T, C, Y, X = k.shape
    ref = inp["image_ref"].numpy()
    sampled = (inp["mask"].expand(T, Y, X) > 0).to(torch.float32)
    physics = MultiCoilMRI(mask=sampled[None, None], coil_maps=maps[None, :, None].expand(1, C, T, Y, X),
                           img_size=(1, 2, T, Y, X))
    y = torch.view_as_real(k.permute(1, 0, 2, 3)[None]).permute(0, 5, 1, 2, 3, 4).contiguous()  # (1, 2, C, T, Y, X)
    rows = []
    for label, prior_name, lam in settings:
        try:
            prior = TVPrior(n_it_max=20) if prior_name == "tv" else WaveletPrior(level=3, wv="db4", wvdim=3)
        except Exception as e:  # noqa: BLE001  (the wavelet prior needs the optional ptwt package)
            rows.append({"benchmark": "mri_recon", "case": case, "method": f"deepinv {label}", "peer": True,
                         "skipped": f"{type(e).__name__}: {str(e)[:120]}"})
            continue
        model = optim_builder(iteration="FISTA", prior=prior, data_fidelity=L2(), max_iter=100, early_stop=False,
                              params_algo={"stepsize": 1.0, "lambda": lam, "a": 3}, verbose=False)
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model(y, physics)
        dt = time.perf_counter() - t0
        x = zero_unobserved(torch.complex(out[0, 0], out[0, 1]), maps).numpy()
        sc = image_series_scores(_fit_scale(x, ref), ref)
        rows.append({"benchmark": "mri_recon", "case": case, "method": f"deepinv {label}", "peer": True,
                     "time_s": round(dt, 3), "psnr": round(sc["psnr"], 3), "ssim": round(sc["ssim"], 4)})
    return rows


# ---------------------------------------------------------------- v2: locally low rank against BART at its best
#: The LLR benchmark's cases: the rat cine (8 frames), cropped to its central CROP x CROP pixels (the heart and
#: its surroundings) and simulated with COILS synthetic loop coils whose maps are given (known maps), 1 % noise.
LLR_CROP, LLR_COILS, LLR_ITERS = 96, 4, 50
LLR_CASES = (("rat radial R8", "radial", 8.0), ("rat vd-lines R6", "vd-lines", 6.0))


def llr_case(pattern, accel, *, crop=LLR_CROP, coils=LLR_COILS, seed=0):
    """(prepared inputs, achieved acceleration) of one LLR benchmark case (needs the rat cine data file)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import h5py
    import torch
    from helpers import pattern_acquisition_file, rat_cine_images
    from sensekit.apps.mri_recon.app import MRIRecon
    from sensekit.sim.masks import sampling_mask
    img = rat_cine_images()
    y0, x0 = (img.shape[1] - crop) // 2, (img.shape[2] - crop) // 2
    img = img[:, y0:y0 + crop, x0:x0 + crop]
    T, Y, X = img.shape
    mask = sampling_mask(pattern, T, (Y, X), accel, generator=torch.Generator().manual_seed(seed)).numpy()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "in.h5")
        R = pattern_acquisition_file(path, img, mask, coils=coils, seed=seed)
        with h5py.File(path) as f:
            arrays = {k: f[k][()] for k in f}
            layouts = {k: list(f[k].attrs.get("axes", "").split(",")) for k in f}
    return MRIRecon().prepare(arrays, {}, layouts), float(R)


def bart_gwidth(block: int, shape) -> float:
    """BART's LLR threshold factor √M + √N + √log(n_blocks·min(M, N)) (lrthresh.c) for B×B tiles of (T, Y, X)."""
    import math
    T, Y, X = shape
    M, N = block * block, T
    nb = (-(-Y // block)) * (-(-X // block))
    return math.sqrt(M) + math.sqrt(N) + math.sqrt(math.log(nb * min(M, N)))


def bart_pics(inp, reg, *, iters=LLR_ITERS, extra=(), normalise=None):
    """Run BART ``pics`` on the prepared inputs with the known maps; returns (image (T, Y, X), seconds).

    ``normalise``: divide the k-space by this number and pass ``-w 1`` (BART's scaling off), so that its
    weights are absolute on the same normalised data as sensekit's; None: BART's own scaling (``-S``).
    """
    import numpy as np
    ksp = inp["kspace"].numpy()
    T, C, Y, X = ksp.shape
    maps = inp["sens_maps"].numpy()

    from sensekit.io.cfl import read_cfl, write_cfl   # BART's .cfl/.hdr through the project's own reader/writer
    write = write_cfl

    def read(base):
        return read_cfl(base, squeeze_trailing=False)

    with tempfile.TemporaryDirectory() as d:
        k = np.zeros((Y, X, 1, C) + (1,) * 6 + (T,), np.complex64)
        k[:, :, 0, :, 0, 0, 0, 0, 0, 0, :] = np.transpose(ksp / (normalise or 1.0), (2, 3, 1, 0))
        write(os.path.join(d, "k"), k)
        write(os.path.join(d, "s"), np.transpose(maps, (1, 2, 0))[:, :, None, :])
        scaling = ["-w", "1"] if normalise else ["-S"]
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        t0 = time.perf_counter()
        r = subprocess.run(["bart", "pics", *scaling, "-i", str(iters), *reg, *extra, os.path.join(d, "k"),
                            os.path.join(d, "s"), os.path.join(d, "x")], capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"bart pics {' '.join(reg)}: {r.stderr.strip()[-300:]}")
        img = read(os.path.join(d, "x"))
    img = img.reshape(img.shape + (1,) * (16 - img.ndim))
    x = np.transpose(img[:, :, 0, 0, 0, 0, 0, 0, 0, 0, :, 0, 0, 0, 0, 0], (2, 0, 1))
    return x * (normalise or 1.0), dt


def sensekit_llr_setup(inp):
    """(E, normalised k-space, scale) exactly as MRIRecon.run builds them (known maps)."""
    import torch
    from sensekit.apps.mri_recon.model import forward_model
    k = inp["kspace"].to(torch.complex64)
    E = forward_model(inp["sens_maps"], inp["mask"], k.shape[0])
    scale = float(E.H(k).abs().max())
    return E, k / scale, scale


def _llr_grid_rows(case, inp, R, grids, bart_grids):
    import torch
    from sensekit.apps.mri_recon import methods
    from sensekit.apps.mri_recon.app import Config
    from sensekit.apps.mri_recon.model import zero_unobserved
    from sensekit.metrics import image_series_scores
    ref = inp["image_ref"]
    E, y, scale = sensekit_llr_setup(inp)
    rows = []
    base = {"benchmark": "mri_recon_llr", "case": case, "accel": round(R, 2)}
    for family, key, values, fixed in grids:
        for v in values:
            cfg = Config(method=family, tol=0, max_iter=LLR_ITERS, **{key: v}, **fixed)
            t0 = time.perf_counter()
            x, iters, info = methods.METHODS[family][0](E, y, cfg)
            dt = time.perf_counter() - t0
            s = image_series_scores(zero_unobserved(x, inp["sens_maps"]) * scale, ref)
            label = f"sensekit {family}" + (f" B={fixed['block']}" if "block" in fixed else "")
            rows.append({**base, "method": label, "peer": False, "setting": f"{key}={v:g}", "value": v,
                         "iterations": iters, "time_s": round(dt, 2), "psnr": round(s["psnr"], 2),
                         "ssim": round(s["ssim"], 4)})
            print(rows[-1], file=sys.stderr, flush=True)
    if shutil.which("bart") is None:
        rows.append({**base, "method": "bart pics", "peer": True, "skipped": "bart not on PATH"})
        return rows
    refn = ref.numpy()
    for label, make, values in bart_grids:
        for v in values:
            x, dt = bart_pics(inp, make(v))
            s = image_series_scores(torch.from_numpy(_fit_scale(x, refn)), ref)
            rows.append({**base, "method": f"bart pics {label}", "peer": True, "setting": f"lambda={v:g}",
                         "value": v, "iterations": LLR_ITERS, "time_s": round(dt, 2), "psnr": round(s["psnr"], 2),
                         "ssim": round(s["ssim"], 4)})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def _best(rows):
    """Best grid point per method, flagged when it sits on an edge of its grid (of either axis of a 2-D grid:
    rows with ``value2``).  A weight of 0 at the low end is the end of the weight's range, not an edge."""
    def on_edge(v, vals):
        return len(vals) > 1 and (v == vals[-1] or (v == vals[0] and vals[0] != 0))

    out = []
    for m in dict.fromkeys(r["method"] for r in rows if "psnr" in r):
        g = [r for r in rows if r["method"] == m and "psnr" in r]
        b = max(g, key=lambda r: r["psnr"])
        v1 = sorted({r["value"] for r in g})
        edge = on_edge(b["value"], v1)
        grid = f"{len(v1)} values {v1[0]:g}..{v1[-1]:g}"
        if "value2" in b:
            v2 = sorted({r["value2"] for r in g})
            edge = edge or on_edge(b["value2"], v2)
            grid = f"{len(v1)} x {len(v2)} values {v1[0]:g}..{v1[-1]:g} x {v2[0]:g}..{v2[-1]:g}"
        out.append({**b, "grid": grid, "best_on_edge": edge})
    return out


def run_llr(quick: bool = False) -> dict:
    """The LLR benchmark: sensekit llr / ls / tv and BART pics LLR / TV / l1-wavelet, each over a weight grid."""
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    lam_llr = (0.00025, 0.0005, 0.001, 0.002) if not quick else (0.001,)
    grids = [("llr", "lam_llr", lam_llr, {"block": 8}),
             ("tv", "lam_tv", (0.0015, 0.003, 0.006) if not quick else (0.003,), {}),
             ("ls", "lam_l", (0.01, 0.03) if not quick else (0.03,), {})]
    decade = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
    bart_grids = [("LLR B=8", lambda v: ["-R", f"L:7:7:{v:g}", "-b", "8"], decade),
                  ("TV xyt", lambda v: ["-R", f"T:3:0:{v:g}", "-R", f"T:1024:0:{v:g}"], decade),
                  ("l1-wavelet", lambda v: ["-R", f"W:3:0:{v:g}"], decade)]
    if quick:
        bart_grids = [(lab, mk, (0.003, 0.01)) for lab, mk, _ in bart_grids[:1]]
    rows = []
    for case, pattern, accel in LLR_CASES[:1] if quick else LLR_CASES:
        inp, R = llr_case(pattern, accel)
        rows += _llr_grid_rows(case, inp, R, grids, bart_grids)
    best = []
    for case, _, _ in LLR_CASES:
        best += _best([r for r in rows if r["case"] == case])
    return {"rows": rows, "best": best}


def write_llr_results(res, folder=ROOT / "benchmarks" / "mri", *, note=""):
    """Write the LLR tables into results.md (its own section, the rest of the file kept) and results_llr.json."""
    import platform
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results_llr.json").write_text(json.dumps(res, indent=1))
    lines = ["## mri_recon v2: locally low rank against BART pics at its best", "",
             "Generated by `python benchmarks/mri_recon.py --llr` on "
             f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())},"
             f" {platform.platform()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')}, BART "
             f"{_bart_version()}. " + note, "",
             "Best grid point per method (PSNR/SSIM on the magnitude reference; BART images least-squares "
             "scaled to the reference, sensekit images as they are):", "",
             "| case | method | best setting | grid | best on edge | psnr | ssim | time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for b in res["best"]:
        lines.append(f"| {b['case']} (R={b['accel']}) | {b['method']} | {b['setting']} | {b['grid']} | "
                     f"{'yes' if b['best_on_edge'] else 'no'} | {b['psnr']} | {b['ssim']} | {b['time_s']} |")
    lines += ["", "Every grid point:", "", "| case | method | setting | psnr | ssim | time (s) |",
              "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        if "psnr" in r:
            lines.append(f"| {r['case']} | {r['method']} | {r['setting']} | {r['psnr']} | {r['ssim']} | "
                         f"{r['time_s']} |")
        else:
            lines.append(f"| {r['case']} | {r['method']} | skipped: {r.get('skipped')} | | | |")
    section = "\n".join(lines) + "\n"
    md = folder / "results.md"
    old = md.read_text() if md.exists() else "# Benchmark results\n"
    head = "## mri_recon v2: locally low rank"
    if head in old:
        i = old.index(head)
        j = old.find("\n## ", i + len(head))
        old = old[:i] + (old[j + 1:] if j >= 0 else "")
    md.write_text(old.rstrip("\n") + "\n\n" + section)


def _bart_version():
    try:
        return subprocess.run(["bart", "version"], capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "not installed"


# ---------------------------------------------------------------- non-Cartesian: golden-angle radial (NUFFT)
#: The radial case: the rat cine (8 frames) cropped to its central NC_CROP x NC_CROP pixels, NC_COILS known loop-coil
#: maps, NC_SPOKES golden-angle spokes of NC_CROP samples per frame (acceleration NC_CROP / NC_SPOKES by samples),
#: k-space by a width-8 NUFFT (~1e-7 of the exact sum), 1 % complex noise; NC_ITERS iterations for every method.
NC_CROP, NC_COILS, NC_SPOKES, NC_ITERS = 96, 4, 12, 100
#: BART pics -t LLR + TV: the 2-D weight grid (LLR λ x TV λ; at LLR λ 0 it is TV xyt run by ADMM); the FISTA
#: step sizes tried with LLR alone
NC_COMBO_LLR, NC_COMBO_TV = (0.0, 0.0001, 0.0003, 0.001, 0.003), (0.0003, 0.001, 0.003)
NC_FISTA_STEPS = (0.02, 0.05, 0.1)


def noncart_case(*, crop=NC_CROP, coils=NC_COILS, spokes=NC_SPOKES, seed=0):
    """Prepared non-Cartesian inputs (kspace (T, C, S), traj (T, S, 2), sens_maps, image_ref) of the radial case."""
    sys.path.insert(0, str(ROOT / "tests"))
    import numpy as np
    import torch
    from helpers import _loop_coil_maps, rat_cine_images
    from sensekit.apps.mri_recon.app import MRIRecon
    from sensekit.linop import NUFFT
    from sensekit.sim.trajectories import golden_angle_radial
    img = rat_cine_images()
    y0, x0 = (img.shape[1] - crop) // 2, (img.shape[2] - crop) // 2
    img = img[:, y0:y0 + crop, x0:x0 + crop]
    T, Y, X = img.shape
    maps = _loop_coil_maps(coils, Y, X)
    traj = golden_angle_radial(T, spokes, Y, (Y, X))
    k = NUFFT(traj, (T, coils, Y, X), width=8)(torch.from_numpy(img[:, None] * maps[None])).numpy()
    rng = np.random.default_rng(seed)
    k += 0.01 * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) / np.sqrt(2)
    arrays = {"kspace": k.astype(np.complex64), "traj": traj.numpy(), "sens_maps": maps.astype(np.complex64),
              "image_ref": img.astype(np.float32)}
    return MRIRecon().prepare(arrays, {"kspace": {"image_shape": [Y, X]}}, {})


def _noncart_rows(case, inp, grids, *, sigpy_lams=(), bart_lams=()):
    import numpy as np
    import torch
    from sensekit.apps.mri_recon import methods, noncart
    from sensekit.apps.mri_recon.app import Config
    from sensekit.apps.mri_recon.model import zero_unobserved
    from sensekit.apps.mri_recon.options import OPTIONS
    from sensekit.metrics import image_series_scores
    ref, maps = inp["image_ref"], inp["sens_maps"]
    k = inp["kspace"].to(torch.complex64)
    T, C, S = k.shape
    Y, X = inp["image_shape"]
    t0 = time.perf_counter()
    E, sw = noncart.forward_model(maps, inp, Config(), T)
    y = noncart.weigh(k, sw)
    scale = float(E.H(y).abs().max())
    setup = time.perf_counter() - t0
    base = {"benchmark": "mri_recon_noncart", "case": case, "spokes": S // Y}
    rows = []
    for family, key, values in grids:
        for v in values:
            if key == "scale":    # a joint scale of the method's default weights (llr-tv)
                d = OPTIONS.of(Config(method=family), family)
                opts = {n: v * getattr(d, n) for n in ("lam_llr", "lam_tv", "lam_tt")}
            else:
                opts = {key: v} if key else {}
            cfg = Config(method=family, tol=0, max_iter=NC_ITERS if family != "zero-filled" else 1, **opts)
            t0 = time.perf_counter()
            x, iters, _ = methods.METHODS[family][0](E, y / scale, cfg)
            if family == "zero-filled":     # as `sensekit run`: the gridding at its least-squares scale
                x = x * noncart.gridding_scale(E, y / scale, x)
            dt = time.perf_counter() - t0 + setup
            s = image_series_scores(zero_unobserved(x, maps) * scale, ref)
            rows.append({**base, "method": f"sensekit {family}", "peer": False,
                         "setting": f"{key}={v:g}" if key else "-", "value": v if key else 0.0,
                         "iterations": iters, "time_s": round(dt, 2), "psnr": round(s["psnr"], 2),
                         "ssim": round(s["ssim"], 4)})
            print(rows[-1], file=sys.stderr, flush=True)
    refn = ref.numpy()
    traj = inp["traj"].numpy()
    dcf = noncart.sample_weights(noncart._nufft(inp, Config(), T, C), inp, Config()).numpy()
    if sigpy_lams:
        try:
            import sigpy.mri.app as sapp
        except ImportError as e:
            rows.append({**base, "method": "sigpy", "peer": True, "skipped": f"sigpy not installed ({e})"})
        else:
            for v in sigpy_lams:   # SigPy's MRI apps are 2-D: frame by frame, its NUFFT, our dcf as data weights
                t0 = time.perf_counter()
                x = np.stack([sapp.TotalVariationRecon(k[t].numpy(), maps.numpy(), v, coord=traj[t],
                                                       weights=dcf[t] / dcf[t].max(), max_iter=NC_ITERS,
                                                       show_pbar=False).run() for t in range(T)])
                dt = time.perf_counter() - t0
                sc = image_series_scores(torch.from_numpy(_fit_scale(x, refn)), ref)
                rows.append({**base, "method": "sigpy TV (2-D, per frame)", "peer": True, "setting": f"lambda={v:g}",
                             "value": v, "iterations": NC_ITERS, "time_s": round(dt, 2),
                             "psnr": round(sc["psnr"], 2), "ssim": round(sc["ssim"], 4)})
                print(rows[-1], file=sys.stderr, flush=True)
    if bart_lams:
        if shutil.which("bart") is None:
            rows.append({**base, "method": "bart pics -t", "peer": True, "skipped": "bart not on PATH"})
        else:
            rows += _bart_noncart(base, k.numpy(), traj, maps.numpy(), ref, bart_lams)
    return rows


def _bart_noncart_grids(lams):
    """BART ``pics -t`` settings a user would tune on a radial series: TV xyt, LLR B=8 and LLR B=8 + TV xyt.

    LLR alone runs FISTA, which on this trajectory needs a step size (``-s``): with BART's default step it
    diverged ("LAPACK: cgesvd failed", measured), so its grid is λ × step.  With two terms pics runs ADMM.
    """
    tv = lambda v: ["-R", f"T:3:0:{v:g}", "-R", f"T:1024:0:{v:g}"]  # noqa: E731
    llr = lambda v: ["-R", f"L:7:7:{v:g}", "-b", "8"]  # noqa: E731
    combo = [(a, b) for a in NC_COMBO_LLR for b in NC_COMBO_TV]
    return [("TV xyt", tv, lams),
            ("LLR B=8 (FISTA, step -s)", lambda v: ["-s", f"{v[1]:g}"] + llr(v[0]),
             [(a, b) for a in lams for b in NC_FISTA_STEPS]),
            ("LLR B=8 + TV xyt", lambda v: llr(v[0]) + tv(v[1]), combo)]


def _bart_noncart(base, k, traj, maps, ref, lams):
    """Rows of BART ``pics -t`` on the non-Cartesian case (k (T, C, S), traj (T, S, 2), maps (C, Y, X))."""
    import numpy as np
    import torch
    from sensekit.io.cfl import read_cfl, write_cfl
    from sensekit.metrics import image_series_scores
    T, C, S = k.shape
    refn = ref.numpy()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        kb = np.zeros((1, S, 1, C) + (1,) * 6 + (T,), np.complex64)
        kb[0, :, 0, :, 0, 0, 0, 0, 0, 0, :] = np.transpose(k, (2, 1, 0))
        tb = np.zeros((3, S, 1, 1) + (1,) * 6 + (T,), np.complex64)
        tb[:2, :, 0, 0, 0, 0, 0, 0, 0, 0, :] = np.transpose(traj, (2, 1, 0))   # BART dims 0, 1 = Y, X here
        write_cfl(os.path.join(d, "k"), kb)
        write_cfl(os.path.join(d, "t"), tb)
        write_cfl(os.path.join(d, "s"), np.transpose(maps, (1, 2, 0))[:, :, None, :])
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        for label, make, values in _bart_noncart_grids(lams):
            for v in values:
                two = isinstance(v, tuple)
                t0 = time.perf_counter()
                r = subprocess.run(["bart", "pics", "-S", "-i", str(NC_ITERS), *make(v), "-t", os.path.join(d, "t"),
                                    os.path.join(d, "k"), os.path.join(d, "s"), os.path.join(d, "x")],
                                   capture_output=True, text=True, env=env)
                dt = time.perf_counter() - t0
                if r.returncode != 0:     # a diverged setting (e.g. too long a FISTA step): say so, go on
                    rows.append({**base, "method": f"bart pics -t {label}", "peer": True,
                                 "setting": f"{v}", "skipped": r.stderr.strip()[-200:].replace("\n", " ")})
                    continue
                img = read_cfl(os.path.join(d, "x"), squeeze_trailing=False)
                img = img.reshape(img.shape + (1,) * (16 - img.ndim))
                x = np.transpose(img[:, :, 0, 0, 0, 0, 0, 0, 0, 0, :, 0, 0, 0, 0, 0], (2, 0, 1))
                x = np.where((np.abs(maps) ** 2).sum(0) > 0, x, 0)
                sc = image_series_scores(torch.from_numpy(_fit_scale(x, refn)), ref)
                rows.append({**base, "method": f"bart pics -t {label}", "peer": True,
                             "setting": (f"lambda={v[0]:g}, {'step' if 'step' in label else 'tv'}={v[1]:g}"
                                         if two else f"lambda={v:g}"),
                             "value": v[0] if two else v, **({"value2": v[1]} if two else {}),
                             "iterations": NC_ITERS, "time_s": round(dt, 2),
                             "psnr": round(sc["psnr"], 2), "ssim": round(sc["ssim"], 4)})
                print(rows[-1], file=sys.stderr, flush=True)
    return rows


def run_noncart(quick: bool = False) -> dict:
    """The radial benchmark: sensekit zero-filled (gridding) / cg-sense / tv / llr against SigPy and BART ``-t``."""
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    grids = [("zero-filled", "", (0.0,)), ("cg-sense", "lam", (0.0, 0.01, 0.03, 0.1)),
             ("tv", "lam_tv", (0.0015, 0.003, 0.006) if not quick else (0.003,)),
             ("llr", "lam_llr", (0.0005, 0.001, 0.002, 0.004) if not quick else (0.001,)),
             ("llr-tv", "scale", (0.25, 0.5, 1.0, 2.0, 4.0) if not quick else (1.0,))]
    decade = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1) if not quick else (0.003,)
    inp = noncart_case()
    case = f"rat radial {NC_SPOKES} spokes"
    rows = _noncart_rows(case, inp, grids, sigpy_lams=decade, bart_lams=decade)
    return {"rows": rows, "best": _best([r for r in rows if r["method"] != "sensekit zero-filled"])
            + [r for r in rows if r["method"] == "sensekit zero-filled"]}


def write_noncart_results(res, folder=ROOT / "benchmarks" / "mri"):
    """Write the radial tables into results.md (their own section, the rest kept) and results_noncart.json."""
    import platform
    folder = pathlib.Path(folder)
    (folder / "results_noncart.json").write_text(json.dumps(res, indent=1))
    head = "## mri_recon: non-Cartesian (golden-angle radial, NUFFT)"
    lines = [head, "", "Generated by `python benchmarks/mri_recon.py --noncart` on "
             f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {platform.platform()}, OMP_NUM_THREADS="
             f"{os.environ.get('OMP_NUM_THREADS', '?')}, BART {_bart_version()}. Case: rat cine, 8 frames cropped to "
             f"{NC_CROP}x{NC_CROP}, {NC_COILS} known loop-coil maps, {NC_SPOKES} golden-angle spokes of {NC_CROP} "
             f"samples per frame, 1 % noise, {NC_ITERS} iterations for every iterative method. SigPy: "
             "TotalVariationRecon frame by frame with its NUFFT and sensekit's density weights; BART: pics -t "
             "with spatial + temporal TV (same weight), with LLR (8 x 8 blocks, random shifts) and with both "
             "(a 2-D weight grid), its own scaling (-S). sensekit llr-tv: one joint scale of its default weights. "
             "Peers' images least-squares scaled to the reference.", "",
             "| method | best setting | grid | best on edge | psnr | ssim | time (s) |",
             "|---|---|---|---|---|---|---|"]
    for b in res["best"]:
        lines.append(f"| {b['method']} | {b['setting']} | {b.get('grid', '-')} | "
                     f"{'yes' if b.get('best_on_edge') else 'no'} | {b['psnr']} | {b['ssim']} | {b['time_s']} |")
    lines += ["", "Every grid point:", "", "| method | setting | psnr | ssim | time (s) |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['method']} | {r['setting']} | {r['psnr']} | {r['ssim']} | {r['time_s']} |" if "psnr" in r
                     else f"| {r['method']} | skipped: {r.get('skipped')} | | | |")
    md = folder / "results.md"
    old = md.read_text() if md.exists() else "# Benchmark results\n"
    if head in old:
        i = old.index(head)
        j = old.find("\n## ", i + len(head))
        old = old[:i] + (old[j + 1:] if j >= 0 else "")
    md.write_text(old.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")


def run(quick: bool = False) -> list[dict]:
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    rows = []
    cases = ["rat"] if quick else ["rat", "pincat"]
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            inp = _case(case, tmp)
            ours, maps = _sensekit_rows(case, inp, ["ls", "tv", "rdledm", "kt-slr", "wavelet", "rim"])
            rows += ours
            rows += _bart_rows(case, inp, maps, [
                ("TV l=0.005", ["-R", "T:3:0:0.005", "-R", "T:1024:0:0.005"]),
                ("TV l=0.02", ["-R", "T:3:0:0.02", "-R", "T:1024:0:0.02"]),
                ("L1-wavelet l=0.01", ["-R", "W:3:0:0.01"]),
            ])
            try:
                import sigpy.mri.app as sapp
                rows += _sigpy_rows(case, inp, maps, [("TV l=0.005", sapp.TotalVariationRecon, 0.005),
                                                      ("L1-wavelet l=0.005", sapp.L1WaveletRecon, 0.005)])
            except ImportError as e:
                rows.append({"benchmark": "mri_recon", "case": case, "method": "sigpy", "peer": True,
                             "skipped": f"sigpy not installed ({e})"})
            rows += _deepinv_rows(case, inp, maps, [("FISTA 3-D TV l=0.003", "tv", 0.003),
                                                    ("FISTA 3-D wavelet l=0.02", "wavelet", 0.02),
                                                    ("FISTA 3-D wavelet l=0.05", "wavelet", 0.05)])
            best_ours = max((r for r in ours), key=lambda r: r["psnr"])
            for r in rows:
                if r.get("case") == case and r.get("peer") and "psnr" in r:
                    r["psnr_gain_of_best_sensekit_db"] = round(best_ours["psnr"] - r["psnr"], 3)
                    r["time_ratio_peer_over_best_sensekit"] = round(r["time_s"] / best_ours["time_s"], 3)
    return rows


if __name__ == "__main__":
    if "--noncart" in sys.argv:
        res = run_noncart(quick="--quick" in sys.argv)
        if "--quick" not in sys.argv:
            write_noncart_results(res)
        print(json.dumps(res["best"], indent=1))
    elif "--llr" in sys.argv:
        res = run_llr(quick="--quick" in sys.argv)
        write_llr_results(res, note=f"Cases: rat cine, 8 frames cropped to {LLR_CROP}x{LLR_CROP}, {LLR_COILS} "
                                    f"known loop-coil maps, 1 % noise, {LLR_ITERS} iterations for every method "
                                    "(kept small so the benchmark runs in minutes on a shared 2-core machine).")
        print(json.dumps(res["best"], indent=1))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
