"""Benchmark: sensekit's Tucker/CP against TensorLy, and Kronecker SBL against plain SBL.

``run(quick=False) -> list[dict]``; part of ``benchmarks/core.py`` (``python -m benchmarks.core [--quick]``)
prints the rows as JSON.  Run with ``OMP_NUM_THREADS=1`` so that numpy (TensorLy's
default backend) and torch both use one thread.

Cases
-----
* Tucker (HOOI) on a planted multilinear-rank tensor plus noise: TensorLy
  ``tucker`` (numpy backend, and pytorch backend when available) vs
  ``sensekit.solvers.tucker``; same tensor, same ranks, same tolerance.
* CP-ALS on a planted rank-R tensor plus noise, well-conditioned and with
  nearly collinear factors (ALS "swamp"): TensorLy ``parafac`` vs
  ``sensekit.solvers.cp_als``, both SVD-initialised.
* Kronecker SBL (AM and SVD M-steps) vs plain SBL on the dense Kronecker
  dictionary, the setting of He & Joseph (three factors of N=15 with
  M = (8, 12, 15) measurements, 3 non-zeros per factor, SNR 20 dB; quick: N=10).

Quality: ``rel_err`` = ‖T − T̂‖/‖T‖ against the noisy input for decompositions,
``nmse`` and support recovery rate ``srr`` for sparse recovery.  Our rows carry
``time_ratio`` and ``rel_err_ratio`` (ours / peer) when a peer ran.
"""
from __future__ import annotations

import json
import statistics
import sys
import time

BENCH = "core_tensor"


