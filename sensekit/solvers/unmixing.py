"""Linear spectral unmixing: endmember extraction, constrained abundances, sparse and NMF-type unmixing.

Every function works on the **bands × pixels** matrix ``X`` (B, N) of a hyperspectral image (a cube
(H, W, B) is ``cube.reshape(-1, B).T``), in torch, on the device and dtype of ``X``. Endmembers are the
columns of ``E`` (B, P); abundances are ``A`` (P, N), the linear mixing model being ``X ≈ E A``.

Contents
--------
* model order: :func:`estimate_noise` (multiple regression, optional guard bands), :func:`hysime` (Bioucas-Dias &
  Nascimento 2008), :func:`count_endmembers` (HySime bound + decade gap of the noise-whitened spectrum);
* endmember extraction: :func:`vca` (Nascimento & Bioucas-Dias 2005), :func:`atgp` (Ren & Chang 2003),
  :func:`nfindr` (Winter 1999; the volume of every candidate from one inverse via Cramer's rule);
* abundances: :func:`project_simplex` (columns onto the unit simplex), :func:`fcls` (fully constrained least
  squares by accelerated projected gradient, monotone restart), :func:`sunsal` (ADMM sparse unmixing against a
  library, Bioucas-Dias & Figueiredo 2010; ``collaborative=True`` is CLSUnSAL's row-sparse ℓ2,1 version);
* blind factorisations: :func:`nmf` (Lee–Seung multiplicative updates, optional sum-to-one by the augmented-row
  trick), :func:`l12_nmf` (ℓ1/2-sparsity-constrained NMF, Qian, Jia, Zhou & Robles-Kelly 2011), and
  :func:`mvnmf` (minimum-volume NMF, log-det penalty, Fu et al. 2016 / Leplat et al. 2019),
  :func:`rrlbs` / :class:`RRLbS`, the robust representation + learning-based sparsity unmixing of Zhu et al.
  (arXiv 1409.0685) **reconstructed from the abstract** (see the class docstring);
* scores: :func:`sad_matrix`, :func:`match_endmembers` (Hungarian matching by total spectral angle),
  :func:`unmixing_scores` (mean SAD in degrees and abundance RMSE after matching).
"""
from __future__ import annotations

import dataclasses
import math

import torch

from .base import MaxIter, RelChange, _Threshold, solve

__all__ = ["estimate_noise", "hysime", "count_endmembers", "vca", "atgp", "nfindr", "project_simplex", "fcls",
           "sunsal", "nmf", "l12_nmf", "l12_lambda", "mvnmf", "RRLbS", "RRLbSState", "UnmixProblem", "rrlbs",
           "sad_matrix", "match_endmembers", "unmixing_scores"]


def _check_x(X: torch.Tensor) -> torch.Tensor:
    if X.ndim != 2:
        raise ValueError(f"expected a bands x pixels matrix (B, N), got shape {tuple(X.shape)}")
    if X.is_complex():
        raise ValueError("unmixing takes real data")
    return X if X.dtype in (torch.float32, torch.float64) else X.to(torch.float64)


# ============================================================================ model order
def estimate_noise(X: torch.Tensor, *, reg: float = 1e-6, guard: int = 0) -> torch.Tensor:
    """Noise of every band by multiple regression on the other bands (HySime's noise estimator).

    Each band ``x_b`` is regressed (least squares over the pixels, no intercept, as in Bioucas-Dias &
    Nascimento 2008, eq. 9–10) on the other bands; the residual is the noise estimate. With ``guard = 0``
    (the paper) all B regressions come from one inverse of the band correlation matrix.

    ``guard = m > 0`` leaves the ``m`` bands on each side of ``b`` out of its regressors. On real sensors the
    noise of adjacent bands is correlated (spectral resampling / smoothing); the paper's regression then
    predicts most of the noise from the neighbours and puts it into the "signal", so the noise is
    underestimated (Samson: by 3×) and HySime counts dozens of components. Leaving the neighbours out keeps
    the correlated noise in the residual; the signal, spread over the whole spectrum, is still predicted.

    Parameters
    ----------
    X : Tensor (B, N)
        Bands × pixels.
    reg : float
        Ridge added to the band correlation matrix, relative to its mean diagonal.
    guard : int
        Neighbouring bands excluded on each side of the regressed band (0: the paper's estimator).

    Returns
    -------
    W : Tensor (B, N), the estimated noise (``X − W`` is the estimated signal).
    """
    X = _check_x(X)
    B = X.shape[0]
    R = X @ X.T
    R = R + reg * torch.trace(R) / B * torch.eye(B, dtype=X.dtype, device=X.device)
    if guard <= 0:
        Ri = torch.linalg.inv(R)
        # regression coefficients of band b on the others: beta_b = -Ri[:, b] / Ri[b, b] (zero at b)
        beta = -Ri / torch.diagonal(Ri)[None, :]
        beta.fill_diagonal_(0.0)
        return X - beta.T @ X
    idx = torch.arange(B, device=X.device)
    beta = torch.zeros(B, B, dtype=X.dtype, device=X.device)
    for b in range(B):
        keep = torch.nonzero((idx - b).abs() > guard).squeeze(1)
        if keep.numel() == 0:
            continue
        beta[keep, b] = torch.linalg.solve(R[keep][:, keep], R[keep, b])
    return X - beta.T @ X


