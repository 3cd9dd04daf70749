"""rrlbs before/after the speed work (issue 12), in one process with NMF: ``python -m benchmarks.unmix_before_after
OLD_UNMIXING_PY`` where OLD_UNMIXING_PY is a copy of ``sensekit/solvers/unmixing.py`` before the change (e.g.
``git show 931e152:sensekit/solvers/unmixing.py > /tmp/old.py``). Same robust starts (seeds 0-2), 60 iterations,
one thread; prints mean SAD / RMSE and median wall time. Not part of the result files."""
from __future__ import annotations

import importlib.util
import sys
import time

import numpy as np
import torch

from benchmarks import unmix as b


def main(old_path):
    from sensekit.app.base import make_config
    from sensekit.apps.unmix.app import Unmix
    from sensekit.apps.unmix.methods import _data_term, robust_start
    from sensekit.solvers import unmixing as U
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("sensekit.solvers.unmixing_old", old_path)
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old
    spec.loader.exec_module(old)
    for case, (sc, cube, good) in b._cases(False).items():
        Xn = torch.from_numpy(b._normalised(cube))
        cfg = make_config(Unmix.Config, {})
        res = {}
        for seed in (0, 1, 2):
            E0, A0 = robust_start(Xn, 3, cfg, torch.Generator().manual_seed(seed))
            lam = 3.0 * _data_term(Xn, E0, A0) / Xn.shape[1]
            for name, mod, ce in (("before, check_every=1", old, 1), ("before, check_every=10", old, 10),
                                  ("after", U, 10)):
                t = time.perf_counter()
                E, A, r = mod.rrlbs(Xn, 3, E0=E0, A0=A0, lam=lam, p=0.5, mu=0.5, max_iter=60, tol=1e-5, inner=20,
                                    check_every=ce)
                dt = time.perf_counter() - t
                s = b._score(sc, E, A, good)
                res.setdefault(name, []).append((s["sad_mean_deg"], s["rmse_abundance"], dt))
            t = time.perf_counter()
            E, A, _ = U.nmf(Xn, E0, U.fcls(Xn, E0), max_iter=60, tol=1e-6)
            dt = time.perf_counter() - t
            s = b._score(sc, E, U.project_simplex(A), good)
            res.setdefault("nmf (same start)", []).append((s["sad_mean_deg"], s["rmse_abundance"], dt))
            E, A, dt = b._sklearn(Xn.numpy(), seed, "nndsvda", "cd")
            s = b._score(sc, E, A, good)
            res.setdefault("sklearn NMF nndsvda cd", []).append((s["sad_mean_deg"], s["rmse_abundance"], dt))
        for k, v in res.items():
            v = np.array(v)
            print(f"{case:16s} {k:24s} SAD {v[:, 0].mean():.3f} RMSE {v[:, 1].mean():.4f} "
                  f"time median {np.median(v[:, 2]):.2f}s")


if __name__ == "__main__":
    main(sys.argv[1])
