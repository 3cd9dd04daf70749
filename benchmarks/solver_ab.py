"""Same-process A/B of the solver family: this tree against a git revision (default ``main``).

The reference revision's ``sensekit`` package is extracted (``git archive``) into a temporary folder
under the name ``_sensekit_ref`` and imported next to this tree's ``sensekit``; every case then runs
the two alternately (``--repeats`` rounds, best time of each kept), on one thread, on the problems of
``benchmarks/core.py`` (Tucker, CP-ALS, SBL, Kronecker SBL) and two small greedy problems (OMP,
tensor OMP: where the driver's per-iteration cost shows most).  Each row gives both times, their
ratio (this tree / reference: below 1 is faster), each one's time over a bare ``init`` + ``step`` loop of
the same solver and iteration count (this tree's solvers without the driver: what the driver's checks,
history and stop logic cost), whether the outputs are bitwise identical, whether
the reference repeats itself bitwise (OMP's batched ``lstsq`` does not, run to run) and whether the
outputs agree to 1e-12.

Run::

    OMP_NUM_THREADS=1 python benchmarks/solver_ab.py [--ref REV] [--repeats 7] [--quick]
"""
from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_ref(rev: str, where: str):
    """Import revision ``rev`` of the ``sensekit`` package as ``_sensekit_ref`` (extracted under ``where``)."""
    blob = subprocess.run(["git", "-C", ROOT, "archive", rev, "sensekit"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
        tf.extractall(where, filter="data")
    os.rename(os.path.join(where, "sensekit"), os.path.join(where, "_sensekit_ref"))
    sys.path.insert(0, where)
    return importlib.import_module("_sensekit_ref")


def cases(quick: bool):
    import torch
    sys.path.insert(0, HERE)
    from _core_tensor import _kron_problem, _planted_cp, _planted_tucker

    n = 40 if quick else 80
    T = _planted_tucker((n, n + 10, n + 20), (5, 6, 7), 0.1, 0)
    C1 = _planted_cp((n // 2 + 10, n // 2 + 20, n // 2 + 30), 5, 0.01, 0.0, 1)
    C2 = _planted_cp((n // 2 + 10, n // 2 + 20, n // 2 + 30), 4, 0.01, 0.9, 2)
    N, Ms, K = (10, (8, 8, 8), 2) if quick else (15, (8, 12, 15), 3)
    As, X, Y, s2 = _kron_problem(N, Ms, K, 20.0, 100)
    A = torch.kron(torch.kron(As[0], As[1]), As[2])
    g = torch.Generator().manual_seed(0)
    Ao = torch.randn(64, 256, dtype=torch.float64, generator=g)
    xo = torch.zeros(256, dtype=torch.float64)
    xo[torch.randperm(256, generator=g)[:8]] = torch.randn(8, dtype=torch.float64, generator=g)
    yo = Ao @ xo
    Ds = [torch.randn(m, 2 * m, dtype=torch.complex128, generator=g) for m in (8, 16, 16)]
    Yt = torch.randn(4, 8, 16, 16, dtype=torch.complex128, generator=g)

    def tucker(sk):
        core, U = sk.solvers.tucker(T, (5, 6, 7), tol=1e-10, max_iter=100)
        return [core, *U]

    def cp(C, r):
        def f(sk):
            w, F = sk.solvers.cp_als(C, r, tol=1e-10, max_iter=500)
            return [w, *F]
        return f

    return {
        f"tucker {n}x{n + 10}x{n + 20} ranks (5,6,7)": tucker,
        "cp rank 5": cp(C1, 5),
        "cp rank 4 collinear 0.9": cp(C2, 4),
        f"sbl dense {tuple(A.shape)}": lambda sk: [sk.solvers.sbl(A, Y.reshape(-1), noise_var=s2).x],
        "kron_sbl (svd)": lambda sk: [sk.solvers.kron_sbl(As, Y, mstep="svd", noise_var=s2).x],
        "kron_sbl (am)": lambda sk: [sk.solvers.kron_sbl(As, Y, mstep="am", noise_var=s2).x],
        "omp 64x256, 8 atoms": lambda sk: [sk.solvers.omp(Ao, yo, 8)],
        "omp 64x256, 8 atoms, tol 1e-9": lambda sk: [sk.solvers.omp(Ao, yo, 8, tol=1e-9)],
        "tensor_omp 8x16x16, 4 snapshots, 6 atoms": lambda sk: list(sk.solvers.tensor_omp(Yt, Ds, 6)),
    }


class _Bare:
    """A stand-in for ``solve`` in the solver modules of this tree: ``init`` then exactly as many ``step`` calls
    as the real driver made (recorded by :meth:`record`), no checks, history or callbacks: what a hand-written
    loop costs, to show the driver's own share."""

    def __init__(self, sk):
        import importlib as il
        self.base = il.import_module(sk.__name__ + ".solvers.base")
        self.mods = [il.import_module(sk.__name__ + ".solvers." + m) for m in ("tensor", "sparse", "bayes")]
        self.counts, self.mode = [], None

    def _solve(self, solver, problem, *, x0=None, stop=None, callbacks=(), check_every=1, record_objective=False):
        if self.mode == "record":
            res = self.base.solve(solver, problem, x0=x0, stop=stop, callbacks=callbacks, check_every=check_every,
                                  record_objective=record_objective)
            self.counts.append(res.iterations)
            return res
        n = self.counts[self.i]
        self.i += 1
        state = solver.init(problem, x0)
        for _ in range(n):
            state = solver.step(problem, state)
        return self.base.Result(x=state.x, state=state, history=[{"iter": n}], stop_reason="bare", iterations=n,
                                wall_time=0.0)

    def run(self, fn, sk, mode):
        saved = [m.solve for m in self.mods]
        for m in self.mods:
            m.solve = self._solve
        self.mode, self.i = mode, 0
        if mode == "record":
            self.counts = []
        try:
            return fn(sk)
        finally:
            for m, f in zip(self.mods, saved):
                m.solve = f


def _best(fn, sk, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        out = fn(sk)
    return (time.perf_counter() - t0) / inner, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref", default="main", help="git revision to compare against (default main)")
    p.add_argument("--repeats", type=int, default=7, help="alternating rounds per case (best kept)")
    p.add_argument("--quick", action="store_true", help="the quick sizes of benchmarks/core.py")
    p.add_argument("--json", help="also write the rows to this file")
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    import sensekit as new
    with tempfile.TemporaryDirectory() as tmp:
        ref = load_ref(a.ref, tmp)
        rows = []
        for name, fn in cases(a.quick).items():
            t1 = time.perf_counter()
            fn(new)
            once = time.perf_counter() - t1
            inner = max(1, int(0.05 / max(once, 1e-6)))      # ~50 ms per timing: small cases are looped
            best = {"ref": float("inf"), "new": float("inf"), "bare": float("inf")}
            outs = {}
            bare = _Bare(new)
            bare.run(fn, new, "record")
            for r in range(a.repeats):
                order = (("ref", ref), ("new", new), ("bare", None))
                for who, sk in (order if r % 2 == 0 else order[::-1]):    # alternate who goes first
                    if who == "bare":
                        t, _ = _best(lambda s: bare.run(fn, new, "replay"), None, inner)
                    else:
                        t, outs[who] = _best(fn, sk, inner)
                    best[who] = min(best[who], t)
            same = all(torch.equal(x, y) for x, y in zip(outs["ref"], outs["new"]))
            # a case whose reference is not bitwise repeatable (LAPACK's lstsq on some sizes) is compared closely
            repeat = all(torch.equal(x, y) for x, y in zip(outs["ref"], fn(ref)))
            close = all(torch.allclose(x, y, rtol=1e-12, atol=1e-14) for x, y in zip(outs["ref"], outs["new"]))
            row = {"case": name, "ref_s": best["ref"], "new_s": best["new"], "ratio": best["new"] / best["ref"],
                   "identical": same, "ref_repeatable": repeat, "close_1e-12": close, "bare_s": best["bare"],
                   "ref_over_bare": best["ref"] / best["bare"], "new_over_bare": best["new"] / best["bare"]}
            rows.append(row)
            print(f"{name:45s} ref {best['ref'] * 1e3:9.3f} ms  new {best['new'] * 1e3:9.3f} ms  "
                  f"new/ref {row['ratio']:.3f}  vs bare loop: ref {row['ref_over_bare']:.3f} "
                  f"new {row['new_over_bare']:.3f}  "
                  f"identical {same} (ref repeatable {repeat}, close {close})", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"ref": a.ref, "threads": torch.get_num_threads(), "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
