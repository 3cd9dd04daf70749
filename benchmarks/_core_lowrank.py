"""Low-rank core benchmarks: rsvd vs scikit-learn, PCP vs pyrpca, completion scaling (sketched vs exact).

Part of ``benchmarks/core.py`` (``python -m benchmarks.core [--quick]``); prints a JSON list of rows.
"""
from __future__ import annotations

import json
import sys
import time

import torch

BENCH = "core_lowrank"


def _rel(a, b):
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def _row(case, method, peer, time_s, **quality):
    return {"benchmark": BENCH, "case": case, "method": method, "peer": peer, "time_s": time_s, **quality}


def _best(fn, repeats):
    """Best wall time of ``repeats`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_rsvd(quick):
    import sensekit as sk
    m, n, k = (600, 400, 10) if quick else (3000, 2000, 20)
    g = torch.Generator().manual_seed(0)
    U = torch.linalg.qr(torch.randn(m, k, dtype=torch.float64, generator=g)).Q
    V = torch.linalg.qr(torch.randn(n, k, dtype=torch.float64, generator=g)).Q
    A = (U * torch.logspace(1, 0, k, dtype=torch.float64)[None]) @ V.T + 1e-2 * torch.randn(m, n, dtype=torch.float64,
                                                                                            generator=g) / n ** 0.5
    s_ref = torch.linalg.svdvals(A)[:k]
    case = f"rsvd {m}x{n} rank {k}, p=10, q=2, float64"
    rows = []
    t, (Uk, s, Vh) = _best(lambda: sk.solvers.rsvd(A, k, oversample=10, power_iters=2, generator=g), 3)
    err = float((s - s_ref).abs().max() / s_ref[0])
    resid = float(torch.linalg.norm(A - Uk * s[None] @ Vh) / torch.linalg.norm(A))
    rows.append(_row(case, "sensekit.rsvd", False, t, sv_err=err, rel_resid=resid))
    try:
        from sklearn.utils.extmath import randomized_svd
    except ImportError as e:
        rows.append(_row(case, "sklearn.randomized_svd", True, None, skipped=f"scikit-learn not installed ({e})"))
        return rows
    An = A.numpy()
    t2, (U2, s2, Vh2) = _best(lambda: randomized_svd(An, k, n_oversamples=10, n_iter=2, random_state=0), 3)
    s2 = torch.from_numpy(s2)
    err2 = float((s2 - s_ref).abs().max() / s_ref[0])
    resid2 = float(torch.linalg.norm(A - torch.from_numpy(U2 * s2.numpy()[None] @ Vh2)) / torch.linalg.norm(A))
    rows.append(_row(case, "sklearn.randomized_svd", True, t2, sv_err=err2, rel_resid=resid2))
    rows.append(_row(case, "ratio sensekit/sklearn", False, t / t2, time_ratio=t / t2, resid_ratio=resid / resid2))
    return rows


def bench_pcp(quick):
    import sensekit as sk
    n, r = (150, 5) if quick else (400, 10)
    g = torch.Generator().manual_seed(1)
    L0 = torch.randn(n, r, dtype=torch.float64, generator=g) @ torch.randn(r, n, dtype=torch.float64, generator=g)
    L0 = L0 / n ** 0.5
    S0 = torch.zeros(n, n, dtype=torch.float64)
    idx = torch.randperm(n * n, generator=g)[:int(0.05 * n * n)]
    S0.view(-1)[idx] = torch.sign(torch.randn(idx.numel(), dtype=torch.float64, generator=g))
    M = L0 + S0
    case = f"PCP {n}x{n} rank {r} + 5% sparse, tol 1e-7, float64"
    rows = []
    t, (L, S) = _best(lambda: sk.solvers.pcp(M, tol=1e-7), 2)
    e = _rel(L, L0)
    rows.append(_row(case, "sensekit.pcp", False, t, rel_err=e, rel_err_S=_rel(S, S0)))
    try:
        from pyrpca import rpca_pcp_ialm
    except ImportError as ex:
        rows.append(_row(case, "pyrpca.rpca_pcp_ialm", True, None, skipped=f"pyrpca not installed ({ex})"))
        return rows
    Mn = M.numpy()
    t2, (L2, S2) = _best(lambda: rpca_pcp_ialm(Mn, 1 / n ** 0.5, tol=1e-7, verbose=False), 2)
    e2 = _rel(torch.from_numpy(L2), L0)
    rows.append(_row(case, "pyrpca.rpca_pcp_ialm", True, t2, rel_err=e2, rel_err_S=_rel(torch.from_numpy(S2), S0)))
    rows.append(_row(case, "ratio sensekit/pyrpca", False, t / t2, time_ratio=t / t2, err_ratio=e / e2))
    return rows


def _complete_timing(M, mask, k, method, iters):
    import sensekit as sk
    stamps = []
    sk.solvers.complete(M, mask, k, tol=0.0, max_iter=iters, method=method,
                        generator=torch.Generator().manual_seed(0),
                        callbacks=[lambda info, st: stamps.append((info["time"], info["residual"]))])
    dts = [b[0] - a[0] for a, b in zip(stamps[:-1], stamps[1:])]
    return min(dts), stamps[-1][1]          # min over iterations: least disturbed by other load


def bench_completion(quick):
    import sensekit as sk
    rows = []
    m = n = 400 if quick else 2000
    g = torch.Generator().manual_seed(2)
    ks = (4, 8) if quick else (5, 10, 20, 40)
    ps = (0.1, 0.2) if quick else (0.05, 0.1, 0.2, 0.4)
    iters = 3 if quick else 5
    # time per alternating iteration (both half-steps) vs k at fixed |Ω|
    p0 = 0.2 if quick else 0.25
    mask = torch.rand(m, n, generator=g) < p0
    for k in ks:
        M = torch.randn(m, k, dtype=torch.float64, generator=g) @ torch.randn(k, n, dtype=torch.float64, generator=g)
        for method in ("sketch", "exact"):
            t, res = _complete_timing(M, mask, k, method, iters)
            rows.append(_row(f"completion {m}x{n} |Ω|={int(mask.sum())} vs k", method, False, t, k=k,
                             n_obs=int(mask.sum()), residual_after=res))
    # vs |Ω| at fixed k
    k = ks[-1] // 2 if not quick else ks[-1]
    M = torch.randn(m, k, dtype=torch.float64, generator=g) @ torch.randn(k, n, dtype=torch.float64, generator=g)
    for p in ps:
        mk = torch.rand(m, n, generator=g) < p
        for method in ("sketch", "exact"):
            t, res = _complete_timing(M, mk, k, method, iters)
            rows.append(_row(f"completion {m}x{n} k={k} vs |Ω|", method, False, t, k=k, n_obs=int(mk.sum()),
                             residual_after=res))
    # accuracy: full runs to tol on one planted instance
    k = ks[0]
    M = torch.randn(m, k, dtype=torch.float64, generator=g) @ torch.randn(k, n, dtype=torch.float64, generator=g)
    mk = torch.rand(m, n, generator=g) < p0
    errs = {}
    for method in ("sketch", "exact"):
        t, X = _best(lambda: sk.solvers.complete(M, mk, k, tol=1e-10, method=method,
                                                 generator=torch.Generator().manual_seed(0)), 1)
        errs[method] = (t, _rel(X, M))
        rows.append(_row(f"completion {m}x{n} k={k} to tol 1e-10", method, False, t, rel_err=errs[method][1]))
    rows.append(_row(f"completion {m}x{n} k={k} to tol 1e-10", "ratio sketch/exact", False,
                     errs["sketch"][0] / errs["exact"][0], time_ratio=errs["sketch"][0] / errs["exact"][0],
                     err_ratio=errs["sketch"][1] / errs["exact"][1]))
    return rows


def run(quick: bool = False) -> list[dict]:
    torch.set_num_threads(1)
    rows = []
    for fn in (bench_rsvd, bench_pcp, bench_completion):
        rows.extend(fn(quick))
    return rows


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
