"""llr-tv's block side against the number of frames: the evidence for ``params.llr_tv_block`` (issue 10).

``sensekit run`` as shipped (llr-tv, up to 100 iterations, tol 1e-4, default weights) with ``block`` 8 and 16
on cases of ``benchmarks/mri_recon_v2.py``: 8 frames (rat cine / PINCAT), 20 frames (the built-in phantom,
ESPIRiT maps estimated by sensekit) and 40 frames (PINCAT).

Run: ``python benchmarks/mri_llr_tv_block.py`` (writes benchmarks/mri/llr_tv_block.json and .md).
"""
from __future__ import annotations

import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.mri_recon_v2 import _score, make_case  # noqa: E402

OUT = ROOT / "benchmarks" / "mri"
CASES = ("rat radial R8", "pincat radial R8", "rat vd-points R4", "pincat vd-lines R8", "rat radial R4",
         "pincat vd-points R4", "phantom default", "pincat40 vd-lines R6", "pincat40 radial R8")


def run_case(name):
    import torch
    from sensekit.apps.mri_recon import methods
    from sensekit.apps.mri_recon.app import Config, MRIRecon
    from sensekit.apps.mri_recon.model import forward_model
    torch.set_num_threads(1)
    inp, _, kind = make_case(name)
    k = inp["kspace"].to(torch.complex64)
    maps = inp["sens_maps"].to(torch.complex64) if kind == "known" else MRIRecon().maps_for(inp, Config())
    E = forward_model(maps, inp["mask"], k.shape[0])
    scale = float(E.H(k).abs().max())
    rows = []
    for block in (8, 16):
        c0 = time.process_time()
        x, iters, _ = methods.llr_tv(E, k / scale, Config(method="llr-tv", block=block))
        rows.append({"case": name, "frames": int(k.shape[0]), "block": block, "iterations": iters,
                     "cpu_s": round(time.process_time() - c0, 2),
                     "psnr": round(_score(x * scale, inp, maps)["psnr"], 2)})
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def write(rows):
    from sensekit.apps.mri_recon.params import llr_tv_block
    (OUT / "llr_tv_block.json").write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                                                       "rows": rows}, indent=1))
    lines = ["# llr-tv block side against the number of frames (issue 10)", "",
             " ".join(__doc__.split("\n\n")[1].split()), "",
             "| case | frames | psnr B=8 | psnr B=16 | B=16 − B=8 (dB) | rule's choice |", "|---|---|---|---|---|---|"]
    for case in dict.fromkeys(r["case"] for r in rows):
        a, b = (next(r for r in rows if r["case"] == case and r["block"] == s) for s in (8, 16))
        lines.append(f"| {case} | {a['frames']} | {a['psnr']} | {b['psnr']} | {b['psnr'] - a['psnr']:+.2f} | "
                     f"{llr_tv_block(a['frames'])} |")
    (OUT / "llr_tv_block.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    rows = []
    for name in sys.argv[1:] or CASES:
        rows += run_case(name)
    write(rows)
