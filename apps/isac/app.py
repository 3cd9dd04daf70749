"""The isac app: angle / range / radial velocity of point targets from an OFDM channel tensor.

Methods (``--method``; objectives and papers in :mod:`apps.isac.methods`): ``plain`` (PLAIN, Tahir,
Svoboda & Rupp, arXiv 2503.21242: compression, decoupled 1-D subspace estimation, tensor-OMP fusion, ML
refinement), ``fft`` (3-D periodogram), ``ml`` (variable-projection ML from fft or plain), ``krosbl``
(Kronecker SBL, He & Joseph, arXiv 2307.14719, on the compressed angle × delay × Doppler grid, in rounds,
detection from the recovered support, ML refinement), ``sequential`` (angle → delay → Doppler, each by FB
covariance + MDL + unitary ESPRIT after zero-forcing the previous stage) and ``esprit`` (joint 3-D ESPRIT
with spatial smoothing, Hua 1992, paired by one eigenvector set; refused beyond ``esprit_rows``).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from sensekit.app.base import App, RunOutput, option
from sensekit.app.options import MethodOptions
from sensekit.io.errors import ConfigError, InputError
from sensekit.io.hdf5 import DatasetSpec
from sensekit.sim.ofdm import OFDMGeometry, crb, ofdm_channel, random_targets, steering

from . import methods as M
from .options import CLASSES, Shared

CONVENTIONS = ("per-RE channel estimate (received / transmitted symbols), snapshots x antennas x subcarriers x "
               "symbols; a target at angle t (deg from broadside, + towards higher antenna index), range R (m), "
               "radial velocity v (m/s, + receding) adds g*exp(+j2pi*d*a*sin t)*exp(-j2pi*k*df*2R/c)"
               "*exp(-j2pi*(2v/lambda)*l*Ts); attrs carrier_hz, subcarrier_spacing_hz, symbol_duration_s "
               "(with CP), antenna_spacing_wavelengths; optional n_targets, max_range_m, max_speed_mps "
               "(scene extent, sets the compression), noise_var (for the CRB metrics)")

METHODS = {
    "plain": "PLAIN: per-dimension compression, decoupled FB-covariance subspace estimation with MDL/AIC, "
             "tensor-OMP fusion on the full data, then joint ML refinement",
    "fft": "3-D zero-padded windowed periodogram, local maxima above a CFAR-like and a relative threshold",
    "ml": "joint maximum likelihood (variable projection, Levenberg-Marquardt) started from fft or plain",
    "krosbl": "Kronecker-structured sparse Bayesian learning (He & Joseph; sensekit.solvers KroSBL) on an "
              "angle x delay x Doppler grid of the block-averaged tensor (plain's factors), in rounds (targets = "
              "local maxima of the posterior power above the noise threshold, refined and subtracted), then "
              "joint ML refinement",
    "sequential": "dimension by dimension: angle (FB covariance, MDL/AIC, unitary ESPRIT), then delay per "
                  "zero-forced angle, then Doppler per zero-forced angle-delay pair (no refinement by default)",
    "esprit": "joint 3-D ESPRIT: spatial smoothing of (mA, mK, mL) sub-blocks, FB covariance, MDL/AIC, "
              "shift invariance per dimension paired by one common eigenvector set (no refinement by default)",
}

#: methods refined by default (refine=auto); the baselines fft, sequential and esprit are reported raw
REFINED = ("plain", "ml", "krosbl")

#: a detection matches a true target when their normalised distance is below this many FFT cells
MATCH_CELLS = 1.0


#: The options of every method (one frozen class each, in options.py); ``OPTIONS.of(cfg)`` is the chosen one's.
OPTIONS = MethodOptions(option("plain", "estimator", choices=tuple(METHODS)), Shared,
                        {m: (CLASSES[m], METHODS[m]) for m in METHODS}, unused="ignore")

#: The flat options of --set / --config / provenance, built from the per-method classes.
Config = OPTIONS.flat_config("Config", __name__, doc="Options of isac (flat: what --set fills; see options.py "
                                                     "for each method's own).")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    antennas: int = option(16, "receive antennas A (half-wavelength ULA by default)", min=2, max=4096)
    subcarriers: int = option(128, "subcarriers K", min=2, max=1 << 16)
    symbols: int = option(64, "OFDM symbols L", min=2, max=1 << 16)
    snapshots: int = option(1, "snapshots S (independent gain phases, same targets)", min=1, max=1024)
    carrier_hz: float = option(28e9, "carrier frequency", min=1e6)
    subcarrier_spacing_hz: float = option(120e3, "subcarrier spacing", min=1.0)
    cp_fraction: float = option(1 / 14, "cyclic prefix length / useful symbol length", min=0.0, max=1.0)
    antenna_spacing: float = option(0.5, "antenna spacing in wavelengths", min=0.01, max=10.0)
    targets: int = option(4, "number of random targets", min=0, max=64)
    target_list: str = option("", "explicit targets 'deg,m,mps;deg,m,mps;...' (overrides targets)")
    snr_db: float = option(10.0, "SNR per resource element of a unit-gain target (the nearest with path_loss)")
    max_range_m: float = option(300.0, "random targets: ranges in [5 m, this]", min=1.0)
    max_speed_mps: float = option(60.0, "random targets: |velocity| up to this", min=0.0)
    max_angle_deg: float = option(60.0, "random targets: |angle| up to this", min=0.0, max=90.0)
    min_sep_cells: float = option(2.0, "random targets: pairwise separation in FFT cells, in every dimension",
                                  min=0.0)
    modulation: str = option("qpsk", "random data symbols (divided out)", choices=("qpsk", "bpsk"))
    path_loss: bool = option(False, "amplitudes fall as (R_min/R)^2 (radar equation)")
    write_n_targets: bool = option(False, "write the true count as the channel attribute n_targets")


def _parse_targets(text: str) -> np.ndarray:
    rows = []
    for item in text.split(";"):
        if not item.strip():
            continue
        try:
            vals = [float(v) for v in item.split(",")]
        except ValueError:
            vals = []
        if len(vals) != 3:
            raise ConfigError(f"option target_list: {item!r} is not 'angle_deg,range_m,velocity_mps'")
        rows.append(vals)
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def _factors(text: str) -> tuple | None:
    if text == "auto":
        return None
    try:
        f = tuple(int(v) for v in text.split(","))
    except ValueError:
        f = ()
    if len(f) != 3 or min(f) < 1:
        raise ConfigError(f"option factors: {text!r} is not 'auto' or three positive integers 'Da,Dk,Dl'")
    return f


class ISAC(App):
    name = "isac"
    summary = "ISAC multi-dimensional parameter estimation (angle, range, velocity) from an OFDM channel tensor"
    Config = Config
    SimConfig = SimConfig
    methods = METHODS
    quick_sim = {"antennas": 8, "subcarriers": 64, "symbols": 32, "targets": 3, "max_speed_mps": 150.0}
    quick_options = {}
    inputs = (
        DatasetSpec("channel", ("S,A,K,L", "A,K,L"), ("complex",), True, CONVENTIONS),
        DatasetSpec("targets_ref", ("P,3",), ("float",), False,
                    "true targets: angle_deg, range_m, velocity_mps", ragged=True),
    )
    outputs = (
        DatasetSpec("targets", ("P,4",), ("float",), True,
                    "detected targets: angle_deg, range_m, velocity_mps, |gain| (rms over snapshots)",
                    ragged=True, counts="target_counts"),
    )
    metric_reduction = {"detected": "sum", "missed": "sum", "false": "sum",
                        "sse_angle_deg2": "sum", "sse_range_m2": "sum", "sse_velocity_mps2": "sum",
                        "crb_var_angle_deg2": "sum", "crb_var_range_m2": "sum", "crb_var_velocity_mps2": "sum",
                        "rmse_angle_deg": "pooled", "rmse_range_m": "pooled", "rmse_velocity_mps": "pooled",
                        "rmse_over_crb_angle": "pooled", "rmse_over_crb_range": "pooled",
                        "rmse_over_crb_velocity": "pooled"}

    # ----------------------------------------------------------------------------------------- data
    def simulate(self, sim, generator):
        geo = OFDMGeometry(sim.antennas, sim.subcarriers, sim.symbols, carrier_hz=sim.carrier_hz,
                           subcarrier_spacing_hz=sim.subcarrier_spacing_hz,
                           symbol_duration_s=(1 + sim.cp_fraction) / sim.subcarrier_spacing_hz,
                           antenna_spacing_wavelengths=sim.antenna_spacing)
        if sim.target_list:
            tg = _parse_targets(sim.target_list)
        else:
            rmax = min(sim.max_range_m, 0.95 * geo.max_range)
            vmax = min(sim.max_speed_mps, 0.95 * geo.max_speed)
            try:
                tg = random_targets(geo, sim.targets, generator=generator, max_range=rmax, max_speed=vmax,
                                    max_angle_deg=sim.max_angle_deg, min_sep_cells=sim.min_sep_cells)
            except ValueError as e:
                raise ConfigError(f"simulation options: {e}") from None
        tg = tg[np.argsort(tg[:, 0], kind="stable")]
        H, _, nv = ofdm_channel(geo, tg, snr_db=sim.snr_db, snapshots=sim.snapshots, generator=generator,
                                modulation=sim.modulation, path_loss=sim.path_loss)
        attrs = {"carrier_hz": geo.carrier_hz, "subcarrier_spacing_hz": geo.subcarrier_spacing_hz,
                 "symbol_duration_s": geo.symbol_duration_s,
                 "antenna_spacing_wavelengths": geo.antenna_spacing_wavelengths,
                 "max_range_m": float(max(sim.max_range_m, tg[:, 1].max() if len(tg) else 0.0)),
                 "max_speed_mps": float(max(sim.max_speed_mps, np.abs(tg[:, 2]).max() if len(tg) else 0.0)),
                 "noise_var": nv, "snr_db": sim.snr_db}
        if sim.write_n_targets:
            attrs["n_targets"] = len(tg)
        return {"channel": H.numpy(), "targets_ref": tg}, {"channel": attrs}

    def prepare(self, arrays, attrs, layouts):
        H = np.asarray(arrays["channel"])
        if H.ndim == 3:
            H = H[None]
        a = dict(attrs.get("channel", {}))
        need = ("carrier_hz", "subcarrier_spacing_hz", "symbol_duration_s", "antenna_spacing_wavelengths")
        missing = [k for k in need if k not in a]
        if missing:
            raise InputError(f"dataset 'channel' lacks the attribute(s) {', '.join(missing)}")
        try:
            vals = {k: float(np.asarray(a[k]).reshape(-1)[0]) for k in need}
        except (TypeError, ValueError, IndexError):
            raise InputError(f"dataset 'channel': attributes {', '.join(need)} must be numbers") from None
        for k, v in vals.items():
            if not math.isfinite(v) or v <= 0:
                raise InputError(f"dataset 'channel': attribute {k} must be positive, got {v}")
        S, A, K, L = H.shape
        if min(A, K, L) < 2:
            raise InputError(f"dataset 'channel' has shape {H.shape}: need at least 2 antennas, subcarriers, symbols")
        geo = OFDMGeometry(A, K, L, carrier_hz=vals["carrier_hz"], subcarrier_spacing_hz=vals["subcarrier_spacing_hz"],
                           symbol_duration_s=vals["symbol_duration_s"],
                           antenna_spacing_wavelengths=vals["antenna_spacing_wavelengths"])
        out = {"channel": torch.from_numpy(np.ascontiguousarray(H).astype(np.complex128)), "geometry": geo}
        for k in ("n_targets", "max_range_m", "max_speed_mps", "noise_var"):
            if k in a:
                try:
                    v = float(np.asarray(a[k]).reshape(-1)[0])
                except (TypeError, ValueError, IndexError):
                    raise InputError(f"dataset 'channel': attribute {k} must be a number") from None
                if not math.isfinite(v) or v < 0:
                    raise InputError(f"dataset 'channel': attribute {k} must be >= 0, got {v}")
                out[k] = v
        if "targets_ref" in arrays:
            t = np.asarray(arrays["targets_ref"], dtype=np.float64).reshape(-1, 3) \
                if np.size(arrays["targets_ref"]) else np.zeros((0, 3))
            if np.any(np.abs(t[:, 0]) > 90) or np.any(t[:, 1] < 0):
                raise InputError("dataset 'targets_ref': angles must be within +-90 deg and ranges >= 0")
            out["targets_ref"] = torch.from_numpy(t)
        return out

    # ------------------------------------------------------------------------------------------ run
    def plain_setup(self, inputs, config):
        """Compression factors and demodulation shifts (see :func:`apps.isac.methods.compress`)."""
        geo = inputs["geometry"]
        rw = config.max_range_m or inputs.get("max_range_m") or geo.max_range
        vw = config.max_speed_mps or inputs.get("max_speed_mps") or geo.max_speed
        rw, vw = min(rw, geo.max_range), min(vw, geo.max_speed)
        shifts = (0.0, rw / (2 * geo.max_range), 0.0)
        fac = _factors(config.factors)
        if fac is None:
            margin = 1.15
            want = (1, int(geo.max_range / (margin * rw)), int(geo.max_speed / (margin * vw)) if vw > 0 else 1 << 30)
            fac = tuple(max(1, min(w, n // config.min_compressed)) for w, n in zip(want, geo.shape))
        for f, n, name in zip(fac, geo.shape, "AKL"):
            if n // f < 3:
                raise ConfigError(f"option factors: {f} leaves {n // f} samples of {name} (need >= 3)")
        return fac, shifts

    def run(self, inputs, config, *, generator, callbacks=()):
        H = inputs["channel"]
        geo = inputs["geometry"]
        S = H.shape[0]
        N = H[0].numel()
        method = config.method
        config = OPTIONS.of(config)      # the chosen method's options (shared ones included)
        nt = config.n_targets or int(inputs.get("n_targets", 0) or 0) or None
        info = {}
        init = config.ml_init if method == "ml" else method
        if init == "plain":
            fac, shifts = self.plain_setup(inputs, config)
            F, g, info = M.plain(H, factors=fac, compression=config.compression, shifts=shifts,
                                 estimator=config.estimator, criterion=config.criterion, n_targets=nt,
                                 pfa=config.pfa)
            info["factors"] = fac if config.compression != "none" else (1, 1, 1)
        elif init == "krosbl":
            fac, shifts = self.plain_setup(inputs, config)
            F, g, info = M.krosbl(H, factors=fac, shifts=shifts, oversample=config.oversample, pfa=config.pfa,
                                  max_iter=config.sbl_iter, tol=config.sbl_tol, n_targets=nt,
                                  callbacks=callbacks)
            info["factors"] = fac
        elif init == "sequential":
            F, g, info = M.sequential(H, criterion=config.criterion, rel_db=config.rel_db)
        elif init == "esprit":
            if M.esprit_subarray(geo.shape, config.esprit_rows) is None:
                need = int(np.prod([max(2, -(-n // 8)) for n in geo.shape]))
                raise ConfigError(f"option esprit_rows: method esprit on a {'x'.join(map(str, geo.shape))} tensor "
                                  f"needs sub-blocks of >= {need} rows (1/8 of every dimension), more than "
                                  f"esprit_rows={config.esprit_rows}; raise it or use method plain")
            F, g, info = M.joint_esprit(H, rows=config.esprit_rows, criterion=config.criterion, n_targets=nt)
        else:
            F, g, info = M.fft(H, pad=config.pad, window=config.window, rel_db=config.rel_db, pfa=config.pfa,
                               n_targets=nt)
        do_refine = config.refine == "on" or (config.refine == "auto" and method in REFINED)
        iters, reason = 0, "no refinement"
        if do_refine and len(F):
            F, g, cost, iters, reason = M.refine(H, F, max_iter=config.max_iter, tol=config.tol)
            if nt is None:
                F, g, cost, it2 = self._prune(H, F, g, cost, config)
                iters += it2
        g = np.asarray(g).reshape(S, -1)
        est = geo.from_freqs(F)
        amp = np.sqrt(np.mean(np.abs(g) ** 2, axis=0)) if g.size else np.zeros(0)
        table = np.concatenate([est, amp[:, None]], axis=1) if len(est) else np.zeros((0, 4))
        table = table[np.argsort(table[:, 0], kind="stable")]
        hist = [{"iter": iters, "targets": len(table),
                 **{k: v for k, v in info.items() if isinstance(v, (int, float))}}]
        extra = {}
        if init == "krosbl":
            # the SBL solve (sensekit.solvers.solve) first, then the refinement's iterations
            hist = [{"stage": "krosbl", **h} for h in info["sbl_history"]] + [{"stage": "refine", **hist[0]}]
            iters += info["sbl_iterations"] + info["compressed_refine_iterations"]
            reason = f"krosbl: {info['sbl_stop_reason']}; refine: {reason}"
            extra = {"sbl_iterations": info["sbl_iterations"], "grid": info["grid"], "rounds": info["rounds"]}
        return RunOutput(outputs={"targets": torch.from_numpy(table)}, iterations=int(iters),
                         info={"stop_reason": reason, "history": hist, "orders": info.get("orders"),
                               "N": N, **extra})

    def _prune(self, H, F, g, cost, config):
        """Drop refined targets whose fitted energy is below the detection threshold, or that duplicate another."""
        S = H.shape[0]
        N = H[0].numel()
        shape = np.array(H.shape[1:])
        iters = 0
        for _ in range(4):
            P = len(F)
            if P == 0:
                break
            dof = S * N - (2 * S + 3) * P
            noise = max(cost / max(dof, 1), M.NUMERICAL_FLOOR * M.energy(H) / H.numel())
            energy = (np.abs(np.asarray(g)) ** 2).sum(0) * N
            kappa = M.detection_threshold(config.pfa, N, S)
            drop = set(np.nonzero(energy < kappa * noise)[0].tolist())
            for i in range(P):
                for j in range(i + 1, P):
                    d = np.abs(M.wrap(F[i] - F[j])) * shape
                    if np.all(d < 0.05) and i not in drop:
                        drop.add(j if energy[j] <= energy[i] else i)
            if not drop:
                break
            keep = [i for i in range(P) if i not in drop]
            F, g, cost, it, _ = M.refine(H, F[keep], max_iter=config.max_iter, tol=config.tol)
            iters += it
        return F, g, cost, iters

    # ---------------------------------------------------------------------------------------- score
    def score(self, outputs, inputs):
        if "targets_ref" not in inputs:
            return {}
        geo = inputs["geometry"]
        ref = inputs["targets_ref"].double().numpy().reshape(-1, 3)
        est = outputs["targets"].double().numpy().reshape(-1, 4)[:, :3]
        pairs = match(ref, est, geo)
        m = {"detected": len(pairs), "missed": len(ref) - len(pairs), "false": len(est) - len(pairs)}
        err = np.array([est[j] - ref[i] for i, j in pairs]).reshape(-1, 3)
        for c, key in enumerate(("angle_deg2", "range_m2", "velocity_mps2")):
            m["sse_" + key] = float((err[:, c] ** 2).sum())
        if "noise_var" in inputs and len(ref):
            std = reference_crb(inputs["channel"], ref, geo, inputs["noise_var"])
            idx = [i for i, _ in pairs]
            for c, key in enumerate(("angle_deg2", "range_m2", "velocity_mps2")):
                m["crb_var_" + key] = float((std[idx, c] ** 2).sum())
        m.update(self.pool_metrics(m))
        return m

    def pool_metrics(self, totals):
        out = {}
        n = totals.get("detected", 0)
        for name, key in (("angle", "angle_deg2"), ("range", "range_m2"), ("velocity", "velocity_mps2")):
            unit = key[:-1].split("_", 1)[1]
            if "sse_" + key in totals:
                out[f"rmse_{name}_{unit}"] = math.sqrt(totals["sse_" + key] / n) if n else float("nan")
            if "crb_var_" + key in totals:
                c = totals["crb_var_" + key]
                out[f"rmse_over_crb_{name}"] = math.sqrt(totals["sse_" + key] / c) if n and c > 0 else float("nan")
        return out

    def figure(self, inputs, outputs, path, config, *, fmt="png"):
        from .figures import targets_figure
        targets_figure(inputs, outputs, path, fmt=fmt)


def match(ref: np.ndarray, est: np.ndarray, geo: OFDMGeometry) -> list:
    """Optimal one-to-one matching (Hungarian) of estimated to true targets on the distance in FFT cells
    (normalised frequencies times the dimension sizes); pairs farther than :data:`MATCH_CELLS` are not matched."""
    if not len(ref) or not len(est):
        return []
    from scipy.optimize import linear_sum_assignment
    fr, fe = geo.to_freqs(ref), geo.to_freqs(est)
    d = M.wrap(fr[:, None, :] - fe[None, :, :]) * np.array(geo.shape)[None, None, :]
    cost = np.sqrt((d ** 2).sum(-1))
    big = np.where(cost > MATCH_CELLS, 1e6 + cost, cost)
    rows, cols = linear_sum_assignment(big)
    return [(int(i), int(j)) for i, j in zip(rows, cols) if cost[i, j] <= MATCH_CELLS]


def reference_crb(H: torch.Tensor, ref: np.ndarray, geo: OFDMGeometry, noise_var: float) -> np.ndarray:
    """CRB std (P, 3) at the true parameters, the gains fitted by least squares at the true frequencies."""
    F = geo.to_freqs(ref)
    mats = [steering(F[:, m], geo.shape[m], device=H.device) for m in range(3)]
    p = torch.arange(len(F), device=H.device)
    b = M.contract(H, mats)[:, p, p, p]
    G = math.prod(w.mH @ w for w in mats)
    g = torch.linalg.solve(G, b.T).T.cpu().numpy()
    return crb(ref, g, geo, noise_var)
