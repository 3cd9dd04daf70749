"""The unmix app: hyperspectral unmixing of a cube (H, W, B) into endmembers (P, B) and abundances (H, W, P)."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from sensekit.app.base import App, RunOutput, option
from sensekit.io.errors import InputError
from sensekit.io.hdf5 import DatasetSpec
from sensekit.solvers import unmixing as U

from . import methods
from .convert import ConvertConfig
from .options import OPTIONS


#: The flat options of --set / --config / provenance, built from the per-method classes in options.py.
Config = OPTIONS.flat_config("Config", __name__, doc="Options of unmix (flat: what --set fills; see options.py "
                                                     "for each method's own).")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    source: str = option("synthetic", "endmember spectra: synthetic (smooth random spectra) or usgs (drawn from "
                                      "the pruned USGS library in $SENSEKIT_DATA, which must be present)",
                         choices=("synthetic", "usgs"))
    size: int = option(40, "image side H = W", min=4, max=1024)
    bands: int = option(120, "synthetic: number of bands B (usgs: 224)", min=8, max=2000)
    endmembers: int = option(4, "number of endmembers P", min=2, max=20)
    alpha: float = option(0.5, "Dirichlet concentration of the abundances (small = nearly pure pixels)",
                          min=0.01)
    snr_db: float = option(40.0, "signal-to-noise ratio of the white Gaussian noise in dB", min=-10.0)
    bad_bands: float = option(0.0, "fraction of the bands replaced by gross noise (uniform in [0, max])",
                              min=0.0, max=0.5)
    library: int = option(30, "synthetic: library size L (the endmembers and L - P other spectra; usgs: the "
                              "whole 62-member library)", min=0, max=1000)


def pixel_scale(X: torch.Tensor) -> torch.Tensor:
    """Per-pixel scale: the band sum weighted by each band's multiple-regression R² (clip to [0, 1]).

    A band that the other bands predict (signal) weighs ~1; a band of gross noise (unpredictable) ~0. Under
    the linear mixing model with a per-pixel illumination factor, dividing by this sum makes the abundances
    of the normalised data sum to one exactly (with endmembers normalised the same way).
    """
    r2 = methods.band_reliability(X)
    s = r2 @ X / r2.sum().clamp_min(1e-30)
    return r2, torch.where(s > 1e-12 * s.abs().max().clamp_min(1e-30), s, torch.ones_like(s))


def _names_attr(v) -> list:
    """Material names from an attribute: a JSON list (as sensekit writes lists), or an array of strings."""
    import json
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return [v]
        if not isinstance(v, list):
            return [str(v)]
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(v, dtype=object).ravel()]


def _smooth_spectra(n, B, rng):
    wl = np.linspace(0.4, 2.5, B)
    out = np.zeros((n, B))
    for i in range(n):
        s = rng.uniform(0.05, 0.3) + rng.uniform(-0.1, 0.2) * (wl - 0.4)
        for _ in range(rng.integers(2, 6)):
            c, w, a = rng.uniform(0.4, 2.5), rng.uniform(0.05, 0.4), rng.uniform(-0.25, 0.35)
            s = s + a * np.exp(-0.5 * ((wl - c) / w) ** 2)
        out[i] = np.clip(s, 0.02, None)
    return out / max(out.max(), 1e-12) * 0.9, wl


class Unmix(App):
    """Hyperspectral unmixing: endmember spectra and per-pixel abundances, robust to bad bands."""

    name = "unmix"
    summary = "hyperspectral unmixing: endmembers and abundances"
    Config = Config
    SimConfig = SimConfig
    ConvertConfig = ConvertConfig
    methods = {k: v[1] for k, v in methods.METHODS.items()}
    quick_sim = {"size": 12, "bands": 40, "endmembers": 3, "library": 10}
    quick_options = {"max_iter": 20}
    inputs = (
        DatasetSpec("cube", ("H,W,B",), ("float", "int"), True,
                    "hyperspectral image; optional attribute n_endmembers"),
        DatasetSpec("wavelengths", ("B",), ("float",), False, "band centres (any unit; used for figures)"),
        DatasetSpec("library", ("L,B",), ("float",), False, "spectral library for sparse unmixing "
                                                             "(attribute names: material names)"),
        DatasetSpec("endmembers_ref", ("P,B",), ("float",), False, "reference endmembers (attribute names)"),
        DatasetSpec("abundances_ref", ("H,W,P",), ("float",), False, "reference abundances"),
    )
    outputs = (
        DatasetSpec("endmembers", ("P,B",), ("float",), True, "estimated endmember spectra (float32)"),
        DatasetSpec("abundances", ("H,W,P",), ("float",), True, "abundances, non-negative, sum to one"),
        DatasetSpec("band_weights", ("B",), ("float",), False, "rrlbs: final l2,1 band weights (1 = most "
                                                                "trusted; gross-noise bands end near 0)"),
        DatasetSpec("guidance", ("H,W",), ("float",), False, "rrlbs: learnt mixed-level map h (0 pure, 1 mixed)"),
        DatasetSpec("selected", ("P",), ("int",), False, "sunsal: library rows of the endmembers"),
        DatasetSpec("library_abundances", ("H,W,L",), ("float",), False, "sunsal: abundances of every library "
                                                                          "member"),
    )

    # ------------------------------------------------------------------ data
    def simulate(self, sim, generator):
        seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        P = sim.endmembers
        names = None
        if sim.source == "usgs":
            from .data import data_path, read_library
            import os
            path = data_path("hsi/usgs_pruned_10deg.mat")
            if not os.path.isfile(path):
                raise InputError(f"{path}: file not found (simulate source=usgs needs the USGS library; "
                                 f"set SENSEKIT_DATA)")
            lib = read_library(path)
            library, lnames, wl = lib["library"], lib["names"], lib.get("wavelengths")
            pick = np.sort(rng.choice(library.shape[0], P, replace=False))
            E = library[pick]
            names = [lnames[i] for i in pick] if lnames else None
        else:
            spectra, wl = _smooth_spectra(P + max(sim.library - P, 0), sim.bands, rng)
            E = spectra[:P]
            if sim.library >= P:
                order = rng.permutation(spectra.shape[0])
                library = spectra[order]
                pick = np.argsort(order)[:P]
                lnames = [f"spectrum {i}" for i in range(library.shape[0])]
                names = [lnames[i] for i in pick]
            else:
                library = None
        H = W = sim.size
        A = rng.dirichlet(np.full(P, sim.alpha), size=H * W)          # (N, P)
        Xc = A @ E                                                     # (N, B)
        sig = np.sqrt(np.mean(Xc ** 2) / 10 ** (sim.snr_db / 10))
        X = Xc + sig * rng.standard_normal(Xc.shape)
        B = X.shape[1]
        bad = np.sort(rng.choice(B, int(round(sim.bad_bands * B)), replace=False)) if sim.bad_bands > 0 else []
        if len(bad):
            X[:, bad] = rng.uniform(0, X.max(), (X.shape[0], len(bad)))
        arrays = {"cube": X.reshape(H, W, B), "endmembers_ref": E.copy(), "abundances_ref": A.reshape(H, W, P)}
        attrs = {"cube": {"n_endmembers": P, "bad_bands": np.asarray(bad, dtype=np.int64),
                          "simulated": f"linear mixing, Dirichlet({sim.alpha:g}) abundances, {sim.snr_db:g} dB"}}
        if wl is not None:
            arrays["wavelengths"] = np.asarray(wl, dtype=np.float64)
        if library is not None and sim.library >= 0:
            arrays["library"] = library.copy()
            if sim.source == "usgs":
                attrs["library"] = {"names": lnames}
            else:
                attrs["library"] = {"names": lnames}
            if sim.source == "usgs" or sim.library >= P:
                attrs["endmembers_ref"] = {"library_rows": np.asarray(pick, dtype=np.int64)}
        if names:
            attrs.setdefault("endmembers_ref", {})["names"] = names
        return arrays, attrs

    def prepare(self, arrays, attrs, layouts):
        c = np.asarray(arrays["cube"])
        if c.ndim != 3:
            raise InputError(f"dataset 'cube' has shape {c.shape}, expected (H, W, B)")
        H, W, B = c.shape
        if B < 2 or H * W < 2:
            raise InputError(f"dataset 'cube' has shape {c.shape}: needs at least 2 bands and 2 pixels")
        cube = torch.from_numpy(c.astype(np.float64))
        if not bool((cube != 0).any()):
            raise InputError("dataset 'cube' is all zero")
        out = {"cube": cube}
        ca = attrs.get("cube", {}) or {}
        if "n_endmembers" in ca:
            try:
                n = int(np.asarray(ca["n_endmembers"]).ravel()[0])
            except (TypeError, ValueError, IndexError):
                raise InputError(f"attribute 'n_endmembers' of dataset 'cube' is {ca['n_endmembers']!r}, "
                                 f"expected an integer") from None
            if n < 1 or n > min(B, H * W):
                raise InputError(f"attribute 'n_endmembers' of dataset 'cube' is {n}, expected 1..{min(B, H * W)}")
            out["n_endmembers"] = n
        for name, shape in (("wavelengths", (B,)), ("endmembers_ref", (None, B)), ("library", (None, B)),
                            ("abundances_ref", (H, W, None))):
            if name not in arrays:
                continue
            a = np.asarray(arrays[name], dtype=np.float64)
            if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
                want = ", ".join("P" if s is None else str(s) for s in shape)
                raise InputError(f"dataset '{name}' has shape {a.shape}, expected ({want})")
            out[name] = torch.from_numpy(a)
            nm = (attrs.get(name, {}) or {}).get("names")
            if nm is not None and name in ("library", "endmembers_ref"):
                nm = _names_attr(nm)
                if len(nm) == a.shape[0]:
                    out[f"{name}_names"] = nm
        if "endmembers_ref" in out and "abundances_ref" in out and \
                out["endmembers_ref"].shape[0] != out["abundances_ref"].shape[2]:
            raise InputError(f"dataset 'abundances_ref' has {out['abundances_ref'].shape[2]} maps but "
                             f"'endmembers_ref' {out['endmembers_ref'].shape[0]} spectra")
        return out

    def mat_kind(self, listing):
        """MATLAB variables that mark this app's data (``convert`` refuses other apps' files by them)."""
        from .convert import mat_kind
        return mat_kind(listing)

    def convert(self, src, fmt, config, generator):
        from .convert import convert
        return convert(src, fmt, config, generator)

    # ------------------------------------------------------------------ work
    def n_endmembers(self, inputs, config, X):
        if config.n_endmembers is not None:
            return int(config.n_endmembers), "option"
        if "n_endmembers" in inputs:
            return int(inputs["n_endmembers"]), "attribute"
        k, info = U.count_endmembers(X)
        if k is None:
            raise InputError(f"dataset 'cube': cannot estimate the number of endmembers (HySime bound "
                             f"{info['hysime']}, estimate above 20); give it with "
                             f"--set n_endmembers=P or the cube attribute n_endmembers")
        return k, f"estimate ({info['rule']}; HySime bound {info['hysime']})"

    def run(self, inputs, config, *, generator, callbacks=()):
        cube = inputs["cube"]
        H, W, B = cube.shape
        X = cube.reshape(-1, B).T.contiguous()
        k, how = self.n_endmembers(inputs, config, X)
        k = min(k, B, H * W)
        if config.method != "sunsal" and k < 2 and how.startswith("estimate"):
            k = 2
        lib = inputs.get("library")
        if config.normalize == "sum":
            r2, s = pixel_scale(X)
            Xn = X / s[None]
            if lib is not None:
                ls = (lib @ r2) / r2.sum().clamp_min(1e-30)
                lib = lib / torch.where(ls.abs() > 1e-12, ls, torch.ones_like(ls))[:, None]
            sbar = float(s.mean())
        else:
            Xn, sbar = X, 1.0
        fn = methods.METHODS[config.method][0]
        E, A, iters, info = fn(Xn, k, OPTIONS.of(config), generator, lib)
        if config.method == "sunsal":
            # back to the library's own scale: a_k ∝ ã_k / σ_k (σ_k the member's weighted band sum), sum one
            sel = info["selected"]
            E = inputs["library"].T[:, sel].to(X)
            if config.normalize == "sum":
                A = A / ls[sel][:, None]
                A = A / A.sum(dim=0, keepdim=True).clamp_min(1e-30)
            ref_scale = 1.0
        else:
            ref_scale = sbar
        outs = {"endmembers": (E.T * ref_scale).to(torch.float32),
                "abundances": A.T.reshape(H, W, -1).to(torch.float32)}
        if "band_weights" in info:
            outs["band_weights"] = info["band_weights"].to(torch.float32)
            outs["guidance"] = info["guidance"].reshape(H, W).to(torch.float32)
        if "selected" in info:
            outs["selected"] = info["selected"].to(torch.int64)
            outs["library_abundances"] = info["library_abundances"].T.reshape(H, W, -1).to(torch.float32)
        return RunOutput(outputs=outs, iterations=int(iters),
                         info={"stop_reason": info.get("stop_reason", ""), "history": info.get("history"),
                               "n_endmembers": k, "n_endmembers_from": how})

    def score(self, outputs, inputs):
        if "endmembers_ref" not in inputs and "abundances_ref" not in inputs:
            return {}
        E = outputs["endmembers"].to(torch.float64).T
        A = outputs["abundances"].to(torch.float64)
        A = A.reshape(-1, A.shape[-1]).T
        Er = inputs.get("endmembers_ref")
        Ar = inputs.get("abundances_ref")
        Er = Er.T if Er is not None else None
        Ar = Ar.reshape(-1, Ar.shape[-1]).T if Ar is not None else None
        return U.unmixing_scores(E, A, Er, Ar)

    def figure(self, inputs, outputs, path, config, *, fmt="png"):
        from .figures import unmix_figure
        unmix_figure(self, inputs, outputs, path, config, fmt=fmt)
