"""The unmix methods: each maps the pixel-normalised bands × pixels matrix to (E, A).

Every method receives ``X`` (B, N), already divided per pixel by its reliability-weighted band sum (see
``app.pixel_scale``), the number of endmembers ``k``, the options, a generator and the (equally
normalised) library (L, B) or None; it returns ``(E (B, k), A (k, N), iterations, info)``.
"""
from __future__ import annotations

import torch

from sensekit.io.errors import InputError
from sensekit.solvers import unmixing as U


def _extract(X, k, cfg, generator):
    if cfg.init == "vca":
        return U.vca(X, k, generator=generator)[0]
    return U.nfindr(X, k)[0]


def _data_term(X, E, A):
    return float(torch.sum(torch.linalg.vector_norm(X - E @ A, dim=1)))


def band_reliability(X):
    """Each band's multiple-regression R² in [0, 1] (≈ 0 for a band of gross noise that no other band predicts)."""
    Wn = U.estimate_noise(X)
    Xc = X - X.mean(dim=1, keepdim=True)
    return (1 - torch.sum(Wn * Wn, dim=1) / torch.sum(Xc * Xc, dim=1).clamp_min(1e-30)).clamp(0.0, 1.0)


def robust_start(X, k, cfg, generator):
    """Endmembers and abundances to start rrlbs from: the extraction (VCA / N-FINDR) and FCLS run on the bands
    weighted by ``min(1, SNR_b / 10)²``, ``SNR_b = R²_b / (1 − R²_b)`` from the multiple regression of the band
    on the others: a band that the others predict to R² ≥ 0.91 counts fully, a band of gross noise (R² ≈ 0)
    not at all, so it cannot pick the pixels. The endmembers are read from the unweighted data."""
    r2 = band_reliability(X)
    w = ((r2 / (1 - r2).clamp_min(1e-12) / 10.0).clamp(max=1.0) ** 2)[:, None]   # min(1, band SNR / 10)²
    Xw = X * w
    idx = U.vca(Xw, k, generator=generator)[1] if cfg.init == "vca" else U.nfindr(Xw, k)[1]
    E0 = X[:, idx].clamp_min(0.0) if bool((X >= 0).all()) else X[:, idx]
    return E0, U.fcls(Xw, E0 * w)


def run_rrlbs(X, k, cfg, generator, library):
    E0, A0 = robust_start(X, k, cfg, generator)
    # scale-aware weight: lam is relative to the initial l2,1 fit per pixel
    lam = cfg.lam * _data_term(X, E0, A0) / X.shape[1]
    E, A, res = U.rrlbs(X, k, E0=E0, A0=A0, lam=lam, p=cfg.p, mu=cfg.mu, max_iter=cfg.max_iter, tol=cfg.tol,
                        inner=cfg.inner, check_every=cfg.check_every)
    st = res.state
    return E, A, res.iterations, {"stop_reason": res.stop_reason, "history": res.history,
                                  "band_weights": st.g / st.g.max(), "guidance": st.h, "lam_abs": lam}


def run_vca_fcls(X, k, cfg, generator, library):
    E = U.vca(X, k, generator=generator)[0]
    return E, U.fcls(X, E), 1, {"stop_reason": "closed form"}


def run_nfindr_fcls(X, k, cfg, generator, library):
    E = U.nfindr(X, k)[0]
    return E, U.fcls(X, E), 1, {"stop_reason": "closed form"}


def run_nmf(X, k, cfg, generator, library):
    E0 = _extract(X, k, cfg, generator)
    E, A, info = U.nmf(X, E0, U.fcls(X, E0), max_iter=cfg.max_iter, tol=cfg.tol * 0.1, delta=cfg.delta,
                    check_every=cfg.check_every)
    return E, U.project_simplex(A), info["iterations"], {"stop_reason": f"iterations={info['iterations']}"}


def run_l12nmf(X, k, cfg, generator, library):
    E0 = _extract(X, k, cfg, generator)
    lam = U.l12_lambda(X) * cfg.lam_l12
    E, A, info = U.l12_nmf(X, E0, U.fcls(X, E0), lam=lam, max_iter=cfg.max_iter, tol=cfg.tol * 0.1,
                           delta=cfg.delta, check_every=cfg.check_every)
    return E, U.project_simplex(A), info["iterations"], {"stop_reason": f"iterations={info['iterations']}",
                                                          "lam_abs": lam}


def run_mvnmf(X, k, cfg, generator, library):
    E0 = _extract(X, k, cfg, generator)
    E, A, info = U.mvnmf(X, E0, U.fcls(X, E0), lam=cfg.lam_mv, delta=cfg.delta_mv, max_iter=cfg.max_iter,
                         inner=cfg.inner, tol=cfg.tol * 0.1, check_every=cfg.check_every)
    return E, A, info["iterations"], {"stop_reason": f"iterations={info['iterations']}", "lam_abs": info["lam_abs"]}


def run_sunsal(X, k, cfg, generator, library):
    if library is None:
        raise InputError("method sunsal needs a spectral library: dataset 'library' (L, B) is absent")
    D = library.T.to(X)                         # (B, L)
    c = 1.0 / float(torch.linalg.vector_norm(X, dim=0).mean())
    A_full, info = U.sunsal(X * c, D * c, lam=cfg.lam_sparse, sum_to_one=cfg.sum_to_one,
                            collaborative=cfg.collaborative, max_iter=cfg.max_iter * 5, tol=cfg.tol * 0.1,
                            check_every=cfg.check_every)
    weight = A_full.mean(dim=1)
    sel = torch.argsort(weight, descending=True)[:k]
    sel = sel[torch.argsort(sel)]
    E = D[:, sel]
    A = U.fcls(X, E) if cfg.sum_to_one else U.fcls(X, E, sum_to_one=False)
    return E, A, info["iterations"], {"stop_reason": f"admm iterations={info['iterations']}", "selected": sel,
                                      "library_abundances": A_full}


#: name -> (function, one-line description)
METHODS = {
    "rrlbs": (run_rrlbs, "robust l2,1 representation + learnt per-pixel l_p sparsity (Zhu et al. 2014, "
                         "reconstructed from the abstract), alternating majorise-minimise"),
    "vca-fcls": (run_vca_fcls, "VCA endmembers + fully constrained least squares abundances"),
    "nfindr-fcls": (run_nfindr_fcls, "N-FINDR (ATGP start) endmembers + FCLS abundances"),
    "nmf": (run_nmf, "NMF by multiplicative updates with the sum-to-one augmented row"),
    "l12nmf": (run_l12nmf, "l1/2-sparsity-constrained NMF (Qian et al. 2011)"),
    "mvnmf": (run_mvnmf, "minimum-volume NMF, log-det volume penalty (Fu et al. 2016, Leplat et al. 2019), for "
                         "scenes without pure pixels"),
    "sunsal": (run_sunsal, "sparse unmixing against the library by ADMM (SUnSAL; CLSUnSAL with collaborative)"),
}