def _timeit(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _rel(a, b):
    import torch
    return float(torch.linalg.vector_norm(torch.as_tensor(a) - b) / torch.linalg.vector_norm(b))


def _planted_tucker(shape, ranks, noise, seed):
    import torch
    import sensekit as sk
    g = torch.Generator().manual_seed(seed)
    U = [torch.linalg.qr(torch.randn(n, r, dtype=torch.float64, generator=g))[0] for n, r in zip(shape, ranks)]
    T = sk.solvers.tucker_to_tensor(torch.randn(*ranks, dtype=torch.float64, generator=g), U)
    return T + noise * T.norm() / T.numel() ** 0.5 * torch.randn(T.shape, dtype=torch.float64, generator=g)


def _planted_cp(shape, rank, noise, collinearity, seed):
    import torch
    import sensekit as sk
    g = torch.Generator().manual_seed(seed)
    factors = []
    for n in shape:
        base = torch.randn(n, 1, dtype=torch.float64, generator=g)
        A = torch.randn(n, rank, dtype=torch.float64, generator=g)
        factors.append(collinearity * base + (1 - collinearity ** 2) ** 0.5 * A)
    T = sk.solvers.cp_to_tensor(torch.ones(rank, dtype=torch.float64), factors)
    return T + noise * T.norm() / T.numel() ** 0.5 * torch.randn(T.shape, dtype=torch.float64, generator=g)


def _tensorly_backends():
    try:
        import tensorly as tl
    except ImportError as e:
        return None, f"tensorly not installed ({e})"
    backends = ["numpy"]
    try:
        tl.set_backend("pytorch")
        backends.append("pytorch")
    except Exception:  # noqa: BLE001 - a missing optional backend only drops that row
        pass
    tl.set_backend("numpy")
    return backends, None


def _decomposition_rows(quick, repeats):
    import numpy as np
    import torch
    import sensekit as sk

    rows = []
    backends, why = _tensorly_backends()
    n = 40 if quick else 80
    tucker_cases = [(f"tucker {n}x{n + 10}x{n + 20} ranks (5,6,7) noise 0.1",
                     _planted_tucker((n, n + 10, n + 20), (5, 6, 7), 0.1, 0), (5, 6, 7))]
    cp_cases = [(f"cp {n // 2 + 10}x{n // 2 + 20}x{n // 2 + 30} rank 5 noise 0.01",
                 _planted_cp((n // 2 + 10, n // 2 + 20, n // 2 + 30), 5, 0.01, 0.0, 1), 5),
                (f"cp {n // 2 + 10}x{n // 2 + 20}x{n // 2 + 30} rank 4 collinear 0.9 noise 0.01",
                 _planted_cp((n // 2 + 10, n // 2 + 20, n // 2 + 30), 4, 0.01, 0.9, 2), 4)]

    def ours_tucker(T, r):
        core, U = sk.solvers.tucker(T, r, tol=1e-10, max_iter=100)
        return sk.solvers.tucker_to_tensor(core, U)

    def ours_cp(T, r):
        w, F = sk.solvers.cp_als(T, r, tol=1e-10, max_iter=500)
        return sk.solvers.cp_to_tensor(w, F)

    def peer_tucker(T, r, backend):
        import tensorly as tl
        tl.set_backend(backend)
        X = tl.tensor(T.numpy() if backend == "numpy" else T)
        res = tl.decomposition.tucker(X, rank=list(r), n_iter_max=100, init="svd", tol=1e-10)
        out = tl.tucker_to_tensor(res)
        tl.set_backend("numpy")
        return torch.as_tensor(np.asarray(out) if backend == "numpy" else out)

    def peer_cp(T, r, backend):
        import tensorly as tl
        tl.set_backend(backend)
        X = tl.tensor(T.numpy() if backend == "numpy" else T)
        res = tl.decomposition.parafac(X, rank=r, n_iter_max=500, init="svd", tol=1e-10)
        out = tl.cp_to_tensor(res)
        tl.set_backend("numpy")
        return torch.as_tensor(np.asarray(out) if backend == "numpy" else out)

    for kind, cases, ours, peer in (("tucker", tucker_cases, ours_tucker, peer_tucker),
                                    ("parafac", cp_cases, ours_cp, peer_cp)):
        for case, T, r in cases:
            t_ours, rec = _timeit(lambda: ours(T, r), repeats)
            row = {"benchmark": BENCH, "case": case, "method": f"sensekit.{'tucker' if kind == 'tucker' else 'cp_als'}",
                   "peer": False, "time_s": t_ours, "rel_err": _rel(rec, T), "threads": torch.get_num_threads()}
            rows.append(row)
            if backends is None:
                rows.append({"benchmark": BENCH, "case": case, "method": f"tensorly.{kind}", "peer": True,
                             "skipped": why})
                continue
            for b in backends:
                t_peer, prec = _timeit(lambda: peer(T, r, b), repeats)
                err = _rel(prec.to(torch.float64), T)
                rows.append({"benchmark": BENCH, "case": case, "method": f"tensorly.{kind} ({b})", "peer": True,
                             "time_s": t_peer, "rel_err": err})
                row[f"time_ratio_{b}"] = t_ours / t_peer
                row[f"rel_err_ratio_{b}"] = row["rel_err"] / err
            row["time_ratio"] = row["time_ratio_numpy"]
            row["rel_err_ratio"] = row["rel_err_ratio_numpy"]
    return rows


def _kron_problem(N, Ms, K, snr_db, seed):
    import torch
    import sensekit as sk
    g = torch.Generator().manual_seed(seed)
    As = [torch.randn(m, N, dtype=torch.float64, generator=g) / m ** 0.5 for m in Ms]
    xs = []
    for _ in Ms:  # as in the authors' simulations: Gaussian non-zeros on a random support per factor
        v = torch.zeros(N, dtype=torch.float64)
        v[torch.randperm(N, generator=g)[:K]] = torch.randn(K, dtype=torch.float64, generator=g)
        xs.append(v)
    X = torch.einsum("i,j,k->ijk", *xs)
    Y0 = sk.linop.Kron(As)(X)
    s2 = float((Y0 ** 2).mean()) / 10 ** (snr_db / 10)
    return As, X, Y0 + s2 ** 0.5 * torch.randn(Y0.shape, dtype=torch.float64, generator=g), s2


def _sbl_rows(quick):
    import torch
    import sensekit as sk
    N, Ms, K, snr, trials = (10, (8, 8, 8), 2, 20.0, 2) if quick else (15, (8, 12, 15), 3, 20.0, 3)
    case = f"kron N={N}^3 M={Ms} K={K}/factor SNR {snr:g} dB, {trials} trials"
    acc = {m: {"time_s": 0.0, "nmse": [], "srr": []} for m in ("kron_sbl (am)", "kron_sbl (svd)", "sbl")}
    for t in range(trials):
        As, X, Y, s2 = _kron_problem(N, Ms, K, snr, 100 + t)
        supp = set(torch.nonzero(X.reshape(-1)).flatten().tolist())
        A = torch.kron(torch.kron(As[0], As[1]), As[2])  # only the plain SBL sees the dense dictionary
        runs = {"kron_sbl (am)": lambda: sk.solvers.kron_sbl(As, Y, mstep="am", noise_var=s2).x,
                "kron_sbl (svd)": lambda: sk.solvers.kron_sbl(As, Y, mstep="svd", noise_var=s2).x,
                "sbl": lambda: sk.solvers.sbl(A, Y.reshape(-1), noise_var=s2).x}
        for name, fn in runs.items():
            t0 = time.perf_counter()
            x = fn().reshape(-1)
            acc[name]["time_s"] += time.perf_counter() - t0
            acc[name]["nmse"].append(float(((x - X.reshape(-1)).norm() / X.norm()) ** 2))
            top = set(torch.topk(x.abs(), len(supp)).indices.tolist())
            acc[name]["srr"].append(len(top & supp) / len(supp))
    rows = []
    for name, a in acc.items():
        rows.append({"benchmark": BENCH, "case": case, "method": f"sensekit.{name}", "peer": False,
                     "time_s": a["time_s"] / trials, "nmse": sum(a["nmse"]) / trials,
                     "nmse_median": statistics.median(a["nmse"]), "srr": sum(a["srr"]) / trials,
                     "threads": torch.get_num_threads()})
    base = rows[-1]["time_s"]
    for r in rows[:-1]:
        r["sbl_time_over_this"] = base / r["time_s"]
    return rows


def run(quick: bool = False) -> list[dict]:
    """All measurements as a list of row dicts (see the module docstring)."""
    rows = _decomposition_rows(quick, repeats=1 if quick else 3)
    rows += _sbl_rows(quick)
    return rows


if __name__ == "__main__":
    import torch
    torch.set_num_threads(1)
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
