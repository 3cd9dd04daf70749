"""isac estimators on normalised frequencies (see :mod:`sensekit.sim.ofdm` for the conventions).

Everything here works on the channel tensor ``H`` (S, A, K, L) (complex128) and returns targets as
normalised frequencies ``F`` (P, 3) (cycles per antenna / subcarrier / symbol, in [−½, ½)) with complex
gains (S, P); :mod:`apps.isac.app` converts to angle / range / velocity.

* :func:`plain`: PLAIN (Tahir, Svoboda, Rupp, arXiv 2503.21242; the authors' MATLAB code as summarised
  in PAPERS.md): compression per dimension, decoupled 1-D subspace estimation with model order,
  tensor-OMP fusion over the per-dimension candidates, then (optionally) :func:`refine`.
* :func:`fft`: 3-D zero-padded periodogram with peak picking (CFAR-like and relative thresholds).
* :func:`refine`: joint maximum-likelihood refinement by variable projection (Gauss–Newton /
  Levenberg–Marquardt on the 3P frequencies, gains projected out) from any initial estimate.
"""
from __future__ import annotations


import numpy as np
import torch
from scipy import stats

from sensekit.sim.ofdm import model_grams, steering, wrap
from sensekit.solvers.subspace import model_order, root_music, sample_covariance, unitary_esprit, esprit


# ------------------------------------------------------------------------------------------- helpers
#: eigenvalues / energies below this fraction of the largest are round-off (noiseless data)
NUMERICAL_FLOOR = 1e-11


def contract(H: torch.Tensor, mats) -> torch.Tensor:
    """``H ×₁ M₁ᴴ ×₂ M₂ᴴ ×₃ M₃ᴴ``: (S, A, K, L) -> (S, n₁, n₂, n₃).

    The first (full-size) product is the one that shrinks the data most, done as one matrix product
    without copying H when it is the antenna or the symbol mode (the subcarrier mode would need a
    transposed copy of H, counted as 4 multiply-adds per entry); the rest act on the small remainder.
    """
    S, A, K, L = H.shape
    n = [m.shape[1] for m in mats]
    first = min(range(3), key=lambda m: n[m] + (4 if m == 1 else 0))
    if first == 0:
        X = torch.matmul(mats[0].mH, H.reshape(S, A, K * L)).reshape(S, n[0], K, L)
    elif first == 2:
        X = torch.matmul(H, mats[2].conj())
    else:
        X = torch.movedim(torch.tensordot(H, mats[1].conj(), dims=([2], [0])), -1, 2)
    for m in sorted(set(range(3)) - {first}, key=lambda m: n[m] / mats[m].shape[0]):
        X = torch.movedim(torch.tensordot(X, mats[m].conj(), dims=([1 + m], [0])), -1, 1 + m)
    return X


def energy(H: torch.Tensor) -> float:
    """‖H‖² without a full-size temporary (one BLAS dot on the real view)."""
    v = torch.view_as_real(H.contiguous()).reshape(-1)
    return float(torch.dot(v, v))


def detection_threshold(pfa: float, n_tests: int, snapshots: int) -> float:
    """Energy threshold (in units of σ²) that noise alone exceeds with probability ``pfa`` over ``n_tests``
    atoms: the energy of one unit-norm atom's LS fit to white noise is Gamma(S, σ²)."""
    return float(stats.gamma.isf(min(pfa / max(n_tests, 1), 0.5), snapshots))


