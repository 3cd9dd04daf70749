"""Sparse Bayesian learning by EM: plain (Tipping; Wipf & Rao) and Kronecker-structured (He & Joseph).

Both solvers prune hyper-parameters (and the matching dictionary columns) at
their checks, so the problem shrinks as the support emerges.  Leading
dimensions of ``y`` are snapshots that share one support (multiple measurement
vectors, M-SBL).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple, Sequence

import torch

from ..linop.tensor import multi_mode_dot
from .base import MaxIter, Stop, _Threshold, solve


class SBLResult(NamedTuple):
    """What :func:`sbl` returns."""

    x: torch.Tensor          #: (snapshots..., N): posterior mean
    gamma: torch.Tensor      #: (N,): prior variances (0 where pruned)
    noise_var: float         #: noise variance used (learned or given)
    n_iter: int              #: EM iterations run


class KronSBLResult(NamedTuple):
    """What :func:`kron_sbl` returns."""

    x: torch.Tensor          #: posterior mean, laid out as ``y`` (tensor or flat)
    gammas: list             #: per-factor prior variances (N_d,), 0 where pruned; γ = γ₁ ⊗ … ⊗ γ_D
    noise_var: float
    n_iter: int


def _check_common(noise_var, max_iter, tol, prune, check_every):
    if noise_var is not None and not noise_var > 0:
        raise ValueError(f"noise_var must be positive (or None to learn it), got {noise_var}")
    if int(max_iter) < 1 or not tol >= 0 or not 0 <= prune < 1 or int(check_every) < 1:
        raise ValueError("need max_iter >= 1, tol >= 0, 0 <= prune < 1 and check_every >= 1")


def _rel_change(new, old):
    return float(torch.linalg.vector_norm(new - old) / torch.clamp(torch.linalg.vector_norm(old),
                                                                   min=torch.finfo(old.dtype).tiny))


# ----------------------------------------------------------------------------- plain SBL
def _sbl_posterior(A, Y, gamma, s2):
    """Posterior mean (L, K) and diagonal covariance (K,) for y = A x + n, x ~ CN(0, diag γ)."""
    M, K = A.shape
    if K <= M:  # K×K form: Σ = Γ^½ (Γ^½ AᴴA Γ^½ / σ² + I)⁻¹ Γ^½ (well conditioned for any γ)
        g = torch.sqrt(gamma).to(A.dtype)
        Ag = A * g
        H = Ag.mH @ Ag / s2 + torch.eye(K, dtype=A.dtype, device=A.device)
        Lc = torch.linalg.cholesky(H)
        Hinv = torch.cholesky_solve(torch.eye(K, dtype=A.dtype, device=A.device), Lc)
        mu = (g[:, None] * (Hinv @ (Ag.mH @ Y.mT))).mT / s2
        sig = gamma * torch.diagonal(Hinv).real
    else:  # M×M form: C = σ²I + AΓAᴴ, μ = Γ Aᴴ C⁻¹ y, Σ_nn = γ_n − γ_n² a_nᴴ C⁻¹ a_n
        C = (A * gamma.to(A.dtype)) @ A.mH + s2 * torch.eye(M, dtype=A.dtype, device=A.device)
        Lc = torch.linalg.cholesky(C)
        CiA = torch.cholesky_solve(A, Lc)
        mu = gamma * (Y @ CiA.conj())
        sig = gamma - gamma ** 2 * (A.conj() * CiA).sum(0).real
    return mu, sig


class GammaChange(_Threshold):
    """Stop when the prior variances settle: ‖γ_k − γ_{k−1}‖ / ‖γ_{k−1}‖ < tol (SBL's own rule)."""

    key = "gamma_change"


@dataclasses.dataclass(frozen=True)
class SBLProblem:
    """``Y = X Aᵀ + noise`` (rows are snapshots sharing one support); build with :meth:`build`."""

    A: torch.Tensor          #: (M, N), common dtype
    Y: torch.Tensor          #: (L, M)
    noise_var: float | None  #: None: learned
    shape: tuple             #: shape of the caller's y

    @classmethod
    def build(cls, A, y, noise_var=None):
        if A.ndim != 2 or y.ndim < 1 or y.shape[-1] != A.shape[0]:
            raise ValueError(f"sbl: y of shape {tuple(y.shape)} does not match A of shape {tuple(A.shape)}")
        cplx = A.is_complex() or y.is_complex()
        dt = y.dtype if y.is_complex() else A.dtype if A.is_complex() else y.dtype
        if cplx and not dt.is_complex:
            dt = torch.complex128 if dt == torch.float64 else torch.complex64
        return cls(A=A.to(dt), Y=y.to(dt).reshape(-1, A.shape[0]), noise_var=noise_var, shape=tuple(y.shape))


@dataclasses.dataclass(frozen=True)
class SBLState:
    x: torch.Tensor          #: (N,) the iterate: the last M-step's γ before pruning (0 where pruned earlier)
    gamma: torch.Tensor      #: (K,) prior variances of the active entries
    active: torch.Tensor     #: (K,) indices of the active entries
    As: torch.Tensor         #: (M, K) active columns
    s2: Any                  #: noise variance (float, or a 0-d tensor between prunings when learned)
    k: int                   #: iterations done


class SBL:
    """EM sparse Bayesian learning as an init/step solver (see :func:`sbl` for the model).

    ``step`` is one EM iteration (E-step with the current γ, M-step); every ``prune_every``
    iterations (and at ``max_iter``) entries with ``γ_n < prune · max γ`` are dropped with their
    columns.  The iterate ``state.x`` is the full prior-variance vector γ (what EM iterates; the
    driver's change and NaN/Inf checks look at it); :meth:`posterior` gives the posterior mean.  The
    history records ``gamma_change`` and ``n_active``; the default stop is
    ``MaxIter(max_iter) | GammaChange(tol)``.
    """

    def __init__(self, *, max_iter: int = 300, tol: float = 1e-4, prune: float = 1e-3, prune_every: int = 1):
        self.max_iter, self.tol, self.prune, self.prune_every = int(max_iter), tol, float(prune), int(prune_every)

    def default_stop(self):
        s = MaxIter(self.max_iter)
        return s if not self.tol else s | GammaChange(self.tol)

    def init(self, problem: SBLProblem, x0=None):
        A, Y = problem.A, problem.Y
        (L, M), N = Y.shape, A.shape[1]
        rdt = A.real.dtype
        ypow = (torch.abs(Y) ** 2).sum() / (L * M)
        # initial γ: spread the data energy evenly, E‖Ax‖² = γ‖A‖_F² = ‖y‖²
        g0 = ypow * M / torch.clamp((torch.abs(A) ** 2).sum(), min=torch.finfo(rdt).tiny)
        if x0 is not None:  # a starting point sets γ to its energy (floored at the flat level / 100)
            g = (torch.abs(torch.as_tensor(x0, dtype=Y.dtype).reshape(-1, N)) ** 2).mean(0)
            gamma = torch.clamp(g.to(rdt), min=float(g0) * 1e-2)
        else:
            gamma = torch.full((N,), float(g0), dtype=rdt, device=A.device)
        s2 = float(problem.noise_var) if problem.noise_var is not None else 0.1 * float(ypow)
        return SBLState(x=gamma, gamma=gamma, active=torch.arange(N, device=A.device), As=A, s2=s2, k=0)

    def step(self, problem: SBLProblem, s: SBLState) -> SBLState:
        Y, M = problem.Y, problem.A.shape[0]
        L, N = Y.shape[0], problem.A.shape[1]
        As, gamma, s2, active = s.As, s.gamma, s.s2, s.active
        mu, sig = _sbl_posterior(As, Y, gamma, s2)
        new_gamma = torch.clamp(sig + (torch.abs(mu) ** 2).mean(0), min=0.0)
        if problem.noise_var is None:
            res = (torch.abs(Y - mu @ As.mT) ** 2).sum() / L
            ratio = torch.where(gamma > 0, sig / torch.where(gamma > 0, gamma, torch.ones_like(gamma)),
                                torch.ones_like(gamma))
            s2 = (res + s2 * (1.0 - ratio).sum()) / M  # stays a 0-d tensor between prunings
        gamma = new_gamma
        k = s.k + 1
        full = torch.zeros(N, dtype=gamma.dtype, device=gamma.device).index_copy(0, active, gamma)
        if k % self.prune_every == 0 or k >= self.max_iter:
            s2 = float(s2)
            if self.prune > 0:
                keep = gamma >= self.prune * gamma.max()
                if not bool(keep.all()):
                    active, gamma, As = active[keep], gamma[keep], As[:, keep]
        return SBLState(x=full, gamma=gamma, active=active, As=As, s2=s2, k=k)

    def measure(self, problem, state, prev):
        return {"gamma_change": _rel_change(state.x, prev.x), "n_active": int(state.active.numel())}

    def posterior(self, problem, state):
        """Posterior mean (L, N) with the state's γ and σ² (0 at pruned entries)."""
        mu, _ = _sbl_posterior(state.As, problem.Y, state.gamma, float(state.s2))
        L, N = problem.Y.shape[0], problem.A.shape[1]
        return torch.zeros(L, N, dtype=problem.Y.dtype, device=problem.Y.device).index_copy(1, state.active, mu)

    def objective(self, problem, state):
        """Type-II cost ``log|C| + (1/L) Σ_l y_lᴴ C⁻¹ y_l``, ``C = σ²I + AΓAᴴ`` (dense M×M; for monitoring)."""
        A, Y, M = state.As, problem.Y, problem.A.shape[0]
        C = (A * state.gamma.to(A.dtype)) @ A.mH + float(state.s2) * torch.eye(M, dtype=A.dtype, device=A.device)
        Lc = torch.linalg.cholesky(C)
        z = torch.linalg.solve_triangular(Lc, Y.mT, upper=False)
        return float(2 * torch.log(torch.diagonal(Lc).real).sum() + (torch.abs(z) ** 2).sum() / Y.shape[0])


def sbl(A: torch.Tensor, y: torch.Tensor, *, noise_var: float | None = None, max_iter: int = 300,
        tol: float = 1e-4, prune: float = 1e-3, check_every: int = 1, stop: Stop | None = None,
        callbacks=(), record_objective: bool = False) -> SBLResult:
    """Sparse Bayesian learning (relevance vector machine) by expectation–maximisation.

    Parameters
    ----------
    A : Tensor, shape (M, N), real or complex
        Dictionary.
    y : Tensor, shape (M,) or (snapshots..., M), real or complex
        Measurements; all snapshots share one support (M-SBL).
    noise_var : float, optional
        Noise variance σ² (per entry); learned by EM when omitted.
    max_iter : int
        Maximum number of EM iterations.
    tol : float
        Stop when the relative change of γ is below ``tol`` at a check.
    prune : float
        At each check drop entries with ``γ_n < prune · max γ`` together with
        their dictionary columns (they are 0 in the result); 0 disables.
    check_every : int
        Check convergence and prune every k iterations (one host
        synchronisation per check).
    stop, callbacks, record_objective
        The driver's keyword tail (:func:`~sensekit.solvers.solve`, solver :class:`SBL`): ``stop``
        replaces ``MaxIter(max_iter) | GammaChange(tol)``; callbacks ``cb(info, state)`` run at each
        check (``info`` has ``iter``, ``gamma_change``, ``n_active``); the type-II cost is recorded
        as ``objective`` on request (dense M×M, for monitoring only).

    Returns
    -------
    SBLResult
        ``(x, gamma, noise_var, n_iter)``; ``x`` has the shape of ``y`` with
        M replaced by N.

    Notes
    -----
    Hierarchical model ``y_l = A x_l + n_l``, ``n_l ~ N(0, σ²I)``,
    ``x_l ~ N(0, Γ)``, ``Γ = diag(γ)``; type-II maximum likelihood
    ``min_γ  log|σ²I + AΓAᴴ| + (1/L) Σ_l y_lᴴ(σ²I + AΓAᴴ)⁻¹ y_l`` by EM:

    * E-step: ``Σ = (AᴴA/σ² + Γ⁻¹)⁻¹``, ``μ_l = Σ Aᴴ y_l / σ²`` (computed in
      the smaller of the K×K form ``Γ^½(Γ^½AᴴAΓ^½/σ² + I)⁻¹Γ^½`` and the M×M
      form ``Γ − ΓAᴴ(σ²I + AΓAᴴ)⁻¹AΓ``, K the number of unpruned entries);
    * M-step: ``γ_n = Σ_nn + (1/L) Σ_l |μ_{l,n}|²``; when σ² is learned,
      ``σ² = ((1/L) Σ_l ‖y_l − Aμ_l‖² + σ² Σ_n (1 − Σ_nn/γ_n)) / M``.

    The result is the posterior mean with the final γ.  Cost per iteration
    ``O(M K min(M, K))``.

    References
    ----------
    M. E. Tipping, "Sparse Bayesian learning and the relevance vector
    machine", JMLR 1:211–244, 2001.  D. P. Wipf, B. D. Rao, "Sparse Bayesian
    learning for basis selection", IEEE Trans. Signal Process.
    52(8):2153–2164, 2004; "An empirical Bayesian strategy for solving the
    simultaneous sparse approximation problem", IEEE Trans. Signal Process.
    55(7):3704–3716, 2007.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(0)
    >>> A = torch.randn(40, 100, dtype=torch.float64, generator=g) / 40 ** 0.5
    >>> x = torch.zeros(100, dtype=torch.float64)
    >>> x[[5, 30, 77]] = torch.tensor([1.0, -1.5, 2.0], dtype=torch.float64)
    >>> res = sk.solvers.sbl(A, A @ x + 1e-3 * torch.randn(40, dtype=torch.float64, generator=g),
    ...                      noise_var=1e-6)
    >>> torch.nonzero(res.x.abs() > 0.1).flatten().tolist()
    [5, 30, 77]
    """
    _check_common(noise_var, max_iter, tol, prune, check_every)
    problem = SBLProblem.build(A, y, noise_var)
    res = solve(SBL(max_iter=max_iter, tol=tol, prune=prune, prune_every=check_every), problem,
                stop=stop, callbacks=callbacks, check_every=check_every, record_objective=record_objective)
    s, N = res.state, problem.A.shape[1]
    s2 = float(s.s2)
    x = SBL().posterior(problem, s)
    full = torch.zeros(N, dtype=s.gamma.dtype, device=s.gamma.device).index_copy(0, s.active, s.gamma)
    return SBLResult(x=x.reshape(*problem.shape[:-1], N), gamma=full, noise_var=s2, n_iter=res.iterations)


# ----------------------------------------------------------------------------- Kronecker SBL
def _kron_vec(vs):
    out = vs[0]
    for v in vs[1:]:
        out = (out.unsqueeze(-1) * v).reshape(-1)
    return out


def _outer(vs):
    return _kron_vec(vs).reshape([v.shape[0] for v in vs])


def _kron_posterior(As, Y, gammas, s2):
    """Posterior mean (L, K_1..K_D) and diag covariance (K_1..K_D) from per-factor EVDs.

    With ``A_d Γ_d A_dᴴ = U_d diag(p_d) U_dᴴ`` and ``B_d = U_dᴴ A_d``:
    ``(σ²I + AΓAᴴ)⁻¹ = (⊗U_d)(σ² + ⊗p_d)⁻¹(⊗U_d)ᴴ``, so
    ``μ = γ ⊙ ((Y ×_d U_dᴴ) / (σ² + ⊗p) ×_d B_dᴴ)`` and
    ``Σ_nn = γ_n − γ_n² [(1/(σ² + ⊗p)) ×_d |B_d|ᵀ²]_n``.
    """
    d = len(As)
    Us, ps, Bs = [], [], []
    for A, g in zip(As, gammas):
        Ag = A * g.to(A.dtype)
        p, U = torch.linalg.eigh(Ag @ A.mH)
        Us.append(U)
        ps.append(torch.clamp(p, min=0.0))
        Bs.append(U.mH @ A)
    w = 1.0 / (s2 + _outer(ps))
    z = multi_mode_dot(Y, Us, ndim=d, adjoint=True) * w.to(Y.dtype)
    gam = _outer(gammas)
    mu = gam.to(Y.dtype) * multi_mode_dot(z, Bs, ndim=d, adjoint=True)
    dterm = multi_mode_dot(w, [(torch.abs(B) ** 2).mT for B in Bs], ndim=d)
    sig = torch.clamp(gam - gam ** 2 * dterm, min=0.0)
    return mu, sig


def _am_mstep(Lam, gammas, inner_tol, inner_max, check_every):
    """Alternating fixed point γ_d[i] = mean over the other indices of Λ / ∏_{e≠d} γ_e."""
    d = len(gammas)
    gammas = list(gammas)
    prev = _kron_vec(gammas)
    for k in range(1, inner_max + 1):
        for i in range(d):
            # Λ / ∏_{e≠i} γ_e = γ_i ⊙ (Λ / ⊗γ): average the ratio over the other modes
            others = tuple(e for e in range(d) if e != i)
            ratio = Lam / _outer(gammas)
            gammas[i] = gammas[i] * (ratio.mean(dim=others) if others else ratio)
        norms = [torch.linalg.vector_norm(g) for g in gammas[:-1]]
        gammas = [g / n for g, n in zip(gammas[:-1], norms)] + [gammas[-1] * math.prod(norms)]
        if k % check_every and k < inner_max:
            continue
        cur = _kron_vec(gammas)
        if _rel_change(cur, prev) < inner_tol:
            break
        prev = cur
    return gammas


def _svd_mstep(Lam):
    """Best rank-one fit of Λ by successive leading singular triplets (γ_d = |u_d|)."""
    sizes = Lam.shape
    gammas, rest = [], Lam
    for i, n in enumerate(sizes[:-1]):
        U, S, Vh = torch.linalg.svd(rest.reshape(n, -1), full_matrices=False)
        gammas.append(torch.abs(U[:, 0]))
        rest = (S[0] * torch.abs(Vh[0]))
    gammas.append(rest.reshape(-1))
    return gammas


@dataclasses.dataclass(frozen=True)
class KronSBLProblem:
    """``Y = X ×_d A_d + noise`` with snapshots on the first axis; build with :meth:`build`."""

    mats: tuple              #: dictionaries A_d (M_d, N_d), common dtype
    Y: torch.Tensor          #: (L, M_1, ..., M_D)
    noise_var: float | None
    flat: bool               #: the caller's y was (snapshots..., ∏M)
    snap_shape: tuple

    @classmethod
    def build(cls, dictionaries, y, noise_var=None):
        mats = list(dictionaries)
        d = len(mats)
        msz = tuple(int(m.shape[0]) for m in mats)
        if d >= 1 and y.ndim >= d and tuple(y.shape[y.ndim - d:]) == msz:
            flat, snap_shape = False, tuple(y.shape[:y.ndim - d])
        elif y.ndim >= 1 and y.shape[-1] == math.prod(msz):
            flat, snap_shape = True, tuple(y.shape[:-1])
        else:
            raise ValueError(f"kron_sbl: y of shape {tuple(y.shape)} matches neither {msz} nor ({math.prod(msz)},)")
        cplx = y.is_complex() or any(m.is_complex() for m in mats)
        dt = y.dtype
        if cplx and not dt.is_complex:
            dt = torch.complex128 if dt == torch.float64 else torch.complex64
        return cls(mats=tuple(m.to(dt) for m in mats), Y=y.to(dt).reshape(-1, *msz), noise_var=noise_var,
                   flat=flat, snap_shape=snap_shape)


@dataclasses.dataclass(frozen=True)
class KronSBLState:
    x: torch.Tensor          #: (∏N,) the iterate: the last M-step's γ₁ ⊗ … ⊗ γ_D before pruning
    gammas: tuple            #: per-factor prior variances of the active entries
    active: tuple            #: per-factor active indices
    As: tuple                #: per-factor active columns
    s2: Any
    k: int


class KronSBL:
    """Kronecker-structured SBL (AM- or SVD-KroSBL) as an init/step solver; see :func:`kron_sbl`.

    ``step`` is one EM iteration; the first ``svd_warmup`` iterations of ``mstep="am"`` use the
    SVD M-step (see the root-cause note in :func:`kron_sbl`).  Pruning every ``prune_every``
    iterations.  ``state.x`` is the full prior variance ``γ₁ ⊗ … ⊗ γ_D`` (flat); :meth:`posterior`
    gives the posterior mean.  History ``gamma_change`` and ``n_active``; default stop
    ``MaxIter(max_iter) | GammaChange(tol)`` (never inside the warm-up).
    """

    def __init__(self, *, mstep: str = "am", max_iter: int = 150, tol: float = 1e-4, prune: float | None = None,
                 inner_tol: float = 1e-5, inner_max_iter: int = 100, prune_every: int = 1,
                 svd_warmup: int | None = None):
        if mstep not in ("am", "svd"):
            raise ValueError(f"kron_sbl: mstep must be 'am' or 'svd', got {mstep!r}")
        self.mstep, self.max_iter, self.tol = mstep, int(max_iter), tol
        self.prune = 1e-3 if prune is None else float(prune)
        self.inner_tol, self.inner_max_iter, self.prune_every = inner_tol, int(inner_max_iter), int(prune_every)
        self.svd_warmup = (10 if mstep == "am" else 0) if svd_warmup is None else int(svd_warmup)
        if self.svd_warmup < 0:
            raise ValueError(f"kron_sbl: svd_warmup must be >= 0, got {svd_warmup}")

    def default_stop(self):
        s = MaxIter(self.max_iter)
        return s if not self.tol else s | GammaChange(self.tol)

    def _full(self, problem, active, gs):
        rdt = gs[0].dtype
        return _outer([torch.zeros(int(m.shape[1]), dtype=rdt, device=g.device).index_copy(0, a, g)
                       for m, a, g in zip(problem.mats, active, gs)]).reshape(-1)

    def init(self, problem: KronSBLProblem, x0=None):
        mats, Y = problem.mats, problem.Y
        nsz = tuple(int(m.shape[1]) for m in mats)
        L, dev, rdt = Y.shape[0], Y.device, mats[0].real.dtype
        Mtot = math.prod(Y.shape[1:])
        ypow = (torch.abs(Y) ** 2).sum() / (L * Mtot)
        a2 = math.prod(float((torch.abs(m) ** 2).sum()) for m in mats)
        g0 = float(ypow) * Mtot / max(a2, torch.finfo(rdt).tiny)
        gammas = [torch.full((n,), 1.0 / math.sqrt(n), dtype=rdt, device=dev) for n in nsz[:-1]]
        gammas.append(torch.full((nsz[-1],), g0 * math.prod(math.sqrt(n) for n in nsz[:-1]), dtype=rdt,
                                 device=dev))
        active = tuple(torch.arange(n, device=dev) for n in nsz)
        s2 = float(problem.noise_var) if problem.noise_var is not None else 0.1 * float(ypow)
        return KronSBLState(x=self._full(problem, active, gammas), gammas=tuple(gammas), active=active,
                            As=tuple(mats), s2=s2, k=0)

    def step(self, problem: KronSBLProblem, s: KronSBLState) -> KronSBLState:
        Y = problem.Y
        d, L = len(s.As), Y.shape[0]
        As, gammas, active, s2 = list(s.As), list(s.gammas), list(s.active), s.s2
        mu, sig = _kron_posterior(As, Y, gammas, s2)
        Lam = sig + (torch.abs(mu) ** 2).mean(0)
        if problem.noise_var is None:
            res = (torch.abs(Y - multi_mode_dot(mu, As, ndim=d)) ** 2).sum() / L
            gam = _outer(gammas)
            ratio = torch.where(gam > 0, sig / torch.where(gam > 0, gam, torch.ones_like(gam)), torch.ones_like(gam))
            s2 = (res + s2 * (1.0 - ratio).sum()) / math.prod(Y.shape[1:])
        k = s.k + 1
        if self.mstep == "am" and k > self.svd_warmup:
            gammas = _am_mstep(Lam, gammas, self.inner_tol, self.inner_max_iter, self.prune_every)
        else:
            gammas = _svd_mstep(Lam)
        full = self._full(problem, active, gammas)
        if k % self.prune_every == 0 or k >= self.max_iter:
            s2 = float(s2)
            if self.prune > 0:
                keeps = [g >= self.prune * g.max() for g in gammas]
                if not all(bool(kp.all()) for kp in keeps):
                    active = [a[kp] for a, kp in zip(active, keeps)]
                    gammas = [g[kp] for g, kp in zip(gammas, keeps)]
                    As = [A[:, kp] for A, kp in zip(As, keeps)]
        return KronSBLState(x=full, gammas=tuple(gammas), active=tuple(active), As=tuple(As), s2=s2, k=k)

    def measure(self, problem, state, prev):
        # AM-KroSBL does not stop inside its SVD warm-up: the answer is a fixed point of the exact M-step
        warm = self.mstep == "am" and state.k <= self.svd_warmup
        return {"gamma_change": math.inf if warm else _rel_change(state.x, prev.x),
                "n_active": math.prod(int(a.numel()) for a in state.active)}

    def posterior(self, problem, state):
        """Posterior mean (L, N_1, ..., N_D) with the state's γ and σ² (0 at pruned entries)."""
        mu, _ = _kron_posterior(list(state.As), problem.Y, list(state.gammas), float(state.s2))
        nsz = tuple(int(m.shape[1]) for m in problem.mats)
        x = torch.zeros(problem.Y.shape[0], *nsz, dtype=problem.Y.dtype, device=problem.Y.device)
        x[(slice(None),) + torch.meshgrid(*state.active, indexing="ij")] = mu
        return x


def kron_sbl(dictionaries: Sequence[torch.Tensor], y: torch.Tensor, *, mstep: str = "am",
             noise_var: float | None = None, max_iter: int = 150, tol: float = 1e-4,
             prune: float | None = None, inner_tol: float = 1e-5, inner_max_iter: int = 100,
             check_every: int = 1, svd_warmup: int | None = None, stop: Stop | None = None, callbacks=(),
             record_objective: bool = False) -> KronSBLResult:
    """Kronecker-structured sparse Bayesian learning (AM-KroSBL and SVD-KroSBL).

    Parameters
    ----------
    dictionaries : sequence of Tensor, shapes (M_d, N_d), real or complex
        Factors of the dictionary ``A = A_1 ⊗ … ⊗ A_D`` (never formed).
    y : Tensor, shape (snapshots..., M_1, ..., M_D) or (snapshots..., ∏M_d)
        Measurements (row-major vectorisation of the tensor form); snapshots
        share the support.
    mstep : {"am", "svd"}
        M-step: alternating minimisation (AM-KroSBL) or successive rank-one SVDs
        (SVD-KroSBL).
    noise_var : float, optional
        Noise variance σ²; learned by EM when omitted.
    max_iter, tol : int, float
        Outer EM iterations; stop when the relative change of ``γ₁ ⊗ … ⊗ γ_D``
        falls below ``tol``.
    prune : float, optional
        Drop per-factor entries with ``γ_d[i] < prune · max γ_d`` (and the
        columns of ``A_d``); default 1e-3 for both M-steps (the authors use
        1e-2 for "am": see the root cause below).
    inner_tol, inner_max_iter : float, int
        Stopping rule of the AM fixed point (relative change of ⊗γ).
    check_every : int
        Check convergence and prune every k iterations (outer and inner).
    svd_warmup : int, optional
        ``mstep="am"`` only: the first ``svd_warmup`` EM iterations use the SVD
        M-step, then the exact AM M-step runs until the stopping rule holds (it
        is not checked during the warm-up); default 10 (0 gives the authors'
        AM-KroSBL from the flat start).
    stop, callbacks, record_objective
        The driver's keyword tail (:func:`~sensekit.solvers.solve`, solver
        :class:`KronSBL`): ``stop`` replaces ``MaxIter(max_iter) | GammaChange(tol)``,
        callbacks ``cb(info, state)`` run at each check (``info`` has ``iter``,
        ``gamma_change``, ``n_active``); ``record_objective`` has no objective to add.

    Returns
    -------
    KronSBLResult
        ``(x, gammas, noise_var, n_iter)``; ``x`` is laid out as ``y`` with
        M_d replaced by N_d.

    Notes
    -----
    Model ``y = (A_1 ⊗ … ⊗ A_D) x + n`` with ``x ~ N(0, diag(γ_1 ⊗ … ⊗ γ_D))``:
    the prior variance itself is Kronecker structured, which fits
    ``x = x_1 ⊗ … ⊗ x_D`` with sparse factors.  Type-II ML by EM:

    * E-step without the big matrices: eigendecompose the small
      ``A_d Γ_d A_dᴴ = U_d P_d U_dᴴ``; then ``σ²I + AΓAᴴ = (⊗U_d)(σ²I + ⊗P_d)(⊗U_d)ᴴ``
      and the posterior mean and the diagonal of the posterior covariance are
      mode products of ``∏M_d``-sized tensors (cost ``O(Σ M_d³ + ∏M · Σ N_d)``
      per iteration instead of ``O((∏M)² ∏N)``).  ``Λ = diag Σ + mean_l |μ_l|²``.
    * M-step: ``min_{γ_d} Σ_n Λ_n/γ_n + log γ_n`` with ``γ = ⊗γ_d``.
      AM: cyclic closed-form updates ``γ_d[i] = mean_{others} Λ / ∏_{e≠d} γ_e``
      until the inner rule holds, then rescale (``γ_d /= ‖γ_d‖`` for d < D,
      the last factor takes the product of the norms).  SVD: ``γ_1 = |u_1|``
      of the leading singular triplet of Λ reshaped to ``N_1 × rest``; repeat on
      ``σ₁|v₁|`` reshaped, the last factor taking the remaining vector.

    AM is the exact EM M-step (block coordinate descent on a function jointly
    convex in ``(log γ_1, …, log γ_D)``, so the inner loop finds the M-step's
    global minimiser); SVD is an approximation that the paper reports to be
    faster and more accurate.

    **Why AM-KroSBL failed here before (NMSE 0.64 on ``benchmarks/core.py``'s
    N=15³, M=(8, 12, 15), K=3, 20 dB case, where SVD reached 3e-4), measured:**
    the M-step was right (its M-step cost was below the SVD fit's at every
    iteration, and a 1e-10 / 2000-step inner loop changed nothing).  Two
    things were wrong around it.  (1) Pruning at ``1e-2 · max γ_d``: γ is a
    *variance*, so that cuts true entries whose amplitude is below 10 % of the
    factor's largest; with Gaussian non-zeros per factor this removed one true
    entry in 2 of the 3 benchmark trials (NMSE 2.6e-3 and 7.9e-3, support
    2 of 3).  (2) From the flat start, exact EM moves the support slowly
    and can settle on the wrong one: the update of ``γ_d[i]`` averages
    ``Λ/∏_{e≠d}γ_e`` over all ``∏_{e≠d}N_e`` index combinations, more than
    95 % of which are off the other factors' support, where the posterior
    repeats the prior (ratio ≈ the current ``γ_d[i]``) or, at tiny
    ``∏γ_e``, amplifies noise; so true and false entries of a factor separate
    by only a few per cent per iteration (with prune 1e-3 nothing was pruned
    in 150 iterations), and in the third trial a wrong entry won (NMSE 1.9,
    type-II cost −13175 against −13314 at the SVD solution: a worse
    stationary point of the same likelihood, not a modelling error).  The fix:
    a short SVD warm-up (``svd_warmup``, which finds the support in ~10
    iterations) followed by exact AM EM to its own stopping rule, and prune
    1e-3 for both M-steps.  On 8 such trials AM then lands within 1.1× of
    SVD's NMSE (in the failing trial at a slightly lower type-II cost than
    SVD's, −13313.95 vs −13313.61), where the flat
    start gave 2.1e-3–1.6 (``svd_warmup=0``).

    References
    ----------
    Y. He, G. Joseph, "Bayesian algorithms for Kronecker-structured sparse
    vector recovery with application to IRS-MIMO channel estimation", IEEE
    Trans. Signal Process. (arXiv:2307.14719); authors' MATLAB code
    YanbinHe/JournalKroSBL (read for the algorithm; not copied).

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(1)
    >>> A = [torch.randn(8, 12, dtype=torch.float64, generator=g) / 8 ** 0.5 for _ in range(3)]
    >>> xs = [torch.zeros(12, dtype=torch.float64) for _ in range(3)]
    >>> for v, idx in zip(xs, ([1, 7], [0, 4], [3, 11])):
    ...     v[idx] = torch.tensor([1.0, -2.0], dtype=torch.float64)
    >>> X = torch.einsum('i,j,k->ijk', *xs)
    >>> Y = sk.linop.Kron(A)(X)
    >>> res = sk.solvers.kron_sbl(A, Y + 1e-3 * torch.randn(Y.shape, dtype=torch.float64, generator=g),
    ...                           noise_var=1e-6)
    >>> float((res.x - X).norm() / X.norm()) < 1e-2
    True
    """
    _check_common(noise_var, max_iter, 0.0 if tol is None else tol, 0.0 if prune is None else prune, check_every)
    problem = KronSBLProblem.build(dictionaries, y, noise_var)
    solver = KronSBL(mstep=mstep, max_iter=max_iter, tol=tol, prune=prune, inner_tol=inner_tol,
                     inner_max_iter=inner_max_iter, prune_every=check_every, svd_warmup=svd_warmup)
    res = solve(solver, problem, stop=stop, callbacks=callbacks, check_every=check_every,
                record_objective=record_objective)
    s = res.state
    s2 = float(s.s2)
    nsz = tuple(int(m.shape[1]) for m in problem.mats)
    x = solver.posterior(problem, s)
    x = x.reshape(*problem.snap_shape, math.prod(nsz)) if problem.flat else x.reshape(*problem.snap_shape, *nsz)
    full = [torch.zeros(n, dtype=g.dtype, device=g.device).index_copy(0, a, g)
            for n, a, g in zip(nsz, s.active, s.gammas)]
    return KronSBLResult(x=x, gammas=full, noise_var=s2, n_iter=res.iterations)
