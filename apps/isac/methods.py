"""isac estimators on normalised frequencies (see :mod:`sensekit.sim.ofdm` for the conventions).

Everything here works on the channel tensor ``H`` (S, A, K, L) (complex128) and returns targets as
normalised frequencies ``F`` (P, 3) (cycles per antenna / subcarrier / symbol, in [−½, ½)) with complex
gains (S, P); :mod:`apps.isac.app` converts to angle / range / velocity.

* :func:`plain`: PLAIN (Tahir, Svoboda, Rupp, arXiv 2503.21242; the authors' MATLAB code as summarised
  in PAPERS.md): compression per dimension, decoupled 1-D subspace estimation with model order,
  tensor-OMP fusion over the per-dimension candidates, then (optionally) :func:`refine`.
* :func:`fft`: 3-D zero-padded periodogram with peak picking (CFAR-like and relative thresholds).
* :func:`krosbl`: Kronecker-structured sparse Bayesian learning on an angle × delay × Doppler grid of the
  compressed tensor (the core :class:`~sensekit.solvers.bayes.KronSBL` through
  :func:`~sensekit.solvers.solve`), detection on the recovered support, then :func:`refine`.
* :func:`sequential`: dimension-by-dimension 1-D estimation (angle, then delay per angle, then Doppler).
* :func:`joint_esprit`: 3-D ESPRIT with spatial smoothing and automatic pairing by a common eigenvector set.
* :func:`refine`: joint maximum-likelihood refinement by variable projection (Gauss–Newton /
  Levenberg–Marquardt on the 3P frequencies, gains projected out) from any initial estimate.
"""
from __future__ import annotations


import numpy as np
import torch
from scipy import stats

from sensekit.sim.ofdm import model_grams, steering, wrap
from sensekit.solvers.subspace import (esprit, forward_backward, model_order, root_music, sample_covariance,
                                      unitary_esprit)


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


_ENERGY_CACHE: dict = {}


def energy(H: torch.Tensor) -> float:
    """‖H‖² without a full-size temporary (one BLAS dot on the real view).

    The value of the last large tensor is remembered (keyed on its storage, shape and in-place version
    counter): PLAIN, the refinement and the pruning all need ‖H‖² of the same channel, one pass each before.
    """
    key = (H.data_ptr(), tuple(H.shape), tuple(H.stride()), H._version, H.dtype, str(H.device))
    if H.numel() >= 1 << 20 and _ENERGY_CACHE.get("key") == key:
        return _ENERGY_CACHE["value"]
    v = torch.view_as_real(H.contiguous()).reshape(-1)
    e = float(torch.dot(v, v))
    if H.numel() >= 1 << 20:
        _ENERGY_CACHE.update(key=key, value=e)
    return e


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
            if sh:
                w = steering([sh], d, device=H.device).reshape(-1) / d
                X = torch.tensordot(X5, w, dims=([2 + m], [0])) if m < 2 else torch.matmul(X5, w)
            else:   # plain block mean: d strided adds (streaming) instead of a batched gemv
                X = X5.select(2 + m, 0).clone()
                for i in range(1, d):
                    X += X5.select(2 + m, i)
                X /= d
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
            # the next Gauss-Newton step is known from this pass (grad, Nmat at the new F): when it is below
            # stat_tol of the standard deviation, stop without the pass that would take it (the iterate is
            # within stat_tol std of the stationary point); saves one pass over the data per refinement
            if var is not None:
                try:
                    nxt = torch.linalg.solve(Nmat + mu * torch.diag(torch.diag(Nmat).clamp(min=1e-300)),
                                             grad).cpu().numpy()
                except RuntimeError:
                    nxt = None
                if nxt is not None and np.all(np.abs(nxt) <= stat_tol * np.sqrt(var)):
                    reason = f"next step<{stat_tol:g} std"
                    break
    return F, g.cpu().numpy(), cost, it, reason


def gains_ls(H: torch.Tensor, F) -> np.ndarray:
    """Least-squares gains (S, P) of the model atoms at the frequencies F (P, 3) on the full data."""
    F = np.asarray(F, dtype=np.float64).reshape(-1, 3)
    if not len(F):
        return np.zeros((H.shape[0], 0), complex)
    g, _, _ = _fit(H, F, False, energy(H))
    return g.cpu().numpy()