# --------------------------------------------------------------------------------------- compression
def compress(H: torch.Tensor, factors, kind: str, shifts=(0.0, 0.0, 0.0)):
    """Per-dimension compression: ``(Hc, noise_factor)``.

    ``average`` (PLAIN's default): non-overlapping block means of Δ_m samples (mode product with
    J_mᵀ/Δ_m); ``decimate``: every Δ_m-th sample; ``multiphase``: every Δ_m-th sample at all Δ_m phase
    offsets, the offsets stacked as extra snapshots (the same data, reshaped); ``none``. Before
    compressing, mode m is demodulated by ``exp(j2π n s_m)`` (``shifts``) so that the band of interest is
    centred at zero frequency. A harmonic of frequency f becomes one of frequency Δ_m(f + s_m) (mod 1) —
    the compressed data are ambiguous by multiples of 1/Δ_m, and block averaging attenuates
    |Δ_m(f + s_m)| near ½ (by 2/π at ½, to zero at 1): see :func:`alias_candidates`. ``noise_factor`` is
    the noise variance of the original samples over that of the compressed ones (∏Δ_m for averaging).
    """
    S = H.shape[0]
    if kind == "none" or all(f == 1 for f in factors):
        factors = (1, 1, 1)
    if kind == "average":
        # block means, weighted by the demodulation phases within a block (no full-size temporary):
        # mean_i x[Δn'+i] e^{j2πs(Δn'+i)} = e^{j2πsΔn'} · Σ_i x[Δn'+i] e^{j2πsi}/Δ; symbols first (contiguous:
        # a cheap product that shrinks the data before the others, measured faster than any other order)
        X = H
        for m in (2, 1, 0):
            d, sh = int(factors[m]), float(shifts[m])
            M = X.shape[1 + m] // d
            X = X.narrow(1 + m, 0, M * d)
            if d == 1 and not sh:
                continue
            shape = list(X.shape)
            X5 = X.reshape(shape[:1 + m] + [M, d] + shape[2 + m:])
            w = steering([sh], d, device=H.device).reshape(-1) / d
            X = torch.tensordot(X5, w, dims=([2 + m], [0])) if m < 2 else torch.matmul(X5, w)
            if sh:
                ph = steering([sh * d], M, device=H.device).reshape(-1)
                X = X * ph.reshape([-1 if i == 1 + m else 1 for i in range(4)])
        return X, float(np.prod(factors))
    X = H
    for m, s in enumerate(shifts):
        if s:
            ph = steering([s], X.shape[1 + m], device=H.device).reshape(-1)
            X = X * ph.reshape([-1 if i == 1 + m else 1 for i in range(4)])
    sizes = [X.shape[1 + m] // factors[m] * factors[m] for m in range(3)]
    X = X[:, :sizes[0], :sizes[1], :sizes[2]]
    if factors == (1, 1, 1):
        return X, 1.0
    d = list(factors)
    if kind == "decimate":
        return X[:, ::d[0], ::d[1], ::d[2]], 1.0
    Y = X.reshape(S, sizes[0] // d[0], d[0], sizes[1] // d[1], d[1], sizes[2] // d[2], d[2])
    if kind == "multiphase":
        Y = Y.permute(0, 2, 4, 6, 1, 3, 5)
        return Y.reshape(S * d[0] * d[1] * d[2], sizes[0] // d[0], sizes[1] // d[1], sizes[2] // d[2]), 1.0
    raise ValueError(f"unknown compression {kind!r}")


def alias_candidates(phi, factor: int, shift: float) -> np.ndarray:
    """All original-rate frequencies f with Δ(f + s) ≡ φ (mod 1): ``(φ + i)/Δ − s``, i = 0..Δ−1."""
    phi = np.asarray(phi, dtype=np.float64).reshape(-1)
    return wrap(((phi[:, None] + np.arange(factor)[None, :]) / factor - shift).reshape(-1))


# -------------------------------------------------------------------------------- per-dimension stage
ESTIMATORS = {"esprit": "unitary ESPRIT", "root-music": "root-MUSIC", "ls-esprit": "least-squares ESPRIT"}


def per_mode(Hc: torch.Tensor, *, estimator: str = "esprit", criterion: str = "mdl", max_order: int | None = None):
    """Decoupled 1-D estimation along each mode of the compressed tensor.

    For mode m: unfold (columns = snapshots), sample covariance with forward–backward averaging,
    model order by ``criterion`` on its eigenvalues, then ``estimator``. Returns a list of three
    ``(freqs (k_m,), noise_eig_mean)`` (frequencies of the compressed rate).
    """
    out = []
    for m in range(3):
        M = Hc.shape[1 + m]
        x = torch.movedim(Hc, 1 + m, -1).reshape(-1, M)
        R = sample_covariance(x, fb=True)
        lam = torch.linalg.eigvalsh(R)
        k = int(model_order(lam, x.shape[0], criterion=criterion))
        k = min(k, int((lam > NUMERICAL_FLOOR * lam.max()).sum()))   # noiseless data: rank, not round-off
        k = min(k, M - 2 if estimator != "root-music" else M - 1)
        if max_order is not None:
            k = min(k, int(max_order))
        noise = max(float(lam[:M - k].mean()) if M - k > 0 else float(lam.min()), 0.0)
        if k <= 0:
            out.append((np.zeros(0), noise))
            continue
        if estimator == "esprit":
            f = unitary_esprit(R, k)
        elif estimator == "ls-esprit":
            f = esprit(R, k)
        elif estimator == "root-music":
            f = root_music(R, k)
        else:
            raise ValueError(f"unknown estimator {estimator!r}")
        out.append((f.double().cpu().numpy(), noise))
    return out


# ---------------------------------------------------------------------------------------------- fusion
def fuse_omp(H: torch.Tensor, cands, *, n_targets: int | None, n_max: int, noise_var: float, pfa: float):
    """Tensor OMP over the Kronecker grid of the per-mode candidates, on the full-rate data.

    Atoms ``a_i ∘ d_j ∘ v_l`` (all unit-modulus Vandermonde); the correlations of the data with every
    atom, ``C = H ×₁ Âᴴ ×₂ D̂ᴴ ×₃ V̂ᴴ``, are computed once; each step picks the index triple of largest
    residual correlation power (summed over snapshots), refits all selected gains by least squares
    (Gram = Hadamard product of per-mode Grams) and updates the residual correlations — the same
    selections as OMP on the explicit Kronecker dictionary, without ever forming a residual tensor.
    Without ``n_targets`` it stops when the next atom lowers the residual energy by less than the
    noise threshold (:func:`detection_threshold` at ``pfa``). Returns ``(F (P, 3), gains (S, P))``.
    """
    S = H.shape[0]
    shape = H.shape[1:]
    N = float(np.prod(shape))
    if any(len(c) == 0 for c in cands):
        return np.zeros((0, 3)), np.zeros((S, 0), dtype=complex)
    W = [steering(c, shape[m], device=H.device) for m, c in enumerate(cands)]
    C = contract(H, W)
    G = [w.mH @ w for w in W]
    sizes = [len(c) for c in cands]
    grid = int(np.prod(sizes))
    kappa = detection_threshold(pfa, grid, S)
    limit = min(grid, n_targets if n_targets is not None else n_max)
    Cres = C
    sel, e_prev, coef = [], 0.0, None
    taken = torch.zeros(grid, dtype=torch.bool, device=H.device)
    for _ in range(limit):
        score = (Cres.abs() ** 2).sum(0).reshape(-1) / N
        score = torch.where(taken, torch.full_like(score, -1.0), score)
        flat = int(score.argmax())
        idx = np.unravel_index(flat, sizes)
        trial = sel + [idx]
        I = np.array(trial)
        Gs = G[0][I[:, 0]][:, I[:, 0]] * G[1][I[:, 1]][:, I[:, 1]] * G[2][I[:, 2]][:, I[:, 2]]
        b = C[:, I[:, 0], I[:, 1], I[:, 2]]                       # (S, p)
        try:
            c = torch.linalg.solve(Gs, b.T).T
        except RuntimeError:                                       # singular: a duplicate atom
            break
        e = float((c.conj() * b).real.sum())
        if n_targets is None and e - e_prev < kappa * noise_var:
            break
        taken[flat] = True
        sel, e_prev, coef = trial, e, c
        Cres = C - torch.einsum("sq,aq,kq,lq->sakl", c, G[0][:, I[:, 0]], G[1][:, I[:, 1]], G[2][:, I[:, 2]])
    if not sel:
        return np.zeros((0, 3)), np.zeros((S, 0), dtype=complex)
    I = np.array(sel)
    F = np.stack([cands[m][I[:, m]] for m in range(3)], axis=1)
    return F, coef.cpu().numpy()


def plain(H: torch.Tensor, *, factors, compression: str, shifts, estimator: str, criterion: str,
          n_targets: int | None, pfa: float):
    """PLAIN stages 1–3 (compression, decoupled estimation, tensor-OMP fusion).

    Returns ``(F, gains, info)`` with the per-mode model orders and the noise variance estimate.
    """
    if compression == "none":
        factors = (1, 1, 1)
    Hc, nfac = compress(H, factors, compression, shifts)
    modes = per_mode(Hc, estimator=estimator, criterion=criterion)
    orders = [len(f) for f, _ in modes]
    # noise variance of the full-rate data from the mode with the most noise eigenvalues
    free = [Hc.shape[1 + m] - orders[m] for m in range(3)]
    noise_var = modes[int(np.argmax(free))][1] * nfac
    noise_var = max(noise_var, NUMERICAL_FLOOR * energy(H) / H.numel())
    cands = [alias_candidates(f, factors[m], shifts[m]) for m, (f, _) in enumerate(modes)]
    n_max = max(1, min(int(np.prod([max(o, 1) for o in orders])), 3 * max(orders + [1])))
    F, g = fuse_omp(H, cands, n_targets=n_targets, n_max=n_max, noise_var=noise_var, pfa=pfa)
    return F, g, {"orders": orders, "noise_var": noise_var, "compressed_shape": tuple(Hc.shape[1:]),
                  "candidates": [len(c) for c in cands]}


# ------------------------------------------------------------------------------------------------ FFT
def _local_max(P: torch.Tensor) -> torch.Tensor:
    """Mask of entries >= all 26 circular neighbours (3-D)."""
    m = P.clone()
    for dim in range(3):
        m = torch.maximum(torch.maximum(m, torch.roll(m, 1, dim)), torch.roll(m, -1, dim))
    return P >= m


def fft(H: torch.Tensor, *, pad: int, window: str, rel_db: float, pfa: float, n_targets: int | None,
        max_peaks: int = 64):
    """3-D zero-padded periodogram (window per dimension), local maxima, thresholds, 3-point interpolation.

    A local maximum is a target when its power exceeds the noise floor (estimated from the median of
    the periodogram) by the :func:`detection_threshold` at ``pfa`` over A·K·L independent cells AND is
    within ``rel_db`` of the strongest peak; with ``n_targets`` the strongest that many local maxima.
    Off-grid frequencies by parabolic interpolation of the log power along each dimension.
    Returns ``(F, gains, info)``.
    """
    S, A, K, L = H.shape
    ws = []
    for M in (A, K, L):
        ws.append(torch.hann_window(M + 2, periodic=False, dtype=torch.float64, device=H.device)[1:-1]
                  if window == "hann" else torch.ones(M, dtype=torch.float64, device=H.device))
    w3 = ws[0][:, None, None] * ws[1][None, :, None] * ws[2][None, None, :]
    nf = (pad * A, pad * K, pad * L)
    X = torch.fft.fftn(H * w3, s=nf, dim=(1, 2, 3))   # Σ x[n] e^{−j2π n i/Nf}: e^{j2π f n} peaks at i = f·Nf
    Pw = (X.abs() ** 2).sum(0)
    e_w = float((w3 ** 2).sum())
    noise = float(Pw.median()) / (e_w * float(stats.gamma.median(S)))     # σ² estimate
    lm = _local_max(Pw)
    vals = Pw[lm]
    idx = torch.nonzero(lm)
    order = torch.argsort(vals, descending=True)
    vals, idx = vals[order], idx[order]
    if n_targets is not None:
        keep = torch.arange(min(n_targets, len(vals)))
    else:
        thr = max(noise * e_w * detection_threshold(pfa, A * K * L, S),
                  float(vals[0]) * 10 ** (-rel_db / 10) if len(vals) else 0.0)
        keep = torch.nonzero(vals > thr).reshape(-1)[:max_peaks]
    idx = idx[keep]
    F = np.zeros((len(idx), 3))
    logP = torch.log(Pw + 1e-300)
    for p, (i, j, k) in enumerate(idx.tolist()):
        c = (i, j, k)
        for m in range(3):
            lo, hi = list(c), list(c)
            lo[m] = (c[m] - 1) % nf[m]
            hi[m] = (c[m] + 1) % nf[m]
            y0, y1, y2 = float(logP[tuple(lo)]), float(logP[c]), float(logP[tuple(hi)])
            den = y0 - 2 * y1 + y2
            delta = 0.5 * (y0 - y2) / den if den < 0 else 0.0
            F[p, m] = (c[m] + float(np.clip(delta, -0.5, 0.5))) / nf[m]
    F = wrap(F)
    g = X[:, idx[:, 0], idx[:, 1], idx[:, 2]].cpu().numpy() / float(w3.sum()) if len(idx) else np.zeros((S, 0), complex)
    return F, g, {"noise_var": noise, "peaks": int(lm.sum())}


# -------------------------------------------------------------------------------------- ML refinement
def _fit(H, F, need_derivatives, h2):
    """Contractions of H with the model factors at F: gains, cost, and (optionally) Dᴴr blocks."""
    shape = tuple(H.shape[1:])
    P = F.shape[0]
    if need_derivatives:
        dev = H.device
        mats = [torch.cat([steering(F[:, m], shape[m], device=dev),
                           steering(F[:, m], shape[m], derivative=True, device=dev)], 1)
                for m in range(3)]
    else:
        mats = [steering(F[:, m], shape[m], device=H.device) for m in range(3)]
    T = contract(H, mats)
    p = torch.arange(P, device=H.device)
    bK = T[:, p, p, p]
    Gkk, Gdk, Gdd = (G.to(H.device) for G in model_grams(F, shape))
    g = torch.linalg.solve(Gkk, bK.T).T                           # (S, P)
    cost = float(h2 - (g.conj() * bK).real.sum())
    if not need_derivatives:
        return g, cost, None
    bD = torch.cat([T[:, p + P, p, p], T[:, p, p + P, p], T[:, p, p, p + P]], dim=1)   # (S, 3P) = Dᴴh
    Dr = bD - (Gdk @ g.T).T                                       # Dᴴ r
    Mproj = Gdd - Gdk @ torch.linalg.solve(Gkk, Gdk.mH)
    gt = torch.cat([g, g, g], 1)
    grad = (gt.conj() * Dr).real.sum(0)
    Nmat = (gt.conj()[:, :, None] * Mproj[None] * gt[:, None, :]).sum(0).real
    return g, cost, (grad, Nmat)


def refine(H: torch.Tensor, F, *, max_iter: int = 30, tol: float = 1e-10, stat_tol: float = 0.1):
    """Joint ML refinement of the frequencies F (P, 3) by variable projection.

    Minimises ``Σ_s ‖h_s − K(F) g_s‖²`` over F with the gains at their least-squares values
    (white Gaussian noise: the ML estimate). Levenberg–Marquardt steps on the Kaufman Gauss–Newton
    model ``(Re JᴴJ + μ diag) δ = Re Jᴴr``, ``J = P⊥_K D diag(g)``; each step is one pass over the data
    (contractions with the factors and their derivatives) plus 3P × 3P algebra. Stops when the step is
    below ``tol`` FFT cells or below ``stat_tol`` of the estimate's standard deviation (CRB at the estimate).
    Returns ``(F, gains (S, P), cost, iterations, stop_reason)``.
    """
    F = wrap(np.asarray(F, dtype=np.float64).reshape(-1, 3))
    P = F.shape[0]
    h2 = energy(H)
    if P == 0:
        return F, np.zeros((H.shape[0], 0), complex), h2, 0, "no targets"
    shape = tuple(H.shape[1:])
    mu = 1e-3
    try:
        g, cost, (grad, Nmat) = _fit(H, F, True, h2)
    except RuntimeError:
        return F, np.zeros((H.shape[0], P), complex), h2, 0, "singular"
    it, reason = 0, f"max_iter={max_iter}"
    for it in range(1, max_iter + 1):
        accepted = False
        for _ in range(12):
            A = Nmat + mu * torch.diag(torch.diag(Nmat).clamp(min=1e-300))
            try:
                delta = torch.linalg.solve(A, grad).cpu().numpy()
            except RuntimeError:
                mu *= 10
                continue
            step = np.stack([delta[m * P:(m + 1) * P] for m in range(3)], axis=1)
            Fn = wrap(F + step)
            try:
                trial = _fit(H, Fn, True, h2)        # the cost and the next step's model in one pass
            except RuntimeError:
                mu *= 10
                continue
            if trial[1] <= cost:
                accepted = True
                break
            mu *= 10
        if not accepted:
            reason = "no decrease"
            break
        old = cost
        F = Fn
        g, cost, (grad, Nmat) = trial
        mu = max(mu / 10, 1e-12)
        small = float(np.max(np.abs(step) * np.array(shape)[None, :]))
        if small < tol or (old - cost) <= 1e-15 * max(old, 1e-300):
            reason = f"step<{tol:g} cells"
            break
        if stat_tol > 0:
            # the step against the estimate's own standard deviation (σ̂²/2 · diag N⁻¹, the CRB at the estimate):
            # once below stat_tol, further steps cannot change the result statistically (noiseless data: σ̂ ≈ 0,
            # so this never fires and the iteration runs to round-off)
            dof = max(H.shape[0] * int(np.prod(shape)) - (2 * H.shape[0] + 3) * P, 1)
            try:
                var = max(cost, 0.0) / dof / 2 * torch.diag(torch.linalg.inv(Nmat)).clamp(min=0).cpu().numpy()
            except RuntimeError:
                var = None
            if var is not None and np.all(np.abs(delta) <= stat_tol * np.sqrt(var)):
                reason = f"step<{stat_tol:g} std"
                break
    return F, g.cpu().numpy(), cost, it, reason