def hysime(X: torch.Tensor, noise: torch.Tensor | None = None, *, guard: int = 0) -> tuple[int, dict]:
    """Signal-subspace dimension by HySime (hyperspectral signal identification by minimum error).

    As in Bioucas-Dias & Nascimento (2008): the noise ``W`` by multiple regression (:func:`estimate_noise`,
    unless ``noise`` is given), its correlation ``Rn`` taken diagonal, ``diag(W Wᵀ) / N`` (the off-diagonal of
    the residuals' correlation is mostly the estimator's own: the residuals of the B regressions have
    correlations equal to minus the bands' partial correlations; the full matrix, as in the authors' MATLAB,
    makes HySime over-count white-noise synthetic scenes: P = 2 at 30 dB gave 5–7 with guard 2), the signal
    correlation ``Rx = (X − W)(X − W)ᵀ / N`` and its eigenvectors ``e_i``; the mean squared error
    of projecting onto a set of eigenvectors drops by ``e_iᵀ Ry e_i − 2 e_iᵀ Rn e_i`` for each one kept
    (``Ry = X Xᵀ / N``); HySime keeps exactly those with a positive drop. The regression noise is corrected for
    its residual degrees of freedom (× N / (N − B + 1)), which matters for small images.

    HySime estimates the dimension of the signal subspace, which on real scenes holds the endmembers *and*
    their variability; :func:`count_endmembers` derives the number of endmembers from it.

    Parameters
    ----------
    X : Tensor (B, N)
        Bands × pixels.
    noise : Tensor (B, N), optional
        A noise estimate to use instead of :func:`estimate_noise`.
    guard : int
        Passed to :func:`estimate_noise` (0: the paper's regression).

    Returns
    -------
    ``(k, {"eigvals": ..., "cost": ..., "noise_cov": Rn})``.
    """
    X = _check_x(X)
    N = X.shape[1]
    W = estimate_noise(X, guard=guard) if noise is None else noise
    # residual degrees of freedom: B - 1 regressors fitted on N pixels shrink the residual by (N - B + 1) / N
    dof = N / max(N - X.shape[0] + 1, 1) if noise is None else 1.0
    Rn = torch.diag(torch.sum(W * W, dim=1) / N * dof)
    S = X - W
    Rx = S @ S.T / N
    Ry = X @ X.T / N
    ev, V = torch.linalg.eigh(Rx)
    order = torch.argsort(ev, descending=True)
    ev, V = ev[order], V[:, order]
    py = torch.sum(V * (Ry @ V), dim=0)
    pn = torch.sum(V * (Rn @ V), dim=0)
    cost = -py + 2 * pn
    k = int((cost < 0).sum())
    return max(k, 1), {"eigvals": ev, "cost": cost, "noise_cov": Rn}


