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


def band_prior(X):
    """Each band's reliability weight ``min(1, SNR_b / 10)²``, ``SNR_b = R²_b / (1 − R²_b)`` from the multiple
    regression of the band on the others (:func:`band_reliability`): a band that the others predict to
    R² ≥ 0.91 counts fully, a band of gross noise (R² ≈ 0) not at all. Computed from the data alone.

    Parameters
    ----------
    X : Tensor (B, N)
        Bands × pixels.
    """
    r2 = band_reliability(X)
    return (r2 / (1 - r2).clamp_min(1e-12) / 10.0).clamp(max=1.0) ** 2


def robust_start(X, k, cfg, generator):
    """Endmembers and abundances to start rrlbs from: the extraction (VCA / N-FINDR) and FCLS run on the bands
    weighted by :func:`band_prior`, so that gross-noise bands cannot pick the pixels. The endmembers are read
    from the unweighted data."""
    w = band_prior(X)[:, None]
    Xw = X * w
    idx = U.vca(Xw, k, generator=generator)[1] if cfg.init == "vca" else U.nfindr(Xw, k)[1]
    E0 = X[:, idx].clamp_min(0.0) if bool((X >= 0).all()) else X[:, idx]
    return E0, U.fcls(Xw, E0 * w)


def sparsity_balance(X, E0, A0, cfg, prior=None):
    """The data-driven rrlbs weight: the λ at which the guided ℓ_p term equals the (prior-weighted) ℓ2,1 fit at
    the start, ``λ_bal = Σ_b ω_b ‖x^b − e^b A0‖ / Σ_j (1 − h_j) s_j`` (h, s of
    :class:`~sensekit.solvers.unmixing.RRLbS` at A0); ``cfg.lam`` multiplies it. No reference data enter.

    Parameters
    ----------
    X : Tensor (B, N)
        Bands × pixels (normalised as the method sees them).
    E0, A0 : Tensor
        The start (B, P) and (P, N).
    cfg : Config
        The app's options (``p``, ``mu``).
    prior : Tensor (B,), optional
        Band prior weights ω (default all 1).
    """
    sol = U.RRLbS(p=cfg.p, mu=cfg.mu)
    s = sol.mixed_level(A0)
    reg0 = float(torch.sum((1 - sol._h(s)) * s))
    w = torch.ones(X.shape[0], dtype=X.dtype) if prior is None else prior
    data = float(torch.sum(w * torch.linalg.vector_norm(X - E0 @ A0, dim=1)))
    return data / max(reg0, 1e-6 * X.shape[1])


def l21_refit(X, E, A, *, prior=None, steps=5, eps=1e-6):
    """Abundances of fixed endmembers by the (prior-weighted) ℓ2,1 fit alone, the sparsity off: ``steps`` IRLS
    steps, each an FCLS on the bands weighted by ``ω_b / (2 ‖r_b‖)``; each step is the exact minimiser of a
    majoriser, so the ℓ2,1 fit does not increase.

    Parameters
    ----------
    X : Tensor (B, N)
        Bands × pixels.
    E : Tensor (B, P)
        Fixed endmembers.
    A : Tensor (P, N)
        Abundances to start from (the IRLS weights of the first step).
    prior : Tensor (B,), optional
        Band prior weights ω (default all 1).
    steps : int
        IRLS steps.
    eps : float
        Smoothing of the band norms.
    """
    w0 = torch.ones(X.shape[0], dtype=X.dtype) if prior is None else prior
    for _ in range(steps):
        g = 0.5 * w0 / torch.sqrt(torch.sum((X - E @ A) ** 2, dim=1) + eps ** 2)
        w = torch.sqrt(g)[:, None]
        A = U.fcls(X * w, E * w)
    return A


def run_rrlbs(X, k, cfg, generator, library):
    E0, A0 = robust_start(X, k, cfg, generator)
    prior = band_prior(X) if cfg.band_prior else None
    lam = cfg.lam * sparsity_balance(X, E0, A0, cfg, prior)
    E, A, res = U.rrlbs(X, k, E0=E0, A0=A0, lam=lam, p=cfg.p, mu=cfg.mu, max_iter=cfg.max_iter, tol=cfg.tol,
                        inner=cfg.inner, check_every=cfg.check_every, band_prior=prior)
    st = res.state
    info = {"stop_reason": res.stop_reason, "history": res.history, "band_weights": st.g / st.g.max(),
            "guidance": st.h, "lam_abs": lam}
    if cfg.refit and lam > 0:
        A = l21_refit(X, E, A, prior=prior)
    return E, A, res.iterations, info


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
