"""The gain-calib app: blind calibration of positive sensor gains from random-projection measurements.

Model (CONTRACTS.md): ``y[l, i] = d[i] · ⟨a[l, i], x⟩ + noise`` for snapshots l < p and sensors i < m,
unknown positive gains d (m) and signal x (n), scale fixed by mean(d) = 1.  Methods and their
papers: :mod:`sensekit.solvers.bilinear`.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from sensekit.app.base import App, RunOutput, option
from sensekit.app.options import MethodOptions
from sensekit.io.errors import ConfigError, InputError
from sensekit.io.hdf5 import DatasetSpec
from sensekit.solvers import bilinear as bl

#: the full-rank check of the sensing stack forms its (n × n) Gram matrix when p·m·n² is below this
RANK_CHECK_FLOPS = 4e9


# ---- options: one frozen class per method (what it reads, its defaults, help and bounds); the flat Config that
# --set / --config / provenance use is built from them (same names, defaults and bounds as before)
_MAX_ITER = "iterations at most"
_IGNORE = ("run without a gain_basis present in the input (their linearisation cannot use it; otherwise they "
           "refuse)")


@dataclasses.dataclass(frozen=True)
class PGDOptions:
    mu: float = option(0.7, "step constant mu (signal step mu/(1+sqrt(n/(mp)))^2, gain step that times "
                            "m/||x0||^2)", min=1e-6, max=10.0)
    rho: float = option(0.99, "gain set ||d - 1||_inf <= rho (with mean(d) = 1; rho < 1 keeps gains positive)",
                        min=1e-6, max=0.999999)
    accel: str = option("none", "none (the paper's fixed steps); linesearch (exact step along the projected "
                                "gradient) or cg (Polak-Ribiere+ directions with that exact step): options beyond "
                                "the paper", choices=bl.ACCELS)
    max_iter: int = option(5000, "projected-gradient steps at most", min=1)
    tol: float = option(1e-10, "relative change of (x, d) to stop at", min=0.0)
    check_every: int = option(5, "evaluate the stop criteria every k iterations", min=1)


@dataclasses.dataclass(frozen=True)
class LSQOptions:
    max_iter: int = option(5000, "CGLS steps at most", min=1)
    tol: float = option(1e-10, "CGLS relative normal residual to stop at", min=0.0)
    ignore_gain_basis: bool = option(False, _IGNORE)


@dataclasses.dataclass(frozen=True)
class SpectralOptions:
    max_iter: int = option(5000, "Lanczos steps at most", min=1)
    tol: float = option(1e-10, "Lanczos relative residual to stop at", min=0.0)
    ignore_gain_basis: bool = option(False, _IGNORE)


@dataclasses.dataclass(frozen=True)
class InitOptions:
    pass


#: The options of every method; ``OPTIONS.of(cfg)`` is the chosen one's.
OPTIONS = MethodOptions(
    option("pgd", "calibration method: " + "; ".join(f"{k}: {v}" for k, v in bl.METHODS.items()),
           choices=tuple(bl.METHODS)), None,
    {m: ({"pgd": PGDOptions, "lsq": LSQOptions, "spectral": SpectralOptions, "init": InitOptions}[m], d)
     for m, d in bl.METHODS.items()}, unused="ignore")

Config = OPTIONS.flat_config("Config", __name__, doc="Options of gain-calib (flat: what --set fills; each method's "
                                                     "own are PGDOptions, LSQOptions, SpectralOptions).")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    n: int = option(128, "signal length n", min=1, max=65536)
    m: int = option(32, "sensors m", min=2, max=65536)
    p: int = option(16, "snapshots p (fresh sensing vectors each)", min=1, max=100000)
    rho: float = option(0.5, "gain spread: gains in [1 - rho, 1 + rho] (mean 1)", min=0.0, max=0.95)
    noise: float = option(0.0, "Gaussian noise std relative to the rms of the clean measurements", min=0.0)
    sensing: str = option("gaussian", "sensing vector entries: gaussian or bernoulli (+-1)",
                          choices=("gaussian", "bernoulli"))
    signal_dim: int = option(0, "signal subspace dimension k (0: no signal_basis)", min=0)
    gain_dim: int = option(0, "gain subspace dimension h of low-frequency cosines (0: no gain_basis)", min=0)
    complex_gains: bool = option(False, "complex gains (magnitudes as for rho, phases uniform in +-phase), with "
                                        "complex sensing and signal")
    phase: float = option(0.3, "complex_gains: phase spread of the gains in radians", min=0.0, max=3.14159)


class GainCalib(App):
    """Blind gain calibration: unknown sensor gains and signal from random-projection measurements."""

    name = "gain-calib"
    summary = "blind gain calibration: unknown sensor gains and signal from random-projection measurements"
    Config = Config
    SimConfig = SimConfig
    methods = dict(bl.METHODS)
    quick_sim = {"n": 32, "m": 8, "p": 12}
    quick_options = {"max_iter": 2000}
    inputs = (
        DatasetSpec("sensing", ("P,M,S",), ("float", "complex"), True,
                    "sensing vectors a[l, i] (p, m, n); complex for complex gains"),
        DatasetSpec("measurements", ("P,M",), ("float", "complex"), True,
                    "y[l, i] = d[i] <a[l, i], x> + noise (p, m), <a, x> = sum_j a_j x_j"),
        DatasetSpec("gain_basis", ("M,H",), ("float", "complex"), False, "subspace prior d = C e (m, h)"),
        DatasetSpec("signal_basis", ("S,K",), ("float", "complex"), False, "subspace prior x = B z (n, k)"),
        DatasetSpec("gains_ref", ("M",), ("float", "complex"), False, "true gains (compared after mean = 1)"),
        DatasetSpec("signal_ref", ("S",), ("float", "complex"), False, "true signal (compared after the same scaling)"),
    )
    outputs = (
        DatasetSpec("gains", ("M",), ("float", "complex"), True,
                    "estimated gains, mean 1 (float64; complex128 when the input is complex)"),
        DatasetSpec("signal", ("S",), ("float", "complex"), True, "estimated signal at that scale"),
    )

    # ------------------------------------------------------------------ data
    def simulate(self, sim, generator):
        from sensekit.sim.gains import gain_instance
        if sim.signal_dim > sim.n:
            raise ConfigError(f"option 'signal_dim' ({sim.signal_dim}) exceeds the signal length n ({sim.n})")
        if sim.gain_dim > sim.m:
            raise ConfigError(f"option 'gain_dim' ({sim.gain_dim}) exceeds the number of sensors m ({sim.m})")
        inst = gain_instance(sim.n, sim.m, sim.p, rho=sim.rho, noise=sim.noise, kind=sim.sensing,
                             k=sim.signal_dim, h=sim.gain_dim, phase=sim.phase if sim.complex_gains else None,
                             generator=generator)
        arrays = {"sensing": inst.sensing.numpy(), "measurements": inst.measurements.numpy(),
                  "gains_ref": inst.gains.numpy(), "signal_ref": inst.signal.numpy()}
        if inst.signal_basis is not None:
            arrays["signal_basis"] = inst.signal_basis.numpy()
        if inst.gain_basis is not None:
            arrays["gain_basis"] = inst.gain_basis.numpy()
        return arrays, {"measurements": {"noise_std": inst.noise_std}}

    def prepare(self, arrays, attrs, layouts):
        cplx = any(np.iscomplexobj(arrays[k]) for k in ("sensing", "measurements", "gain_basis", "signal_basis",
                                                         "gains_ref", "signal_ref") if k in arrays)
        dt = np.complex128 if cplx else np.float64
        A = np.asarray(arrays["sensing"]).astype(dt)
        y = np.asarray(arrays["measurements"]).astype(dt)
        if A.ndim != 3:
            raise InputError(f"dataset 'sensing' has shape {A.shape}, expected (p, m, n)")
        p, m, n = A.shape
        if y.shape != (p, m):
            raise InputError(f"dataset 'measurements' has shape {y.shape}, expected (p, m) = {(p, m)} "
                             "from 'sensing'")
        out = {"sensing": torch.from_numpy(A), "measurements": torch.from_numpy(y)}
        k, h = n, m
        if "signal_basis" in arrays:
            B = np.asarray(arrays["signal_basis"]).astype(dt)
            if B.ndim != 2 or B.shape[0] != n or not 1 <= B.shape[1] <= n:
                raise InputError(f"dataset 'signal_basis' has shape {B.shape}, expected (n, k) with n = {n}, k <= n")
            k = int(np.linalg.matrix_rank(B))
            if k == 0:
                raise InputError("dataset 'signal_basis' is all zero")
            out["signal_basis"] = torch.from_numpy(B)
        if "gain_basis" in arrays:
            C = np.asarray(arrays["gain_basis"]).astype(dt)
            if C.ndim != 2 or C.shape[0] != m or not 1 <= C.shape[1] <= m:
                raise InputError(f"dataset 'gain_basis' has shape {C.shape}, expected (m, h) with m = {m}, h <= m")
            h = int(np.linalg.matrix_rank(C))
            if np.linalg.norm(C.conj().T @ np.ones(m)) < 1e-8 * np.linalg.norm(C) * np.sqrt(m):
                raise InputError("dataset 'gain_basis' is orthogonal to the constant vector: no gains of mean 1 in it")
            out["gain_basis"] = torch.from_numpy(C)
        unknowns = k + h
        what = ("n + m" if (k, h) == (n, m) else "k + h (subspace dimensions)") + f" = {unknowns}"
        if p * m < unknowns:
            raise InputError(f"dataset 'measurements': p·m = {p}·{m} = {p * m} measurements are fewer than the "
                             f"{what} unknowns; add snapshots")
        ny = np.linalg.norm(y, axis=0)
        if np.any(ny == 0):
            i = int(np.flatnonzero(ny == 0)[0])
            raise InputError(f"dataset 'measurements': sensor {i} reads 0 in every snapshot (a zero gain): "
                             "its gain cannot be calibrated")
        self._check_rank(A, out.get("signal_basis"))
        for name, size in (("gains_ref", m), ("signal_ref", n)):
            if name in arrays:
                r = np.asarray(arrays[name]).astype(dt)
                if r.shape != (size,):
                    raise InputError(f"dataset '{name}' has shape {r.shape}, expected ({size},)")
                out[name] = torch.from_numpy(r)
        if "gains_ref" in out:
            g = out["gains_ref"]
            if g.is_complex() and bool((g == 0).any()):
                raise InputError("dataset 'gains_ref' has zero entries; the model's gains are nonzero")
            if not g.is_complex() and bool((g <= 0).any()):
                raise InputError("dataset 'gains_ref' has zero or negative entries; the model's gains are positive")
        return out

    @staticmethod
    def _check_rank(A, B):
        """The stacked (pm × n) sensing matrix (times the signal basis) must have full column rank."""
        p, m, n = A.shape
        A2 = A.reshape(p * m, n)
        if B is not None:
            A2 = A2 @ np.linalg.qr(B.numpy())[0]
        cols = A2.shape[1]
        norms = np.linalg.norm(A2, axis=0)
        if np.any(norms == 0):
            j = int(np.flatnonzero(norms == 0)[0])
            raise InputError(f"dataset 'sensing' is rank deficient: signal entry {j} is never sensed (column of zeros)")
        if p * m * cols * cols <= RANK_CHECK_FLOPS:
            ev = np.linalg.eigvalsh(A2.conj().T @ A2)
            if ev[0] <= 1e-10 * ev[-1]:
                rank = int(np.sum(ev > 1e-10 * ev[-1]))
                raise InputError(f"dataset 'sensing' is rank deficient: the stacked ({p * m} x {cols}) sensing "
                                 f"matrix{' times signal_basis' if B is not None else ''} has rank {rank} < {cols}")

    # ------------------------------------------------------------------ work
    def expected_iterations(self, cfg) -> int:
        return int(getattr(OPTIONS.of(cfg), "max_iter", cfg.max_iter or 0))

    def run(self, inputs, config, *, generator, callbacks=()):
        A = bl._hi(inputs["sensing"])
        y = bl._hi(inputs["measurements"])
        pr = bl.GainCalProblem(A, y, signal_basis=inputs.get("signal_basis"), gain_basis=inputs.get("gain_basis"))
        method = config.method
        config = OPTIONS.of(config)      # the chosen method's own options
        if method in ("lsq", "spectral") and pr.gain_basis is not None and not config.ignore_gain_basis:
            raise ConfigError(f"method {method} cannot use the input's gain_basis (a subspace of the gains is not "
                              "one of the inverse gains): use --method pgd, or --set ignore_gain_basis=true")
        if method in ("lsq", "spectral") and config.ignore_gain_basis:
            pr = dataclasses.replace(pr, gain_basis=None)
        info = {}
        if method == "pgd":
            d, x, res = bl.gain_pgd(pr, mu=config.mu, rho=config.rho, accel=config.accel, max_iter=config.max_iter,
                                    tol=config.tol, callbacks=callbacks, check_every=config.check_every)
            iters = res.iterations
            info = {"stop_reason": res.stop_reason, "history": res.history}
        elif method == "lsq":
            d, x, inf = bl.gain_lsq(pr, max_iter=config.max_iter, tol=max(config.tol, 1e-15), callbacks=callbacks)
            iters, info = inf["iterations"], inf
        elif method == "spectral":
            d, x, inf = bl.gain_spectral(pr, max_iter=config.max_iter, tol=max(config.tol, 1e-15))
            iters, info = inf["iterations"], inf
        else:
            d, x = bl.gain_backprojection(pr)
            iters, info = 0, {"stop_reason": "back-projection (no iterations)"}
        bad = info.get("nonpositive_inverse_gains", 0) + info.get("zero_inverse_gains", 0)
        if bad:   # the estimate is unreliable there: say so in the provenance and on stderr
            note = f"{bad} estimated inverse gain(s) <= 0 were floored (gains capped); the estimate is unreliable"
            info = {**info, "stop_reason": f"{info.get('stop_reason', '')}; {note}"}
            import sys
            print(f"warning: {self.name} {method}: {note}", file=sys.stderr)
        return RunOutput(outputs={"gains": bl._hi(d), "signal": bl._hi(x)}, iterations=int(iters), info=info)

    def score(self, outputs, inputs):
        d = bl._hi(torch.as_tensor(np.asarray(outputs["gains"])))
        x = bl._hi(torch.as_tensor(np.asarray(outputs["signal"])))
        if "gains_ref" in inputs and "signal_ref" in inputs:
            return bl.rel_errors(d, x, inputs["gains_ref"].cpu(), inputs["signal_ref"].cpu())
        m = {}
        if "gains_ref" in inputs:
            dr = bl._hi(inputs["gains_ref"].cpu())
            dr = dr / dr.mean()
            m["rel_err_gains"] = float(torch.linalg.vector_norm(d / d.mean() - dr) / torch.linalg.vector_norm(dr))
        if "signal_ref" in inputs:   # without the true gains the scale is unknown: best scalar fit
            xr = bl._hi(inputs["signal_ref"].cpu())
            x = x.to(torch.promote_types(x.dtype, xr.dtype))
            c = torch.vdot(x, xr.to(x.dtype)) / max(float(torch.vdot(x, x).real), 1e-300)
            m["rel_err_signal"] = float(torch.linalg.vector_norm(c * x - xr) / torch.linalg.vector_norm(xr))
        return m

    def figure(self, inputs, outputs, path, config, *, fmt="png"):
        from .figures import calib_figure
        calib_figure(inputs, outputs, path, fmt=fmt, title=f"gain-calib, method {config.method}")
