"""How the shipped ``rim`` model generalises: mri-recon's rim vs zero-filled, cg-sense and ls (defaults).

Cases (every input written by ``sensekit simulate`` / ``sensekit convert`` with the seed shown):

* ``phantom`` — the built-in simulation (128², 20 frames, 8 coils, vd-lines R6): in distribution (the
  training drew phantoms of this generator, 48–96 px, other seeds).
* ``pincat`` — PINCAT phantom, simulated acquisition, vd-lines R8: frames SEEN in training.
* ``rat`` — real rat cardiac cine (magnitude), simulated acquisition, vd-lines R6 and R8: HELD OUT.
* ``brain16`` — real fully sampled 16-coil brain k-space, retrospectively undersampled R4 (12 ACS lines):
  HELD OUT (static, so no ls).

Coil maps are estimated (ESPIRiT) as ``run`` does; ``time_s`` is the run's wall time including them.
Quality: psnr / ssim / nrmse of CONTRACTS.md against ``image_ref``.
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile

CASES = {  # name: (source under $SENSEKIT_DATA or None for the simulator, options, held_out)
    "phantom R6 (in distribution)": (None, {}, False),
    "pincat R8 (seen in training)": ("mri/pincat_phantom_50frames.mat", {"accel": 8}, False),
    "rat cine R6 (held out)": ("mri/rat_cardiac_cine_8frames.mat", {"accel": 6}, True),
    "rat cine R8 (held out)": ("mri/rat_cardiac_cine_8frames.mat", {"accel": 8}, True),
    "brain16 R4 (held out, real k-space)": ("mri/brain_16coil_kspace_full.mat", {"accel": 4, "acs": 12}, True),
}
METHODS = ("zero-filled", "cg-sense", "ls", "rim")


def _data_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("SENSEKIT_DATA",
                                       pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))


def _input(case: str, folder: str, seed: int = 0) -> str:
    from click.testing import CliRunner
    from sensekit.cli import main
    src, opts, _ = CASES[case]
    out = os.path.join(folder, "in.h5")
    sets = sum((["--set", f"{k}={v}"] for k, v in opts.items()), [])
    args = ["simulate", "mri-recon", "-o", out] if src is None else \
        ["convert", "mri-recon", str(_data_root() / src), "-o", out]
    r = CliRunner().invoke(main, args + sets + ["--seed", str(seed)], catch_exceptions=False)
    if r.exit_code != 0:
        raise RuntimeError(r.output)
    return out


def run(quick: bool = False) -> list[dict]:
    from sensekit.app.base import make_config
    from sensekit.app.registry import get_app
    from sensekit.app.runner import run_app

    app = get_app("mri-recon")
    cases = list(CASES)[:3:2] if quick else list(CASES)
    rows = []
    for case in cases:
        src, _, held_out = CASES[case]
        base = {"benchmark": "mri_rim", "case": case, "peer": False, "held_out": held_out}
        if src is not None and not (_data_root() / src).exists():
            rows += [{**base, "method": m, "time_s": None, "skipped": f"{src} not found"} for m in METHODS]
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = _input(case, tmp)
            for m in METHODS:
                if m == "ls" and case.startswith("brain16"):
                    rows.append({**base, "method": m, "time_s": None, "skipped": "static image: ls needs frames"})
                    continue
                res = run_app(app, input_path=path, config=make_config(app.Config, {"method": m}), device="cpu")
                rows.append({**base, "method": m, "time_s": res.provenance["wall_time_s"],
                             **{k: float(v) for k, v in res.metrics.items()}})
    return rows


def markdown(rows: list[dict]) -> str:
    """One line per case: PSNR / SSIM of each method, and the time of rim and ls."""
    cases = list(dict.fromkeys(r["case"] for r in rows))
    head = "| case | " + " | ".join(f"{m} PSNR / SSIM" for m in METHODS) + " | rim time | ls time |"
    lines = [head, "|" + " --- |" * (len(METHODS) + 3)]
    for c in cases:
        by = {r["method"]: r for r in rows if r["case"] == c}
        cell = [f"{by[m]['psnr']:.2f} / {by[m]['ssim']:.3f}" if "psnr" in by.get(m, {}) else "n/a" for m in METHODS]
        t = [f"{by[m]['time_s']:.1f} s" if by.get(m, {}).get("time_s") else "n/a" for m in ("rim", "ls")]
        lines.append(f"| {c} | " + " | ".join(cell + t) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    import torch
    torch.set_num_threads(1)
    out = run(quick="--quick" in sys.argv)
    print(json.dumps(out, indent=1))
    print(markdown(out))
