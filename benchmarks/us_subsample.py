"""us-subsample: DAS throughput, inference time and B-mode quality of the learned (DPS) model vs CS, one run.

* DAS frames/s on 128 elements × 2000 fast-time samples (fs 20 MHz, fc 5 MHz; 128 × 256 pixel grid),
  IQ demodulation included and excluded, batch of 8 frames, best of 3 (one CPU thread unless
  ``--threads N``).
* Quality at rate 0.25 over elements (PSNR/SSIM of the B-mode, 60 dB, against the full-data B-mode) and
  time per frame (recovery + DAS + log compression) of: the shipped DPS model; uniform and random masks with
  CS (FISTA 60 iterations, wavelet / Fourier prior, λ ∈ {0.01, 0.1, 0.3, 1}, best per metric, zero-filled
  included) on (a) the held-out frames 16, 20, 24, 28 of the real rotating-disk RF (training saw 0–15)
  and (b) four synthetic speckle phantoms with seeds never used in training (generalisation).
Writes benchmarks/us_subsample/results.json and results.md.
"""
from __future__ import annotations

import json
import os
import pathlib
import sys
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "us_subsample"


def _best(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def das_speed(quick=False):
    from sensekit.linop.ultrasound import DASPlan, image_grid, rf2iq
    E, S, fs, fc, c, pitch = 128, 2000, 20e6, 5e6, 1540.0, 3e-4
    B = 2 if quick else 8
    x, z = image_grid((-E * pitch / 2, E * pitch / 2), (5e-3, c * S / fs / 2 - 1e-3), 128, 256)
    plan = DASPlan.create(n_elements=E, n_samples=S, fs=fs, fc=fc, pitch=pitch, c=c, x=x, z=z, fnumber=1.0)
    rf = torch.randn(B, E, S)
    iq = rf2iq(rf, fs, fc)
    t_das = _best(lambda: plan(iq), 1 if quick else 3) / B
    t_all = _best(lambda: plan(rf2iq(rf, fs, fc)), 1 if quick else 3) / B
    return {"case": "DAS 128x2000 -> 256x128 px", "das_frames_per_s": 1 / t_das, "iq+das_frames_per_s": 1 / t_all,
            "batch": B, "threads": torch.get_num_threads()}


def quality(rf, attrs, name, quick=False):
    from sensekit.apps.us_subsample.methods import (SHIPPED, Imager, bmode_scores, cs_recover, dps_image,
                                                    load_dps, random_mask, uniform_mask)
    model, card = load_dps(SHIPPED)
    E, S = rf.shape[1:]
    im = Imager.from_attrs(attrs, E, S, x_range=(-1.25e-2, 1.25e-2), z_range=(1e-2, 3.5e-2), dx=card["dx"],
                           dz=card["dz"], fnumber=card["fnumber"], dynamic_range=card["dynamic_range"])
    dr = card["dynamic_range"]
    full = im.bmode(rf)
    rows = []
    t = time.perf_counter()
    img, _ = dps_image(model, im, rf)
    rows.append({"data": name, "method": "dps (shipped)", **bmode_scores(img, full, dr),
                 "s_per_frame": (time.perf_counter() - t) / rf.shape[0]})
    mk = model.mask()
    rows.append({"data": name, "method": "dps mask, zero-filled DAS", **bmode_scores(im.bmode(rf * mk[None, :, None]),
                                                                                    full, dr)})
    fixed = {"uniform": uniform_mask(E, 32), "random": random_mask(E, 32, torch.Generator().manual_seed(0))}
    for mname, m in fixed.items():
        rows.append({"data": name, "method": f"{mname} zero-filled", **bmode_scores(im.bmode(rf * m[None, :, None]),
                                                                                    full, dr)})
        for prior in ("wavelet", "fourier"):
            for lam in ((0.1,) if quick else (0.01, 0.1, 0.3, 1.0)):
                t = time.perf_counter()
                x, _ = cs_recover(rf, m, prior=prior, lam=lam, iterations=60)
                img = im.bmode(x)
                dt = (time.perf_counter() - t) / rf.shape[0]
                rows.append({"data": name, "method": f"{mname} + CS {prior} lam={lam}", **bmode_scores(img, full, dr),
                             "s_per_frame": dt})
    return rows


def main():
    quick = "--quick" in sys.argv
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    torch.set_num_threads(threads)
    res = {"das": das_speed(quick), "quality": []}
    root = pathlib.Path(os.environ.get("SENSEKIT_DATA", HERE.parents[1] / "shared" / "data"))
    p = root / "us" / "rotating_disk_planewave_rf.mat"
    if p.exists():
        from sensekit.apps.us_subsample.readers import read_mat
        rf, attrs = read_mat(str(p))
        res["quality"] += quality(torch.from_numpy(rf[[16, 20, 24, 28]]), attrs, "rotating disk frames 16,20,24,28",
                                  quick)
    from sensekit.apps.us_subsample.app import USSubsample, SimConfig
    app = USSubsample()
    arrays, at = app.simulate(SimConfig(frames=2 if quick else 4), torch.Generator().manual_seed(12345))
    res["quality"] += quality(torch.from_numpy(arrays["rf"]), at["rf"], "synthetic phantoms (unseen seed)", quick)
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(res, indent=1))
    lines = ["# us-subsample benchmark", "", f"threads: {threads}; quick: {quick}", "",
             f"DAS: {res['das']['das_frames_per_s']:.1f} frames/s, IQ + DAS {res['das']['iq+das_frames_per_s']:.1f}"
             f" frames/s ({res['das']['case']}, batch {res['das']['batch']})", "",
             "| data | method | PSNR dB | SSIM | s/frame |", "|---|---|---|---|---|"]
    for r in res["quality"]:
        lines.append(f"| {r['data']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
                     f"{r.get('s_per_frame', float('nan')):.3f} |")
    (OUT / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
