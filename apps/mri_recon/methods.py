"""mri-recon methods, each a thin composition of sensekit.solvers.

All methods work on k-space normalised so that the zero-filled image has unit
peak magnitude; regularisation weights are therefore relative to the data
(scale-aware defaults), and the result is scaled back.
"""
from __future__ import annotations

import torch

from sensekit.linop import FFT, Identity, Unfold
from sensekit.solvers import CG, LinearSystem, MaxIter, RelChange, Residual, lowrank_plus_sparse, solve
from sensekit.io.errors import ConfigError

from .model import normal_bound


def zero_filled(E, y, cfg, *, callbacks=()):
    """Eᴴy: inverse FFT of the zero-filled k-space, combined with the coil maps."""
    return E.H(y), 0, {}


def cg_sense(E, y, cfg, *, callbacks=()):
    """CG-SENSE (Pruessmann et al. 2001): CG on (EᴴE + λ·‖E‖²·I) x = Eᴴy.

    ``lam`` is relative to ‖E‖²; with ``lam = 0`` the iteration count
    (``max_iter``, residual ``tol``) is the only regulariser, as in the paper.
    """
    lam = cfg.lam * normal_bound(E.ops[-1].maps)
    N = E.N
    A = N if lam == 0 else N + lam * Identity(E.in_shape)
    b = E.H(y)
    res = solve(CG(), LinearSystem(A, b), stop=MaxIter(cfg.max_iter) | Residual(cfg.tol),
                callbacks=callbacks, check_every=cfg.check_every)
    return res.x, res.iterations, {"stop_reason": res.stop_reason}


def ls(E, y, cfg, *, callbacks=()):
    """L+S (Otazo et al. 2015): nuclear norm of the Casorati matrix + ℓ1 in temporal Fourier.

    ``lam_l`` is a fraction of the largest singular value of the zero-filled
    Casorati matrix; ``lam_s`` a fraction of the largest temporal-Fourier
    coefficient of the zero-filled series.  By default the iteration is the
    paper's (proximal gradient, unit step for each block of a normalised
    model); ``momentum=True`` switches to FISTA.
    """
    T, Y, X = E.in_shape
    if T < 2:
        raise ConfigError("method 'ls' needs a dynamic series (T >= 2 frames); "
                          "for a static image use --method cg-sense")
    x0 = E.H(y)
    C = Unfold(E.in_shape, mode=0)       # Casorati matrix (T × YX)
    Ft = FFT(E.in_shape, axes=(0,))      # temporal Fourier transform
    smax = float(torch.linalg.matrix_norm(C(x0), ord=2))
    fmax = float(Ft(x0).abs().max())
    # Otazo's iteration is proximal gradient with a unit step per block (1/‖E‖²); FISTA needs the
    # joint Lipschitz constant 2‖E‖².
    bound = normal_bound(E.ops[-1].maps)
    step = 1.0 / (2.0 * bound) if cfg.momentum else 1.0 / bound
    L, S, res = lowrank_plus_sparse(
        E, y, unfold=C, lam_l=cfg.lam_l * smax, lam_s=cfg.lam_s * fmax, sparse_transform=Ft, x0=x0,
        step=step, momentum=cfg.momentum, stop=MaxIter(cfg.max_iter) | RelChange(cfg.tol), callbacks=callbacks,
        check_every=cfg.check_every)
    return L + S, res.iterations, {"stop_reason": res.stop_reason, "L": L, "S": S}


METHODS = {
    "ls": (ls, "low rank + sparse in temporal Fourier (Otazo et al. 2015), the default"),
    "cg-sense": (cg_sense, "CG-SENSE: conjugate gradient on the SENSE normal equations"),
    "zero-filled": (zero_filled, "zero-filled inverse FFT with coil combination (baseline)"),
}


# --- rim: learned recurrent inference machine (code in rim.py; `sensekit train mri-recon` trains it) ---
from .rim import rim  # noqa: E402

METHODS["rim"] = (rim, "recurrent inference machine (Lønning et al. 2019), learned; shipped model or rim_model")
# --- end rim ---
