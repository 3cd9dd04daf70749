"""isac: run time and accuracy (RMSE / CRB) of PLAIN against joint estimation for growing tensor sizes, one run.

Scene per size: 4 targets at least 2 FFT cells apart in every dimension, 10 dB per resource element, 28 GHz,
120 kHz subcarrier spacing, half-wavelength ULA, ranges 5-150 m, |velocity| <= 60 m/s (the scene extent is
written on the channel, so PLAIN's automatic compression factors follow from it).  Methods:

* ``plain`` (sensekit default: compression, per-dimension unitary ESPRIT + MDL, tensor-OMP fusion, joint ML
  refinement) and ``plain`` without its refinement;
* ``fft``: 3-D zero-padded Hann periodogram + peak picking + 3-point interpolation (zero padding 2, 1 for
  the largest size to bound memory) — the classical joint baseline;
* ``ml``: ``fft`` followed by the same variable-projection ML refinement — the joint accuracy reference;
* ``esprit``: joint 3-D ESPRIT (spatial smoothing, FB covariance, MDL, pairing by one eigenvector set), no
  refinement; sizes whose smallest sub-block (1/8 of every dimension) exceeds ``ESPRIT_ROWS`` are refused by
  the app (exit-3 error naming ``esprit_rows``) and listed as refused;
* ``sequential``: angle, then delay per angle, then Doppler per angle-delay pair, no refinement;
* ``krosbl``: Kronecker SBL rounds on the compressed grid + ML refinement (smallest size only: ~1 s there);
* ``plain (default threads)``: the largest size again with torch's default thread count.

No peer package implements this estimator (doa-py is 1-D angle only; the authors' code is MATLAB): every row
is sensekit, the ratios are PLAIN's time against the joint methods in the same run.  A joint 3-D (unitary
tensor) ESPRIT baseline is the ``esprit`` row.  One thread (``torch.set_num_threads(1)``); the machine is
shared, so times are the best of ``REPEAT`` runs.
"""
from __future__ import annotations

import json
import sys
import time

import torch

BENCH = "isac"
REPEAT = 1
SIZES = [(16, 128, 64), (32, 256, 128), (64, 512, 128), (64, 1024, 256)]
ESPRIT_ROWS = 2048       # covariance size of the joint ESPRIT (eigendecomposition ~ rows^3)
DEFAULT_THREADS = torch.get_num_threads()


def _scene(size, seed=0):
    from sensekit.app.base import make_config
    from sensekit.app.registry import get_app
    app = get_app("isac")
    A, K, L = size
    sim = make_config(app.SimConfig, {"antennas": A, "subcarriers": K, "symbols": L, "targets": 4,
                                      "snr_db": 10.0, "max_range_m": 150.0, "max_speed_mps": 60.0})
    g = torch.Generator().manual_seed(seed)
    arrays, attrs = app.simulate(sim, g)
    return app, app.prepare(arrays, attrs, {})


def _one(app, inputs, opts):
    from sensekit.app.base import make_config
    cfg = make_config(app.Config, opts)
    best, out = float("inf"), None
    for _ in range(REPEAT):
        t = time.perf_counter()
        out = app.run(inputs, cfg, generator=torch.Generator().manual_seed(0))
        best = min(best, time.perf_counter() - t)
    m = app.score(out.outputs, inputs)
    return best, m


def run(quick: bool = False) -> list[dict]:
    from sensekit.io.errors import ConfigError
    torch.set_num_threads(1)
    rows = []
    sizes = SIZES[:2] if quick else SIZES
    for size in sizes:
        app, inputs = _scene(size)
        case = "x".join(map(str, size))
        pad = 1 if size[0] * size[1] * size[2] > 8_000_000 else 2
        runs = {"plain": {}, "plain (no refinement)": {"refine": "off"},
                "fft": {"method": "fft", "pad": pad}, "fft+ml": {"method": "ml", "pad": pad},
                "esprit": {"method": "esprit", "esprit_rows": ESPRIT_ROWS},
                "sequential": {"method": "sequential"}}
        if size == sizes[0]:
            runs["krosbl"] = {"method": "krosbl"}
        times, new = {}, []
        for name, opts in runs.items():
            row = {"benchmark": BENCH, "case": case, "method": name, "peer": False,
                   "resource_elements": size[0] * size[1] * size[2], "options": json.dumps(opts)}
            try:
                t, m = _one(app, inputs, opts)
            except ConfigError as e:
                row.update(time_s=None, refused=str(e))
                new.append(row)
                continue
            times[name] = t
            row.update(time_s=t, detected=m["detected"], missed=m["missed"], false=m["false"],
                       **{k: m[k] for k in m if k.startswith("rmse")})
            new.append(row)
        if size == sizes[-1]:
            torch.set_num_threads(DEFAULT_THREADS)
            t, m = _one(app, inputs, {})
            torch.set_num_threads(1)
            new.append({"benchmark": BENCH, "case": case, "method": f"plain ({DEFAULT_THREADS} threads)",
                        "peer": False, "resource_elements": size[0] * size[1] * size[2], "options": "{}",
                        "time_s": t, "detected": m["detected"], "missed": m["missed"], "false": m["false"],
                        **{k: m[k] for k in m if k.startswith("rmse")}})
        for r in new:
            if r["time_s"] is not None:
                r["speedup_vs_fft_ml"] = times["fft+ml"] / r["time_s"]
                if "esprit" in times:
                    r["speedup_vs_esprit"] = times["esprit"] / r["time_s"]
        rows += new
        print(json.dumps(new), file=sys.stderr, flush=True)
        del inputs
    return rows


def markdown(rows) -> str:
    head = ("| size | method | time (s) | x faster than fft+ml | x faster than esprit | found/missed/false | "
            "RMSE/CRB angle | range | velocity |\n|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    nan = float("nan")
    for r in rows:
        if r["time_s"] is None:
            lines.append(f"| {r['case']} | {r['method']} | refused | | | | | | |")
            continue
        lines.append(f"| {r['case']} | {r['method']} | {r['time_s']:.3f} | {r['speedup_vs_fft_ml']:.1f} | "
                     f"{r.get('speedup_vs_esprit', nan):.1f} | "
                     f"{r['detected']}/{r['missed']}/{r['false']} | {r.get('rmse_over_crb_angle', nan):.2f}"
                     f" | {r.get('rmse_over_crb_range', nan):.2f} | "
                     f"{r.get('rmse_over_crb_velocity', nan):.2f} |")
    refused = [r for r in rows if r["time_s"] is None]
    if refused:
        lines.append("")
        lines += [f"* {r['case']} {r['method']}: {r['refused']}" for r in refused]
    return "\n".join(lines)


if __name__ == "__main__":
    import pathlib
    rows = run(quick="--quick" in sys.argv)
    out = pathlib.Path(__file__).resolve().parent / BENCH
    out.mkdir(exist_ok=True)
    (out / ("results_quick.json" if "--quick" in sys.argv else "results.json")).write_text(json.dumps(rows, indent=1))
    (out / ("results_quick.md" if "--quick" in sys.argv else "results.md")).write_text(markdown(rows) + "\n")
    print(markdown(rows))