# ------------------------------------------------------------------------------------------- KroSBL
def compressed_atoms(f, n: int, factor: int, shift: float, device=None) -> torch.Tensor:
    """Atoms ``(⌊n/Δ⌋, P)`` of :func:`compress` (``average``) for original-rate frequencies f.

    Block ``n'`` of the demodulated harmonic ``e^{j2π(f+s)k}`` averages to
    ``e^{j2π(f+s)Δn'} · mean_i e^{j2π(f+s)i}``: the compressed-rate harmonic of frequency ``Δ(f + s)``
    times the block-average attenuation (exactly what :func:`compress` does to the data).
    """
    f = np.asarray(f, dtype=np.float64).reshape(-1)
    M = n // factor
    V = steering(f + shift, M * factor, device=device)
    return V.reshape(M, factor, -1).mean(1)


def krosbl_grids(shape_c, factors, shifts, oversample: int):
    """Per mode, the original-rate grid covering the compressed unambiguous interval.

    The compressed mode of size ``n_c`` sees frequencies ``f`` with ``Δ(f + s) ∈ [−½, ½)``, i.e.
    ``f ∈ [−s − 1/(2Δ), −s + 1/(2Δ))``: ``oversample · n_c`` equispaced points (spacing ``1/(oversample·N)``
    FFT cells of the full tensor, N = Δ·n_c).
    """
    grids = []
    for n_c, d, s in zip(shape_c, factors, shifts):
        G = oversample * n_c
        phi = (np.arange(G) - G // 2) / G
        grids.append(wrap(phi / d - s))
    return grids


def krosbl(H: torch.Tensor, *, factors, shifts, oversample: int, pfa: float, max_iter: int, tol: float,
           n_targets: int | None, max_rounds: int = 16, callbacks=()):
    """Kronecker-structured SBL on an angle × delay × Doppler grid of the compressed tensor, with detection.

    1. Compress H by block averaging (:func:`compress` with PLAIN's factors and shifts: the scene extent
       stays inside the compressed unambiguous interval, so every grid frequency maps back uniquely).
    2. Dictionaries: per mode the compressed atoms (:func:`compressed_atoms`) of an ``oversample``×
       grid (:func:`krosbl_grids`); model ``Hc = X ×₁ A₁ ×₂ A₂ ×₃ A₃ + noise`` with prior variance
       ``γ₁ ⊗ γ₂ ⊗ γ₃`` (He & Joseph, IEEE TSP 2023 / arXiv 2307.14719), solved by
       :class:`sensekit.solvers.bayes.KronSBL` (AM M-step after the SVD warm-up, pruning 1e-3, noise
       variance learned) through :func:`sensekit.solvers.solve`.
    3. Detection on the recovered support: 3-D local maxima of the posterior power ``mean_s |μ|²``; a grid
       point is a target when its fitted energy ``‖a‖²·Σ_s|μ_s|²`` exceeds the learned noise variance times
       :func:`detection_threshold` (``pfa`` over the grid size) — PLAIN's OMP rule; the model order is
       never given (with ``n_targets``: stop after that many).
    4. Rounds: the Kronecker prior has a rank-one support (one angle set × one delay set × one Doppler
       set), so on several targets the SVD warm-up locks onto the strongest one (measured on the 4-target
       acceptance scene: 1 of 4 found; exact AM from the flat start finds all but takes ~10 s unpruned).
       So after each solve the detections are refined jointly by :func:`refine` *on the compressed
       tensor* (a compressed atom is a harmonic of frequency Δ(f + s) times a constant) and subtracted,
       and KroSBL runs again on the residual, until a round detects nothing (or ``max_rounds``). A round
       runs only if some grid atom's matched-filter energy on the residual exceeds the same threshold over
       the residual's mean energy per sample (≥ σ²): the final round, which would find nothing and prune
       nothing (the costliest), is skipped.

    Returns ``(F, gains, info)`` with the solver's iterations, stop reasons and history (all rounds).
    """
    from sensekit.solvers.base import solve
    from sensekit.solvers.bayes import KronSBL, KronSBLProblem

    Hc, nfac = compress(H, factors, "average", shifts)
    S = H.shape[0]
    shape_c = tuple(Hc.shape[1:])
    grids = krosbl_grids(shape_c, factors, shifts, oversample)
    mats = [compressed_atoms(gr, H.shape[1 + m], factors[m], shifts[m], device=H.device)
            for m, gr in enumerate(grids)]
    anorm = [(m.abs() ** 2).sum(0) for m in mats]
    Ea = anorm[0][:, None, None] * anorm[1][None, :, None] * anorm[2][None, None, :]
    kappa = detection_threshold(pfa, int(np.prod([len(g) for g in grids])), S)
    fac = np.array(factors, dtype=np.float64)
    sh = np.array(shifts, dtype=np.float64)
    Phi = np.zeros((0, 3))                                          # compressed-rate frequencies
    R = Hc
    hist, iters, citers, reasons, s2 = [], 0, 0, [], float("nan")
    floor = NUMERICAL_FLOOR * energy(Hc) / Hc.numel()
    e0 = energy(Hc)
    for rnd in range(max_rounds):
        # gate (a grid GLRT): another round only when some grid atom's matched-filter energy on the residual
        # exceeds the threshold over the residual's mean energy per sample (an upper bound of σ²); the
        # round that would find nothing (the costliest: nothing to prune) is skipped
        eR = energy(R)
        if eR <= NUMERICAL_FLOOR * e0:
            break
        C = contract(R, mats)
        mf = float(((C.abs() ** 2).sum(0) / Ea).max())
        if mf <= kappa * eR / R.numel() * S:
            break
        problem = KronSBLProblem.build(mats, R, None)
        solver = KronSBL(mstep="am", max_iter=max_iter, tol=tol)
        res = solve(solver, problem, callbacks=callbacks)
        iters += res.iterations
        reasons.append(res.stop_reason)
        hist += [{"round": rnd, **{k: v for k, v in h.items() if isinstance(v, (int, float))}} for h in res.history]
        mu = solver.posterior(problem, res.state)                   # (S, N1, N2, N3)
        Pw = (mu.abs() ** 2).mean(0)
        Efit = Pw * Ea * S
        s2 = max(float(res.state.s2), floor)
        lm = _local_max(Pw) & (Efit > kappa * s2)
        vals, idx = Efit[lm], torch.nonzero(lm)
        idx = idx[torch.argsort(vals, descending=True)]
        if n_targets is not None:
            idx = idx[:max(n_targets - len(Phi), 0)]
        if not len(idx):
            break
        F_new = np.array([[grids[m][int(i[m])] for m in range(3)] for i in idx.tolist()]).reshape(-1, 3)
        Phi = np.concatenate([Phi, wrap(fac[None] * (F_new + sh[None]))])
        Phi, gc, _, it, _ = refine(Hc, Phi)
        citers += it
        R = Hc - synthesize_tensor(Phi, gc, shape_c, H.device)
        if n_targets is not None and len(Phi) >= n_targets:
            break
    F = wrap(Phi / fac[None] - sh[None]).reshape(-1, 3)
    info = {"compressed_shape": shape_c, "grid": tuple(len(g) for g in grids), "noise_var": s2 * nfac,
            "rounds": len(reasons), "sbl_iterations": iters,
            "compressed_refine_iterations": citers, "sbl_stop_reason": "; ".join(reasons),
            "sbl_history": hist}
    return F, gains_ls(H, F), info


def synthesize_tensor(F, g, shape, device) -> torch.Tensor:
    """``Σ_p g_{s,p} a_p ∘ d_p ∘ v_p`` (S, *shape) for frequencies F (P, 3) and gains g (S, P)."""
    mats = [steering(F[:, m], shape[m], device=device) for m in range(3)]
    g = torch.as_tensor(np.asarray(g), device=device).to(torch.complex128)
    return torch.einsum("sp,ap,kp,lp->sakl", g, *mats)


# ----------------------------------------------------------------------------------------- sequential
def _order_and_esprit(x: torch.Tensor, *, criterion: str, subarray: int | None = None, rel_db: float | None = None):
    """Model order (``criterion`` on the FB covariance eigenvalues) and unitary-ESPRIT frequencies of the
    snapshots x (n, M), optionally spatially smoothed (subarrays of ``subarray``: one snapshot works).
    With ``rel_db`` only signal eigenvalues (above the noise mean) within ``rel_db`` of the largest count."""
    R = sample_covariance(x, fb=True, subarray=subarray)
    M = R.shape[-1]
    n = x.shape[0] * (x.shape[1] - M + 1)
    lam = torch.linalg.eigvalsh(R)
    k = int(model_order(lam, n, criterion=criterion))
    k = min(k, int((lam > NUMERICAL_FLOOR * lam.max()).sum()), M - 2)
    if rel_db is not None and k > 0:
        noise = float(lam[:M - k].mean())
        sig = lam.flip(0)[:k] - noise
        k = int((sig >= float(sig[0]) * 10 ** (-rel_db / 10)).sum())
    if k <= 0:
        return np.zeros(0)
    return unitary_esprit(R, k).double().cpu().numpy()


def _zf(V: torch.Tensor) -> torch.Tensor:
    """Zero-forcing (pseudo-inverse) combiner ``V (VᴴV)⁻¹`` of a Vandermonde factor V (M, P)."""
    return V @ torch.linalg.inv(V.mH @ V)


def sequential(H: torch.Tensor, *, criterion: str, rel_db: float):
    """Dimension-by-dimension estimation (angle, then delay per angle, then Doppler per angle–delay pair).

    1. Angle: unfold the antenna mode (every subcarrier and symbol a snapshot), FB covariance, model order
       by ``criterion``, unitary ESPRIT.
    2. Per angle: zero-forcing beamformer over the estimated angles (``Âᴴ`` pseudo-inverse: the other angles
       nulled), the (subcarrier × symbol) slice; delay by the same 1-D estimator along subcarriers (symbols as
       snapshots).
    3. Per angle–delay pair: zero-forcing over that angle's delays, the symbol vector (one snapshot per
       data snapshot); Doppler by FB covariance with spatial smoothing (subarray ⌈L/2⌉+1) and unitary ESPRIT.

    In stages 2 and 3 a signal eigenvalue (minus the noise mean) more than ``rel_db`` below the slice's
    largest is not counted: the zero-forcing leaves the other targets' leakage (their angle / delay
    estimation errors times their gains), coherent over the slice, which MDL counts as sources (measured
    at 64 × 512 × 128, 10 dB: 1025 false targets without this rule).

    Every stage fixes its model order before the next: errors propagate (the classic sequential design;
    e.g. the per-dimension pipelines surveyed by Zhang et al., "Enabling joint communication and radar
    sensing in mobile networks — a survey", IEEE COMST 24(1), 2022). Returns ``(F, gains, info)``.
    """
    S, A, K, L = H.shape
    fa = _order_and_esprit(torch.movedim(H, 1, -1).reshape(-1, A), criterion=criterion)
    rows = []
    if len(fa):
        Wa = _zf(steering(fa, A, device=H.device))
        Z = torch.matmul(Wa.mH, H.reshape(S, A, K * L)).reshape(S, len(fa), K, L)
        for i, f0 in enumerate(fa):
            Zi = Z[:, i]                                            # (S, K, L)
            fk = _order_and_esprit(Zi.transpose(1, 2).reshape(-1, K), criterion=criterion, rel_db=rel_db)
            if not len(fk):
                continue
            Wk = _zf(steering(fk, K, device=H.device))
            Y = torch.matmul(Wk.mH, Zi)                             # (S, Pk, L)
            for j, f1 in enumerate(fk):
                fl = _order_and_esprit(Y[:, j], criterion=criterion, subarray=L // 2 + 1, rel_db=rel_db)
                rows += [(f0, f1, f2) for f2 in fl]
    F = wrap(np.array(rows, dtype=np.float64).reshape(-1, 3))
    return F, gains_ls(H, F), {"angles": len(fa)}


# ------------------------------------------------------------------------------------- joint ESPRIT
def esprit_subarray(shape, rows: int):
    """Subarray sizes (m_A, m_K, m_L) of the 3-D smoothing: at least ⌈N/8⌉ (and 2) per dimension, then
    grown one by one (smallest first) up to ``N//2 + 1`` while ``∏m ≤ rows``; None when the minimum
    already exceeds ``rows``."""
    m = [max(2, -(-n // 8)) for n in shape]
    if int(np.prod(m)) > rows:
        return None
    grown = True
    while grown:
        grown = False
        for d in sorted(range(3), key=lambda d: (m[d], -shape[d])):
            if m[d] < shape[d] // 2 + 1 and np.prod(m) // m[d] * (m[d] + 1) <= rows:
                m[d] += 1
                grown = True
                break
    return tuple(m)


def joint_esprit(H: torch.Tensor, *, rows: int, criterion: str, n_targets: int | None):
    """3-D ESPRIT with spatial smoothing and automatic pairing (a single snapshot works).

    Spatial smoothing (Hua's matrix enhancement, IEEE TSP 40(9), 1992): every (m_A, m_K, m_L) sub-block
    of H (:func:`esprit_subarray`; offsets thinned by a common stride to at most 4∏m blocks per snapshot)
    is a column of the enhanced matrix; its FB-averaged covariance (∏m × ∏m) gives the signal subspace
    Eₛ (model order by ``criterion`` on its eigenvalues, or ``n_targets``). Per dimension the
    shift-invariance ``J₁ᵈEₛ Ψ_d = J₂ᵈEₛ`` (least squares); the Ψ_d share the eigenvectors T, so one
    eigendecomposition of a fixed generic combination ``Σ β_d Ψ_d = T Λ T⁻¹`` pairs the three
    frequency sets: ``f_d = arg diag(T⁻¹ Ψ_d T) / 2π`` (the pairing idea of Haardt & Nossek's
    simultaneous Schur decomposition, IEEE TSP 46(1), 1998, with a plain eigendecomposition).
    Returns ``(F, gains, info)``.
    """
    S = H.shape[0]
    shape = tuple(H.shape[1:])
    m = esprit_subarray(shape, rows)
    n_off = [n - k + 1 for n, k in zip(shape, m)]
    Mr = int(np.prod(m))
    t = max(1.0, (np.prod(n_off) * S / (4.0 * Mr)) ** (1 / 3))
    step = [max(1, min(int(t), o)) for o in n_off]
    X = H
    for d in range(3):
        X = X.unfold(1 + d, m[d], step[d])                      # (S, o1, o2, o3, m1, m2, m3)
    X = X.reshape(-1, Mr)
    R = forward_backward(X.mT @ X.conj() / X.shape[0])
    lam, U = torch.linalg.eigh(R)
    lam, U = lam.flip(0), U.flip(1)
    if n_targets is not None:
        k = int(n_targets)
    else:
        k = int(model_order(lam.flip(0), X.shape[0], criterion=criterion))
        k = min(k, int((lam > NUMERICAL_FLOOR * lam.max()).sum()))
    k = min(k, min(Mr // mm * (mm - 1) for mm in m))
    if k <= 0:
        F = np.zeros((0, 3))
        return F, gains_ls(H, F), {"subarray": m, "order": 0}
    Es = U[:, :k].reshape(*m, k)
    psis = []
    for d in range(3):
        E1 = Es.narrow(d, 0, m[d] - 1).reshape(-1, k)
        E2 = Es.narrow(d, 1, m[d] - 1).reshape(-1, k)
        psis.append(torch.linalg.lstsq(E1, E2).solution)
    beta = (1.0, 0.6180339887, 0.3819660113)
    _, T = torch.linalg.eig(sum(b * p for b, p in zip(beta, psis)))
    Ti = torch.linalg.inv(T)
    F = np.stack([(torch.angle(torch.diagonal(Ti @ p @ T)) / (2 * np.pi)).double().cpu().numpy() for p in psis],
                 axis=1)
    F = wrap(F)
    return F, gains_ls(H, F), {"subarray": m, "order": k, "blocks": X.shape[0]}
