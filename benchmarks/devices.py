"""Every app end to end on CPU and on CUDA: the GPU speed-up per app.

Each registered app runs its built-in simulation (the input of ``sensekit run APP``; with ``quick``, its
declared ``quick_sim`` / ``quick_options``) through the same per-sample path as the CLI, moving the input
to the device and the result back.  The time is the fastest of a few runs after one warm-up run (CUDA
context, FFT plans); apps join by being registered.
"""
from __future__ import annotations

import json


def run(quick: bool = False) -> list[dict]:
    import torch
    from sensekit.app.base import make_config
    from sensekit.app.registry import app_names, get_app
    from sensekit.app.runner import run_sample, sim_config, simulated_sample

    from benchmarks._timing import best_time

    rows = []
    for name in app_names():
        app = get_app(name)
        sample = simulated_sample(app, sim=sim_config(app, quick=quick))
        cfg = make_config(app.Config, app.quick_options if quick else {})
        case = f"{name}: {'quick' if quick else 'default'} simulation"
        method = f"{name} {getattr(cfg, 'method', '')}".strip()
        for dev in ("cpu", "cuda"):
            row = {"benchmark": "devices", "case": case, "method": method, "peer": False, "device": dev}
            if dev == "cuda" and not torch.cuda.is_available():
                rows.append({**row, "skipped": "CUDA is not available"})
                continue
            device = torch.device(dev)
            secs, res = best_time(lambda: run_sample(app, sample, cfg, device=device, seed=0),
                                  repeat=1 if quick else 3, warmup=1, device=device)
            rows.append({**row, "time_s": secs, "iterations": res.iterations, **res.metrics})
    return rows


if __name__ == "__main__":
    print(json.dumps(run(quick=True), indent=1))
