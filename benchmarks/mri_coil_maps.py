"""Coil-map estimation for mri-recon: ESPIRiT vs low-resolution maps vs maps from fully sampled data.

Real data: the 16-coil brain of ``$SENSEKIT_DATA`` retrospectively undersampled (variable-density lines,
net acceleration 4, 12 ACS lines); quality = PSNR of cg-sense against the root sum of squares of the fully
sampled coil images; time = the map estimation alone.  Peer: SigPy's ``EspiritCalib`` when installed.
"""
from __future__ import annotations

import json
import os
import pathlib
import time

import numpy as np
import torch


def _data():
    default = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
    root = pathlib.Path(os.environ.get("SENSEKIT_DATA", default))
    return root / "mri" / "brain_16coil_kspace_full.mat"


def run(quick: bool = False) -> list[dict]:
    from sensekit.apps.mri_recon import calib, methods
    from sensekit.apps.mri_recon.app import Config
    from sensekit.apps.mri_recon.model import forward_model
    from sensekit.io.matlab import load_mat
    from sensekit.linop import ifftc
    from sensekit.metrics import image_series_scores
    from sensekit.sim import sampling_mask

    path = _data()
    case = "brain16 vd-lines R4 acs12"
    if not path.exists():
        return [{"benchmark": "mri_coil_maps", "case": case, "method": m, "peer": False, "time_s": None,
                 "skipped": f"{path} not found"} for m in ("espirit", "lowres")]
    raw = load_mat(path)["raw"]                                          # MATLAB (x, y, z, coil)
    k = torch.from_numpy(np.ascontiguousarray(raw[:, :, 0, :].transpose(2, 1, 0))).to(torch.complex64)
    C, Y, X = k.shape
    coil = ifftc(k)
    rss = coil.abs().pow(2).sum(0).sqrt()
    seeds = (0,) if quick else (0, 1, 2)
    rows = []

    def score(maps, mask):
        E = forward_model(maps, mask, 1)
        y = k[None] * mask[:, None]
        s = float(E.H(y).abs().max())
        x, _, _ = methods.cg_sense(E, y / s, Config(method="cg-sense"))
        return image_series_scores(x * s, rss[None])["psnr"]

    for seed in seeds:
        mask = sampling_mask("vd-lines", 1, (Y, X), 4, acs=12, generator=torch.Generator().manual_seed(seed))
        y = k[None] * mask[:, None]
        estimators = {
            "full-data maps": lambda: coil / rss.clamp_min(1e-12),
            "espirit": lambda: calib.espirit_maps(y, mask),
            "lowres": lambda: calib.lowres_maps(y, mask),
        }
        for name, fn in estimators.items():
            t0 = time.perf_counter()
            maps = fn()
            dt = time.perf_counter() - t0
            rows.append({"benchmark": "mri_coil_maps", "case": f"{case} seed {seed}", "method": name, "peer": False,
                         "time_s": dt, "psnr": score(maps, mask)})
        try:
            import sigpy.mri
        except ModuleNotFoundError:
            rows.append({"benchmark": "mri_coil_maps", "case": f"{case} seed {seed}", "method": "sigpy EspiritCalib",
                         "peer": True, "time_s": None, "skipped": "sigpy is not installed"})
        else:
            t0 = time.perf_counter()
            maps = sigpy.mri.app.EspiritCalib(y[0].numpy(), calib_width=24, show_pbar=False).run()
            dt = time.perf_counter() - t0
            peer_maps = torch.from_numpy(np.asarray(maps)).to(torch.complex64)
            rows.append({"benchmark": "mri_coil_maps", "case": f"{case} seed {seed}", "method": "sigpy EspiritCalib",
                         "peer": True, "time_s": dt, "psnr": score(peer_maps, mask)})
    return rows


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(run(quick=os.environ.get("SENSEKIT_BENCH_QUICK") == "1"), indent=1))