def count_endmembers(X: torch.Tensor, *, guard: int = 2, gap: float = 10.0, max_count: int = 20
                     ) -> tuple[int | None, dict]:
    """Number of endmembers P of a linear mixture: HySime bound, then the last decade gap of the whitened spectrum.

    1. Noise by multiple regression with ``guard`` neighbouring bands left out on each side
       (:func:`estimate_noise`), and HySime (:func:`hysime`, full noise correlation) on it: ``k_s``, the
       dimension of the signal subspace. On real scenes ``k_s`` counts the endmembers' variability too
       (Samson: 14 with guard 2, 71 with the paper's regression), so it is only an upper bound.
    2. The eigenvalues ``λ_1 ≥ λ_2 ≥ …`` of the centred covariance in noise-whitened coordinates (each band
       divided by its noise standard deviation: each eigenvalue is the SNR of its component).
       Under the linear mixing model the centred data span ``P − 1`` directions: the endmembers' components
       stand above the variability by a gap. ``P = 1 + k`` with ``k < k_s`` the **last** index where
       ``λ_k / λ_{k+1} ≥ gap`` (a decade by default). Without such a gap among the first ``k_s`` components
       the spectrum does not separate endmembers from variability and ``P = k_s`` (what synthetic scenes with
       white noise give, their last signal component being the last before the noise floor).
    3. ``P > max_count`` → ``None``: the caller should refuse to guess.

    Parameters
    ----------
    X : Tensor (B, N)
        Bands × pixels (not normalised).
    guard : int
        Bands left out on each side in the noise regression.
    gap : float
        Ratio of consecutive whitened eigenvalues that separates endmembers from variability.
    max_count : int
        Above this the estimate is returned as ``None``.

    Returns
    -------
    ``(P or None, {"hysime": k_s, "whitened_eigvals": λ, "ratios": λ_k / λ_{k+1}, "rule": "gap" | "hysime"})``.
    """
    X = _check_x(X)
    B, N = X.shape
    guard = min(int(guard), max((B - 2) // 2, 0))
    ks, hinfo = hysime(X, guard=guard)
    sn = torch.sqrt(torch.diagonal(hinfo["noise_cov"]))
    sn = sn.clamp_min(1e-12 * float(sn.max().clamp_min(1e-300)))
    Xw = (X - X.mean(dim=1, keepdim=True)) / sn[:, None]
    lam = torch.linalg.eigvalsh(Xw @ Xw.T / N).flip(0).clamp_min(1e-300)
    ratios = lam[:-1] / lam[1:]
    kmax = min(ks - 1, ratios.numel())
    big = torch.nonzero(ratios[:kmax] >= gap).squeeze(1)
    if big.numel():
        P, rule = int(big[-1]) + 2, "gap"
    else:
        P, rule = ks, "hysime"
    info = {"hysime": ks, "whitened_eigvals": lam, "ratios": ratios, "rule": rule}
    return (P if P <= max_count else None), info


# ============================================================================ endmember extraction
def vca(X: torch.Tensor, p: int, *, generator: torch.Generator | None = None, snr: float | None = None
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertex component analysis: ``p`` endmembers chosen among the pixels.

    Projects the data onto the signal subspace (p dimensions and a projective scaling at high SNR, p − 1
    dimensions around the mean otherwise, threshold ``15 + 10 log10 p`` dB), then picks in turn the pixel
    with the largest projection onto a random direction orthogonal to the endmembers found so far. The
    random directions make VCA seed-dependent.

    Returns
    -------
    E : (B, p) endmembers (taken from the subspace-projected data), idx : (p,) pixel indices.
    """
    X = _check_x(X)
    B, N = X.shape
    if not 1 <= p <= min(B, N):
        raise ValueError(f"vca: p={p} endmembers, expected 1..{min(B, N)}")
    dt, dev = X.dtype, X.device
    mean = X.mean(dim=1, keepdim=True)
    Xm = X - mean
    U, _, _ = torch.linalg.svd(Xm @ Xm.T / N)
    Ud = U[:, :p]
    xp = Ud.T @ Xm
    if snr is None:
        py = float(torch.sum(X * X)) / N
        px = float(torch.sum(xp * xp)) / N + float(torch.sum(mean * mean))
        snr = 10 * math.log10(max(px - p / B * py, 1e-30) / max(py - px, 1e-30))
    if snr < 15 + 10 * math.log10(p):
        d = p - 1
        Ud = Ud[:, :d]
        x = xp[:d]
        Xp = Ud @ x + mean
        c = float(torch.linalg.vector_norm(x, dim=0).max()) if d > 0 else 1.0
        y = torch.cat([x, torch.full((1, N), c, dtype=dt, device=dev)])
    else:
        U, _, _ = torch.linalg.svd(X @ X.T / N)
        Ud = U[:, :p]
        x = Ud.T @ X
        Xp = Ud @ x
        u = x.mean(dim=1, keepdim=True)
        denom = (u.T @ x)
        denom = torch.where(denom.abs() < 1e-12, torch.full_like(denom, 1e-12), denom)
        y = x / denom
    Am = torch.zeros((p, p), dtype=dt, device=dev)
    Am[p - 1, 0] = 1.0
    idx = torch.zeros(p, dtype=torch.long, device=dev)
    gdev = generator.device if generator is not None else torch.device("cpu")
    for i in range(p):
        w = torch.randn(p, dtype=dt, device=gdev, generator=generator).to(dev)
        f = w - Am @ (torch.linalg.pinv(Am) @ w)
        f = f / torch.linalg.vector_norm(f).clamp_min(1e-30)
        v = f @ y
        j = int(torch.argmax(v.abs()))
        idx[i] = j
        Am[:, i] = y[:, j]
    return Xp[:, idx].clamp_min(0.0) if bool((X >= 0).all()) else Xp[:, idx], idx


def atgp(X: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Automatic target generation process: the pixel of largest norm, then repeatedly the pixel of largest
    norm in the orthogonal complement of those found. Deterministic. Returns ``(E (B, p), idx (p,))``.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor]
        The ``(B, p)`` endmembers and their pixel indices.
    """
    X = _check_x(X)
    idx = [int(torch.argmax(torch.sum(X * X, dim=0)))]
    for _ in range(1, p):
        U = X[:, idx]
        Q, _ = torch.linalg.qr(U)
        R = X - Q @ (Q.T @ X)
        idx.append(int(torch.argmax(torch.sum(R * R, dim=0))))
    t = torch.tensor(idx, dtype=torch.long, device=X.device)
    return X[:, t], t


def nfindr(X: torch.Tensor, p: int, *, init: str = "atgp", generator: torch.Generator | None = None,
           max_sweeps: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """N-FINDR: the ``p`` pixels spanning the simplex of largest volume in the (p − 1)-dimensional PCA space.

    Starting from ATGP's pixels (``init="atgp"``, deterministic) or random ones (``init="random"``), each
    sweep replaces every vertex in turn by the pixel that maximises the volume. The volume with vertex ``i``
    replaced by pixel ``z`` is ``|det M| · |(M⁻¹)_{i,:} [1; z]|`` (Cramer's rule, M = [1ᵀ; Z_E]), so one
    inverse scores all pixels. Stops after a sweep without change. Returns ``(E (B, p), idx (p,))``.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor]
        The ``(B, p)`` endmembers and their pixel indices.
    """
    X = _check_x(X)
    B, N = X.shape
    if not 2 <= p <= min(B, N):
        raise ValueError(f"nfindr: p={p} endmembers, expected 2..{min(B, N)}")
    mean = X.mean(dim=1, keepdim=True)
    Xm = X - mean
    U, _, _ = torch.linalg.svd(Xm @ Xm.T / N)
    Z = U[:, :p - 1].T @ Xm
    Z1 = torch.cat([torch.ones((1, N), dtype=X.dtype, device=X.device), Z])
    if init == "atgp":
        idx = atgp(X, p)[1].clone()
    elif init == "random":
        idx = torch.randperm(N, generator=generator)[:p].to(X.device)
    else:
        raise ValueError(f"nfindr: init {init!r}, expected 'atgp' or 'random'")
    for _ in range(max_sweeps):
        changed = False
        for i in range(p):
            M = Z1[:, idx]
            try:
                Minv = torch.linalg.inv(M)
            except RuntimeError:   # degenerate start (collinear pixels): nudge with a pseudo-inverse
                Minv = torch.linalg.pinv(M)
            score = (Minv[i] @ Z1).abs()
            j = int(torch.argmax(score))
            if float(score[j]) > float(score[idx[i]]) * (1 + 1e-12) and j not in idx.tolist():
                idx[i] = j
                changed = True
        if not changed:
            break
    return X[:, idx], idx


# ============================================================================ abundances
def project_simplex(V: torch.Tensor, s: float = 1.0) -> torch.Tensor:
    """Euclidean projection of every column of ``V`` (P, N) onto ``{a ≥ 0, 1ᵀa = s}`` (sort-based, exact).

    Returns
    -------
    torch.Tensor
        The projected columns, shaped like ``V``.
    """
    P = V.shape[0]
    U, _ = torch.sort(V, dim=0, descending=True)
    css = torch.cumsum(U, dim=0) - s
    k = torch.arange(1, P + 1, dtype=V.dtype, device=V.device)[:, None]
    cond = U - css / k > 0
    rho = (cond * torch.arange(1, P + 1, device=V.device)[:, None]).amax(dim=0).clamp_min(1)
    theta = torch.gather(css, 0, (rho - 1)[None]) / rho[None].to(V.dtype)
    return (V - theta).clamp_min(0.0)


def _fista_simplex(H, C, A0, *, iters: int, sum_to_one: bool, tol: float = 1e-9):
    """min_a ½ aᵀHa − Cᵀa over columns (a ∈ simplex or a ≥ 0), accelerated projected gradient with
    gradient restart; returns the iterate (each column's objective never above the start's)."""
    L = torch.linalg.eigvalsh(H)[-1].clamp_min(1e-30)     # a tensor: no host synchronisation

    def proj(V):
        return project_simplex(V) if sum_to_one else V.clamp_min(0.0)

    def obj(A):
        return 0.5 * torch.sum(A * (H @ A), dim=0) - torch.sum(C * A, dim=0)

    A = proj(A0)
    f0 = obj(A)
    Y, t = A, 1.0
    for k in range(iters):
        A_new = proj(Y - (H @ Y - C) / L)
        # restart where the momentum points uphill (O'Donoghue & Candès)
        up = torch.sum((Y - A_new) * (A_new - A), dim=0) > 0
        t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        Y = A_new + ((t - 1) / t_new) * (A_new - A)
        Y = torch.where(up[None], A_new, Y)
        t = t_new
        if tol > 0 and k % 20 == 19:
            ch = torch.linalg.vector_norm(A_new - A) / torch.linalg.vector_norm(A_new).clamp_min(1e-30)
            A = A_new
            if float(ch) < tol:
                break
        else:
            A = A_new
    f1 = obj(A)
    A0p = proj(A0)
    return torch.where((f1 <= f0)[None], A, A0p)


#: largest number of endmembers for which the simplex-constrained least squares are solved exactly by
#: enumerating the faces of the simplex (2^P − 1 small linear solves shared by all pixels)
EXACT_MAX_P = 6


_FACES: dict = {}


def _face_index(P: int, device):
    """The faces of the P-simplex as (vertex list, index tensor on ``device``), cached (no copy per call)."""
    key = (P, str(device))
    if key not in _FACES:
        faces = [[k for k in range(P) if m >> k & 1] for m in range(1, 2 ** P)]
        _FACES[key] = [(S, torch.tensor(S, device=device)) for S in faces]
    return _FACES[key]


def simplex_qp_exact(H: torch.Tensor, C: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact ``argmin_a ½ aᵀHa − cᵀa`` over the unit simplex for every column c of ``C`` (P, N), ``H`` (P, P)
    symmetric positive semi-definite and shared by all pixels.

    The minimiser of a convex quadratic over the simplex is the equality-constrained minimiser on one face
    (``a_S = K_S c_S + w_S / (1ᵀw_S)``, ``w_S = H_S⁻¹1``, ``K_S = H_S⁻¹ − w_S w_Sᵀ / 1ᵀw_S``, from the KKT system of
    the face's affine hull) that is feasible; the feasible face minimisers are enumerated (2^P − 1 faces, the
    vertices always feasible) and the one of least objective kept per pixel. ``H_S`` gets a relative ridge of
    1e-12 so singular faces stay finite. No iteration, no host synchronisation. Returns ``(A, f)`` with the
    per-pixel objective ``f`` (N,).

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor]
        The minimisers ``(P, N)`` and their objective values ``(N,)``.
    """
    P, N = C.shape
    ridge = 1e-12 * torch.trace(H).clamp_min(1e-300) / P
    best_f = torch.full((N,), float("inf"), dtype=C.dtype, device=C.device)
    best = torch.zeros_like(C)
    for S, idx in _face_index(P, C.device):
        m = len(S)
        Cs = C.index_select(0, idx)
        if m == 1:
            a = torch.ones((1, N), dtype=C.dtype, device=C.device)
            f = 0.5 * H[S[0], S[0]] - Cs[0]
        else:
            Hs = H.index_select(0, idx).index_select(1, idx)
            Hi = torch.linalg.inv(Hs + ridge * torch.eye(m, dtype=C.dtype, device=C.device))
            w = Hi.sum(dim=1, keepdim=True)
            sw = w.sum()
            K = Hi - (w @ w.T) / sw
            a = K @ Cs + w / sw
            a = a + (1.0 - a.sum(dim=0, keepdim=True)) / m     # rounding of an ill-conditioned face: back on 1ᵀa = 1
            f = 0.5 * torch.sum(a * (Hs @ a), dim=0) - torch.sum(Cs * a, dim=0)
            f = torch.where((a >= 0).all(dim=0), f, torch.full_like(f, float("inf")))
        better = f < best_f
        best_f = torch.where(better, f, best_f)
        full = torch.zeros_like(C)
        full.index_copy_(0, idx, a.expand(m, N) if m == 1 else a)
        best = torch.where(better[None], full, best)
    return best, best_f


def fcls(X: torch.Tensor, E: torch.Tensor, *, sum_to_one: bool = True, iters: int = 500, tol: float = 1e-9,
         A0: torch.Tensor | None = None) -> torch.Tensor:
    """Fully constrained least squares: ``min_A ‖X − E A‖²`` with ``A ≥ 0`` and ``1ᵀA = 1`` (``sum_to_one``;
    without it: non-negative least squares), all pixels at once: exactly by :func:`simplex_qp_exact` when
    ``sum_to_one``, P ≤ ``EXACT_MAX_P`` and no ``A0``; otherwise by accelerated projected gradient (FISTA onto
    the simplex, adaptive restart), started from the clipped unconstrained solution. Returns A (P, N).

    Returns
    -------
    torch.Tensor
        The ``(P, N)`` abundances.
    """
    X = _check_x(X)
    E = E.to(X)
    H = E.T @ E
    C = E.T @ X
    if sum_to_one and A0 is None and E.shape[1] <= EXACT_MAX_P:
        return simplex_qp_exact(H, C)[0]
    if A0 is None:
        A0 = torch.linalg.lstsq(H + 1e-12 * torch.trace(H) * torch.eye(H.shape[0], dtype=X.dtype,
                                                                       device=X.device), C).solution
    return _fista_simplex(H, C, A0, iters=iters, sum_to_one=sum_to_one, tol=tol)


def sunsal(X: torch.Tensor, D: torch.Tensor, *, lam: float = 1e-3, positivity: bool = True,
           sum_to_one: bool = False, collaborative: bool = False, mu: float | None = None, max_iter: int = 500,
           tol: float = 1e-5, check_every: int = 10) -> tuple[torch.Tensor, dict]:
    """Sparse unmixing against a spectral library by ADMM (SUnSAL; CLSUnSAL with ``collaborative``).

    Solves ``min_A ½‖X − D A‖²_F + λ R(A)`` with ``R = ‖A‖₁`` (or ``Σ_rows ‖A_r‖₂`` when ``collaborative``:
    the pixels share a small set of active library members), subject to ``A ≥ 0`` (``positivity``) and
    ``1ᵀA = 1`` (``sum_to_one``). Splitting ``A = V``: the A-step is a ridge solve with the sum-to-one
    constraint imposed exactly by its Lagrangian correction, the V-step the proximal map of λR plus the
    non-negativity (clip, then soft / row-group shrinkage), the scaled dual ``U ← U − (A − V)``; ``μ`` is
    adapted by residual balancing. ``λ`` is absolute (X and D in the same units). Residuals are read (one host
    synchronisation) every ``check_every`` iterations only.

    Returns ``(A (L, N), {"iterations", "primal", "dual"})``.

    Returns
    -------
    tuple[torch.Tensor, dict]
        The abundances and ``{"iterations", "primal", "dual"}`` residuals.
    """
    X = _check_x(X)
    D = D.to(X)
    Lb = D.shape[1]
    I = torch.eye(Lb, dtype=X.dtype, device=X.device)
    DtD = D.T @ D
    DtX = D.T @ X
    if mu is None:
        mu = 10 * lam + 0.01 * float(torch.trace(DtD)) / Lb
    one = torch.ones((Lb, 1), dtype=X.dtype, device=X.device)

    cache = {}

    def a_step(V, U, mu):
        if cache.get("mu") != mu:
            IF = torch.linalg.inv(DtD + mu * I)
            cache.update(mu=mu, IF=IF, w=IF @ one)
        A = cache["IF"] @ (DtX + mu * (V + U))
        if sum_to_one:
            w = cache["w"]
            A = A - w @ ((one.T @ A - 1.0) / float(one.T @ w))
        return A

    V = a_step(torch.zeros_like(DtX), torch.zeros_like(DtX), mu)
    V = V.clamp_min(0.0) if positivity else V
    U = torch.zeros_like(V)
    scale = math.sqrt(V.numel())
    it, rp, rd = 0, float("inf"), float("inf")
    for it in range(1, max_iter + 1):
        A = a_step(V, U, mu)
        Z = A - U
        if positivity:
            Z = Z.clamp_min(0.0)
        if collaborative:
            nr = torch.linalg.vector_norm(Z, dim=1, keepdim=True)
            Vn = Z * (1 - lam / mu / nr.clamp_min(1e-30)).clamp_min(0.0)
        else:
            Vn = torch.sign(Z) * (Z.abs() - lam / mu).clamp_min(0.0)
        check = it % max(1, int(check_every)) == 0
        if check:
            rd = mu * float(torch.linalg.vector_norm(Vn - V)) / scale
        V = Vn
        U = U - (A - V)
        if check:
            rp = float(torch.linalg.vector_norm(A - V)) / scale
            if rp < tol and rd < tol:
                break
            if rp > 10 * rd:
                mu *= 2.0
                U = U / 2.0
            elif rd > 10 * rp:
                mu /= 2.0
                U = U * 2.0
    return V, {"iterations": it, "primal": rp, "dual": rd}


# ============================================================================ NMF family
def _sum_to_one_aug(X, E, delta):
    Xa = torch.cat([X, torch.full((1, X.shape[1]), delta, dtype=X.dtype, device=X.device)])
    Ea = torch.cat([E, torch.full((1, E.shape[1]), delta, dtype=X.dtype, device=X.device)])
    return Xa, Ea


def l12_lambda(X: torch.Tensor) -> float:
    """Qian et al.'s data-driven ℓ1/2 weight: the mean over bands of the sparseness
    ``(√N − ‖x_b‖₁/‖x_b‖₂)/(√N − 1)``, divided by √B.

    Returns
    -------
    float
        The weight λ.
    """
    X = _check_x(X)
    B, N = X.shape
    sn = math.sqrt(N)
    s = (sn - X.abs().sum(dim=1) / torch.linalg.vector_norm(X, dim=1).clamp_min(1e-30)) / (sn - 1)
    return float(s.sum()) / math.sqrt(B)


def nmf(X: torch.Tensor, E0: torch.Tensor, A0: torch.Tensor, *, lam: float = 0.0, sparsity: str = "none",
        sum_to_one: bool = True, delta: float = 15.0, max_iter: int = 1000, tol: float = 1e-6,
        eps: float = 1e-9, check_every: int = 10) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """NMF ``X ≈ E A`` (E, A ≥ 0) by multiplicative updates, with an optional ℓ1/2 or ℓ1 sparsity of A.

    ``min ½‖X − E A‖² + λ Σ A^{1/2}`` (``sparsity="l12"``, Qian et al. 2011) or ``λ Σ A`` (``"l1"``); the
    abundance sum-to-one constraint is imposed softly by appending the row ``δ·1ᵀ`` to X and E (the
    classic trick of the ℓ1/2-NMF paper, δ = 15), with E's extra row kept at δ. Updates:
    ``E ← E ⊙ X Aᵀ ⊘ E A Aᵀ``, ``A ← A ⊙ Eᵀ X ⊘ (Eᵀ E A + λ/2 A^{-1/2})`` (ℓ1/2; λ for ℓ1; none for
    plain NMF). Stops when the relative change of (E, A), read every ``check_every`` iterations, is below
    ``tol``.

    Returns ``(E, A, {"iterations", "objective"})``.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, dict]
        ``E``, ``A`` and ``{"iterations", "objective"}``.
    """
    X = _check_x(X)
    E = E0.to(X).clamp_min(eps).clone()
    A = A0.to(X).clamp_min(eps).clone()
    B = X.shape[0]
    it = 0
    for it in range(1, max_iter + 1):
        E_old, A_old = E, A
        if sum_to_one:
            Xa, Ea = _sum_to_one_aug(X, E, delta)
        else:
            Xa, Ea = X, E
        num = Ea.T @ Xa
        den = Ea.T @ (Ea @ A)
        if sparsity == "l12" and lam > 0:
            den = den + 0.5 * lam * A.clamp_min(eps) ** -0.5
        elif sparsity == "l1" and lam > 0:
            den = den + lam
        A = A * num / den.clamp_min(eps)
        A = A.clamp_min(eps)
        E = E * (X @ A.T) / (E @ (A @ A.T)).clamp_min(eps)
        E = E.clamp_min(eps)
        if tol > 0 and it % max(1, int(check_every)) == 0:
            ch = math.sqrt(float(torch.sum((E - E_old) ** 2) + torch.sum((A - A_old) ** 2))
                           / max(float(torch.sum(E ** 2) + torch.sum(A ** 2)), 1e-30))
            if ch < tol:
                break
    R = X - E @ A
    obj = 0.5 * float(torch.sum(R * R))
    if sparsity == "l12":
        obj += lam * float(torch.sum(A.sqrt()))
    del B
    return E, A, {"iterations": it, "objective": obj}


def l12_nmf(X, E0, A0, *, lam: float | None = None, **kw):
    """ℓ1/2-NMF (Qian et al. 2011): :func:`nmf` with ``sparsity="l12"`` and λ from :func:`l12_lambda` when None.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, dict]
        As :func:`nmf`.
    """
    X = _check_x(X)
    return nmf(X, E0, A0, lam=l12_lambda(X) if lam is None else lam, sparsity="l12", **kw)


def mvnmf(X: torch.Tensor, E0: torch.Tensor, A0: torch.Tensor | None = None, *, lam: float = 0.1,
          delta: float = 0.1, max_iter: int = 300, inner: int = 10, tol: float = 1e-6, check_every: int = 10,
          ) -> tuple[torch.Tensor, torch.Tensor, dict]:
    r"""Minimum-volume NMF with the log-det volume penalty (Fu, Ma, Huang & Sidiropoulos 2016; Leplat, Ang &
    Gillis 2019):

    .. math::

        \min_{E \ge 0,\; a_j \in \Delta}\; F(E, A) = \tfrac12 \lVert X - E A\rVert_F^2
            + \tfrac{\lambda'}{2} \log\det(E^\top E + \delta' I)

    with ``λ' = λ · ‖X − E₀A₀‖²_F / |log det(E₀ᵀE₀ + δ'I)|`` (Leplat et al.'s normalisation: ``lam`` is the
    weight of the volume relative to the starting fit) and ``δ' = δ · tr(E₀ᵀE₀)/P`` (the smoothing relative to
    the endmembers' energy), so both options are scale-free. The volume term pulls the endmembers *outwards*
    only as far as the data allow: on scenes without pure pixels, where pure-pixel methods (VCA, N-FINDR) return
    vertices inside the true simplex, the factorisation can still reach the true endmembers.

    Block majorise–minimise (F never increases):

    * A-step: the per-pixel simplex-constrained least squares, solved exactly for P ≤ ``EXACT_MAX_P``
      (:func:`simplex_qp_exact`), else ``inner`` accelerated projected-gradient steps with restart from the
      previous A; a pixel keeps its old column if its fit rose;
    * E-step: the concave ``log det`` is majorised by its tangent at ``E_k``,
      ``log det(Y) + tr(Y⁻¹(EᵀE + δ'I)) − P``, ``Y = E_kᵀE_k + δ'I``, so E minimises the convex quadratic
      ``½‖X − EA‖² + (λ'/2) tr(E Y⁻¹ Eᵀ)`` over ``E ≥ 0`` (``inner`` accelerated projected gradient steps of
      length ``1/‖AAᵀ + λ'Y⁻¹‖``, monotone restart; kept only if the quadratic went down).

    The objective is evaluated every ``check_every`` iterations (one host synchronisation) and the run stops
    when its relative decrease over those iterations is below ``tol``.

    Returns ``(E (B, P), A (P, N), {"iterations", "objective" (list at the checks), "lam_abs", "delta_abs"})``.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, dict]
        ``E``, ``A`` and ``{"iterations", "objective", "lam_abs", "delta_abs"}``.
    """
    X = _check_x(X)
    E = E0.to(X).clone()
    nonneg = bool((X >= 0).all())
    if nonneg:
        E = E.clamp_min(0.0)
    P = E.shape[1]
    I = torch.eye(P, dtype=X.dtype, device=X.device)
    A = fcls(X, E) if A0 is None else project_simplex(A0.to(X))
    G = E.T @ E
    d_abs = float(delta) * float(torch.trace(G)) / P
    fit0 = float(torch.sum((X - E @ A) ** 2))
    ld0 = abs(float(torch.logdet(G + d_abs * I)))
    lam_abs = float(lam) * fit0 / max(ld0, 1e-12)

    def F(E, A):
        R = X - E @ A
        return 0.5 * torch.sum(R * R) + 0.5 * lam_abs * torch.logdet(E.T @ E + d_abs * I)

    hist = [float(F(E, A))]
    it = 0
    for it in range(1, max_iter + 1):
        # A-step: simplex-constrained least squares, warm started
        G, C = E.T @ E, E.T @ X
        if P <= EXACT_MAX_P:
            A_new, f_new = simplex_qp_exact(G, C)
            f_old = 0.5 * torch.sum(A * (G @ A), dim=0) - torch.sum(C * A, dim=0)
            A = torch.where((f_new <= f_old)[None], A_new, A)
        else:
            A = _fista_simplex(G, C, A, iters=inner, sum_to_one=True, tol=0.0)
        # E-step on the tangent majoriser of log det
        Yi = torch.linalg.inv(E.T @ E + d_abs * I)
        Q = A @ A.T + lam_abs * Yi                       # E-quadratic: ½ tr(E Q Eᵀ) − tr(Eᵀ X Aᵀ)
        XAt = X @ A.T
        L = torch.linalg.eigvalsh(Q)[-1].clamp_min(1e-30)

        def q(Ev):
            return 0.5 * torch.sum(Ev * (Ev @ Q)) - torch.sum(Ev * XAt)

        q0 = q(E)
        Z, Yv, t = E, E, 1.0
        for _ in range(inner):
            Zn = Yv - (Yv @ Q - XAt) / L
            if nonneg:
                Zn = Zn.clamp_min(0.0)
            t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
            up = torch.sum((Yv - Zn) * (Zn - Z)) > 0
            Yv = torch.where(up, Zn, Zn + ((t - 1) / t_new) * (Zn - Z))
            Z, t = Zn, t_new
        E = torch.where(q(Z) <= q0, Z, E)
        if it % max(1, int(check_every)) == 0 or it == max_iter:
            hist.append(float(F(E, A)))
            if tol > 0 and hist[-2] - hist[-1] <= tol * abs(hist[-2]):
                break
    return E, A, {"iterations": it, "objective": hist, "lam_abs": lam_abs, "delta_abs": d_abs}


# ============================================================================ RRLbS (reconstructed)
@dataclasses.dataclass
class UnmixProblem:
    """Blind unmixing of ``X`` (B, N) into ``p`` endmembers."""

    X: torch.Tensor
    p: int


@dataclasses.dataclass
class RRLbSState:
    x: tuple          # (E, A)
    h: torch.Tensor   # (N,) learnt mixed-level (guidance) map in [0, 1]
    g: torch.Tensor   # (B,) current ℓ2,1 band weights 1 / (2 sqrt(‖r_b‖² + ε²))
    objective: float


class RRLbS:
    r"""Robust representation and learning-based sparsity unmixing — **reconstructed from the abstract** of
    Zhu, Wang, Fan, Meng & Pan, arXiv 1409.0685 (no body, equations or code reachable).

    What the abstract fixes: an ℓ2,1 representation error over channels (so outlier bands cannot dominate),
    an ℓ_p (0 < p ≤ 1) sparsity imposed per pixel according to a *learnt* mixed-level ("guidance") map, and
    an alternating algorithm with a monotone-decrease proof. The objective chosen here:

    .. math::

        F(E, A, h) = \sum_{b=1}^{B} \omega_b \sqrt{\lVert x^b - e^b A\rVert_2^2 + \varepsilon^2}
          \;+\; \lambda \sum_{j=1}^{N} \Big[(1 - h_j)\,\big(\textstyle\sum_k (a_{kj} + \eta)^p - c\big)
          + \tfrac{\mu}{2} h_j^2\Big]

    subject to ``E ≥ 0``, ``a_j ∈ Δ`` (non-negative, sum to one), ``h_j ∈ [0, 1]``; ``ω_b ≥ 0`` are fixed prior
    band weights (``band_prior``; all 1 by default, which is the plain ℓ2,1 norm: the unmix app passes each
    band's regression reliability so that bands of gross noise, which ℓ2,1 alone still lets pull with unit
    force, count less); ``x^b`` / ``e^b`` are
    band (row) b of X / E, ``c = (1 + η)^p + (P − 1) η^p`` is the value of the ℓ_p term at a pure pixel, so
    ``s_j = Σ_k (a_kj + η)^p − c ≥ 0`` measures how mixed pixel j is (0 at a vertex of the simplex, largest at
    the centre). The map h is the learnt guidance: ``w_j = 1 − h_j`` is the per-pixel sparsity strength, so
    pixels that the data say are mixed (large s_j) get weak sparsity and nearly pure pixels strong sparsity;
    the quadratic ``μ/2 h²`` keeps the map from saturating. ε (smoothed ℓ2,1) and η (smoothed ℓ_p) make every
    term finite and differentiable where it is majorised.

    One outer iteration (a block majorise–minimise step; F never increases):

    1. **h-step** (exact): ``h_j = clip(s_j / μ, 0, 1)``.
    2. **A-step**: the concave ``√·`` is majorised at the current residual by the weighted least squares
       ``Σ_b g_b ‖x^b − e^b A‖²`` with ``g_b = ω_b / (2 √(‖r_b‖² + ε²))`` (IRLS), the concave ``(a + η)^p`` by
       its tangent (weights ``λ (1 − h_j) p (a_kj + η)^{p−1}``); the surrogate, a simplex-constrained
       quadratic per pixel with a Hessian shared by all pixels, is minimised **exactly** for P ≤
       ``EXACT_MAX_P`` (:func:`simplex_qp_exact`, enumeration of the simplex's faces; ``exact=False`` or larger
       P: ``inner`` accelerated projected-gradient steps with restart), and a pixel keeps its previous
       abundances if the surrogate did not go down.
    3. **E-step**: with A fixed the IRLS surrogate separates over bands; each row of E is a non-negative least
       squares problem (the band weight scales it and drops out), decreased by projected gradient steps of
       length ``1/‖A Aᵀ‖`` (sufficient decrease). The weights g are refreshed before the step.

    Implementation: the IRLS weights of the next A-step are those computed at the end of the E-step (same
    point), and the band residual norms come from the Gram pieces ``X Aᵀ`` and ``A Aᵀ`` (no B × N residual per
    iteration); the exact objective is evaluated only at the driver's checks (every ``check_every``), where
    the run also stops once the objective's relative decrease per iteration falls below ``tol``.

    Each step decreases its surrogate, which touches F at the current point, so F(E, A, h) is non-increasing;
    :meth:`objective` evaluates it exactly (tests check the recorded history). The band weights g are a
    by-product: bands with gross errors end with small g, which is how they are ignored without removal.

    Parameters
    ----------
    lam, p, mu : float
        λ (absolute), the exponent p and the guidance curvature μ of the objective.
    eps, eta : float
        Smoothing of the ℓ2,1 (ε) and ℓ_p (η) terms.
    inner, e_inner : int
        Projected-gradient steps of the A-step (when not exact) and of the E-step.
    max_iter : int
        Outer iterations at most.
    tol : float
        Stop threshold (see :meth:`default_stop`).
    exact : bool
        Exact A-step for P ≤ ``EXACT_MAX_P``.
    band_prior : Tensor (B,), optional
        Fixed band weights ω ≥ 0 of the ℓ2,1 terms (default all 1: the plain ℓ2,1 norm).
    """

    def __init__(self, *, lam: float = 0.1, p: float = 0.5, mu: float = 0.5, eps: float = 1e-6, eta: float = 1e-3,
                 inner: int = 20, e_inner: int = 5, max_iter: int = 200, tol: float = 1e-5, exact: bool = True,
                 band_prior: torch.Tensor | None = None):
        if not 0 < p <= 1:
            raise ValueError(f"RRLbS: p={p}, expected 0 < p <= 1")
        self.lam, self.p, self.mu, self.eps, self.eta = float(lam), float(p), float(mu), float(eps), float(eta)
        self.inner, self.e_inner, self.max_iter, self.tol = int(inner), int(e_inner), int(max_iter), float(tol)
        self.exact = bool(exact)
        self.band_prior = None if band_prior is None else torch.as_tensor(band_prior).clamp_min(0.0)

    def default_stop(self):
        """``max_iter``, or earlier when the objective's relative decrease per iteration (read at the checks) or
        the relative change of (E, A) falls below ``tol``."""
        if self.tol <= 0:
            return MaxIter(self.max_iter)
        return MaxIter(self.max_iter) | _ObjDecrease(self.tol) | RelChange(self.tol)

    # ---- pieces of the objective
    def _c(self, P, X):
        return (1 + self.eta) ** self.p + (P - 1) * self.eta ** self.p

    def mixed_level(self, A):
        """s_j ≥ 0: the smoothed ℓ_p sparsity term of each pixel minus its value at a pure pixel."""
        return (torch.sum((A + self.eta) ** self.p, dim=0) - self._c(A.shape[0], A)).clamp_min(0.0)

    def _h(self, s):
        return (s / self.mu).clamp(0.0, 1.0) if self.mu > 0 else torch.ones_like(s)

    def _fit(self, R):
        return torch.sqrt(torch.sum(R * R, dim=1) + self.eps ** 2)

    def _w(self, X):
        return torch.ones(X.shape[0], dtype=X.dtype, device=X.device) if self.band_prior is None else \
            self.band_prior.to(X)

    def _f(self, X, E, A, h):
        s = torch.sum((A + self.eta) ** self.p, dim=0) - self._c(A.shape[0], A)
        data = torch.sum(self._w(X) * self._fit(X - E @ A))
        reg = torch.sum((1 - h) * s + 0.5 * self.mu * h * h)
        return float(data + self.lam * reg)

    def objective(self, problem, state):
        E, A = state.x
        return self._f(problem.X, E, A, state.h)

    # ---- driver interface
    def init(self, problem, x0):
        X = problem.X
        self._nonneg = True
        if x0 is None:
            E, _ = nfindr(X, problem.p)
            A = fcls(X, E)
        else:
            E, A = (t.to(X) for t in x0)
            A = project_simplex(A)
        self._nonneg = bool((X >= 0).all())
        E = E.clamp_min(0.0) if self._nonneg else E
        h = self._h(self.mixed_level(A))
        g = 0.5 * self._w(X) / self._fit(X - E @ A)
        st = RRLbSState(x=(E, A), h=h, g=g, objective=self._f(X, E, A, h))
        self._xx = torch.sum(X * X, dim=1)
        self._steps, self._last_obj = 0, (st.objective, 0)
        return st

    def _band_res2(self, problem, E, XAt, AAt):
        """‖x_b − e_b A‖² of every band from the Gram pieces (O(B P²), no B × N residual): ‖x_b‖² −
        2 e_b·(X Aᵀ)_b + e_b (A Aᵀ) e_bᵀ, clipped at 0 (float64 cancellation is far below ε² at these scales)."""
        return (self._xx - 2.0 * torch.sum(E * XAt, dim=1) + torch.sum((E @ AAt) * E, dim=1)).clamp_min(0.0)

    def step(self, problem, state):
        X = problem.X
        E, A = state.x
        self._steps += 1
        # 1. guidance map (exact minimiser in h)
        h = self._h(self.mixed_level(A))
        # 2. A-step on the IRLS + tangent surrogate; g = IRLS weights at the current (E, A) (state.g)
        g = state.g
        Eg = E * g[:, None]
        H = E.T @ Eg * 2.0
        lin = self.lam * (1 - h)[None, :] * self.p * (A + self.eta) ** (self.p - 1)
        C = 2.0 * (Eg.T @ X) - lin
        if E.shape[1] <= EXACT_MAX_P and self.exact:
            # exact minimiser of the surrogate per pixel; a pixel keeps its column if it is not lower (rounding)
            A_new, f_new = simplex_qp_exact(H, C)
            f_old = 0.5 * torch.sum(A * (H @ A), dim=0) - torch.sum(C * A, dim=0)
            A = torch.where((f_new <= f_old)[None], A_new, A)
        else:
            A = _fista_simplex(H, C, A, iters=self.inner, sum_to_one=True, tol=0.0)
        # 3. E-step: projected gradient on each band's NNLS (band weights drop out)
        AAt = A @ A.T
        L = torch.linalg.eigvalsh(AAt)[-1].clamp_min(1e-30)
        XAt = X @ A.T
        for _ in range(self.e_inner):
            E = E - (E @ AAt - XAt) / L
            if self._nonneg:
                E = E.clamp_min(0.0)
        g = 0.5 * self._w(X) / torch.sqrt(self._band_res2(problem, E, XAt, AAt) + self.eps ** 2)
        return RRLbSState(x=(E, A), h=h, g=g, objective=float("nan"))   # evaluated at the checks (measure)

    def measure(self, problem, state, prev):
        state.objective = self.objective(problem, state)
        last, self._last_obj = self._last_obj, (state.objective, self._steps)
        # relative objective decrease per iteration since the previous check (or the start)
        dec = (last[0] - state.objective) / max(abs(state.objective), 1e-300) / max(1, self._steps - last[1])
        return {"objective": state.objective, "obj_decrease": dec}


class _ObjDecrease(_Threshold):
    """Stop when the relative objective decrease per iteration, measured between two checks, is below tol."""

    key = "obj_decrease"


def rrlbs(X: torch.Tensor, k: int, *, E0=None, A0=None, callbacks=(), check_every: int = 1, **kw):
    """Run :class:`RRLbS` on ``X`` (B, N) with ``k`` endmembers; ``(E, A, result)`` (history holds the objective).

    Keyword arguments go to :class:`RRLbS` (``lam`` is absolute here; the app scales it to the data).

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, Result]
        ``E``, ``A`` and the solver result.
    """
    X = _check_x(X)
    solver = RRLbS(**kw)
    x0 = None if E0 is None else (E0, A0 if A0 is not None else fcls(X, E0))
    res = solve(solver, UnmixProblem(X, int(k)), x0=x0, stop=solver.default_stop(), callbacks=callbacks,
                check_every=check_every)
    E, A = res.x
    return E, A, res


# ============================================================================ scores
def sad_matrix(E: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """Spectral angles (radians) between every column of E (B, P) and of R (B, Q): (P, Q).

    Returns
    -------
    torch.Tensor
        The ``(P, Q)`` angles in radians.
    """
    E = E.to(torch.float64)
    R = R.to(torch.float64).to(E.device)
    En = E / torch.linalg.vector_norm(E, dim=0, keepdim=True).clamp_min(1e-30)
    Rn = R / torch.linalg.vector_norm(R, dim=0, keepdim=True).clamp_min(1e-30)
    return torch.arccos((En.T @ Rn).clamp(-1.0, 1.0))


def match_endmembers(E: torch.Tensor, R: torch.Tensor) -> tuple[list, list]:
    """Optimal one-to-one matching (Hungarian) of estimated to reference endmembers by minimum total spectral
    angle: ``(est_indices, ref_indices)``, ``min(P, Q)`` pairs.

    Returns
    -------
    tuple[list, list]
        The matched estimated and reference indices (``min(P, Q)`` pairs).
    """
    from scipy.optimize import linear_sum_assignment
    S = sad_matrix(E, R).cpu().numpy()
    r, c = linear_sum_assignment(S)
    return [int(i) for i in r], [int(j) for j in c]


def unmixing_scores(E: torch.Tensor | None, A: torch.Tensor | None, E_ref: torch.Tensor | None = None,
                    A_ref: torch.Tensor | None = None) -> dict:
    """``sad_mean_deg`` (and ``sad_deg_<k>`` per reference endmember k), ``rmse_abundance`` and
    ``rmse_abundance_raw``.

    Endmembers are matched to the reference by minimum total spectral angle (Hungarian) when ``E_ref`` is
    given; otherwise (abundances only) by minimum total squared abundance difference. Abundances are (P, N).

    ``rmse_abundance`` compares abundances *expressed in the reference endmembers' scale*: each matched
    estimate ``e_k`` is written ``c_k r_k`` (least-squares scale against its reference ``r_k``), its abundance
    row multiplied by ``c_k`` and every pixel renormalised to sum one. The linear mixing model fixes an
    abundance only together with its endmember's scale; reference sets whose endmembers are peak-normalised
    (Samson's community ground truth: its abundances are the non-negative least-squares fit on the
    peak-normalised spectra, renormalised per pixel) are scored consistently this way, and when the reference
    endmembers are on the data's scale ``c_k ≈ 1`` and nothing changes. ``rmse_abundance_raw`` is the plain
    RMSE of the matched rows as estimated. Without ``E_ref`` (or E) both are the plain RMSE.

    Returns
    -------
    dict
        The scores that the given references allow.
    """
    from scipy.optimize import linear_sum_assignment
    out = {}
    scale = None
    if E_ref is not None and E is not None:
        ei, ri = match_endmembers(E, E_ref)
        S = sad_matrix(E, E_ref)
        angles = [math.degrees(float(S[i, j])) for i, j in zip(ei, ri)]
        out["sad_mean_deg"] = sum(angles) / len(angles)
        for i, j in zip(ei, ri):
            out[f"sad_deg_{j}"] = math.degrees(float(S[i, j]))
        e = E.to(torch.float64)[:, ei]
        r = E_ref.to(torch.float64).to(e.device)[:, ri]
        scale = torch.sum(e * r, dim=0) / torch.sum(r * r, dim=0).clamp_min(1e-30)
    elif A_ref is not None and A is not None:
        a = A.to(torch.float64)
        b = A_ref.to(torch.float64).to(a.device)
        cost = torch.cdist(a, b) ** 2
        ei, ri = (list(map(int, v)) for v in linear_sum_assignment(cost.cpu().numpy()))
    if A_ref is not None and A is not None:
        a = A.to(torch.float64)[ei]
        b = A_ref.to(torch.float64).to(a.device)[ri]
        out["rmse_abundance_raw"] = float(torch.sqrt(torch.mean((a - b) ** 2)))
        if scale is not None:
            a = a * scale.clamp_min(0.0)[:, None]
            a = a / a.sum(dim=0, keepdim=True).clamp_min(1e-30)
        out["rmse_abundance"] = float(torch.sqrt(torch.mean((a - b) ** 2)))
    return out
