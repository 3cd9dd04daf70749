"""Tensor decompositions: HOSVD, truncated HOSVD, Tucker by HOOI, CP by ALS.

Real or complex tensors on any device; results follow the input's device and
dtype.  The unfolding / vectorisation conventions are those of
:mod:`sensekit.linop.tensor` (row-major; Khatri–Rao with the first factor as
the slowest index).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import torch

from ..core.random import randn
from ..linop.tensor import khatri_rao, mode_dot, multi_mode_dot, unfold
from .base import MaxIter, Stop, _Threshold, solve


class FitChange(_Threshold):
    """Stop when the solver's fit measure changed by less than ``tol`` since its previous check
    (Tucker: explained energy ``‖core‖²/‖T‖²``; CP: ``1 − ‖T − T̂‖/‖T‖``)."""

    key = "fit_change"


def _fit_stop(max_iter, tol):
    s = MaxIter(max_iter)
    return s if not tol else s | FitChange(tol)


def _is_check(k, every, max_iter):
    return k % every == 0 or k >= max_iter



def _as_axes(T: torch.Tensor, axes) -> list:
    if axes is None:
        return list(range(T.ndim))
    axes = [int(a) % T.ndim for a in ([axes] if isinstance(axes, int) else axes)]
    if len(set(axes)) != len(axes):
        raise ValueError(f"axes {axes} contain duplicates")
    return axes


def _as_ranks(T: torch.Tensor, ranks, axes: list, name: str) -> list:
    if isinstance(ranks, int):
        ranks = [ranks] * len(axes)
    ranks = [int(r) for r in ranks]
    if len(ranks) != len(axes):
        raise ValueError(f"{name}: {len(ranks)} ranks given for {len(axes)} modes")
    for r, a in zip(ranks, axes):
        if not 1 <= r <= T.shape[a]:
            raise ValueError(f"{name}: rank {r} for mode {a} of size {T.shape[a]} must be in 1..{T.shape[a]}")
    return ranks


def _leading_left(M: torch.Tensor, r: int | None) -> torch.Tensor:
    U = torch.linalg.svd(M, full_matrices=False)[0]
    return U if r is None else U[..., :r]


def tucker_to_tensor(core: torch.Tensor, factors: Sequence[torch.Tensor], *, axes=None) -> torch.Tensor:
    """Rebuild ``core ×_{a_1} U_1 ×_{a_2} U_2 …`` (``axes`` default: all modes in order).

    Parameters
    ----------
    core : Tensor, shape (R_1, ..., R_D) (with untouched modes kept), real or complex
    factors : sequence of Tensor, shapes (I_d, R_d)
    axes : sequence of int, optional
        The modes the factors act on, as passed to :func:`tucker`.

    Returns
    -------
    torch.Tensor
        The full tensor.
    """
    return multi_mode_dot(core, factors, modes=_as_axes(core, axes))


def hosvd(T: torch.Tensor, ranks=None, *, axes=None):
    """Higher-order SVD (De Lathauwer et al. 2000), full or truncated.

    Parameters
    ----------
    T : Tensor, shape (I_1, ..., I_D), real or complex
    ranks : int or sequence of int, optional
        Multilinear ranks kept per decomposed mode; all singular vectors
        (``min(I_n, ∏_{m≠n} I_m)``) when omitted, which makes the
        decomposition exact.
    axes : sequence of int, optional
        Modes to decompose (default all); the other modes are left as they are
        in the core (e.g. a snapshot mode).

    Returns
    -------
    core : Tensor, shape (R_1, ..., R_D), same dtype as ``T``
    factors : list of Tensor, shapes (I_n, R_n), orthonormal columns

    Notes
    -----
    ``U_n`` = leading left singular vectors of the unfolding ``T_(n)``;
    ``core = T ×₁ U₁ᴴ ×₂ U₂ᴴ … ×_D U_Dᴴ`` and ``T ≈ core ×₁ U₁ … ×_D U_D``.
    Truncation is quasi-optimal: its error is at most ``√D`` times the best
    multilinear-rank approximation error.

    References
    ----------
    L. De Lathauwer, B. De Moor, J. Vandewalle, "A multilinear singular value
    decomposition", SIAM J. Matrix Anal. Appl. 21(4):1253–1278, 2000.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> T = torch.randn(3, 4, 5, dtype=torch.float64)
    >>> core, factors = sk.solvers.hosvd(T)
    >>> torch.allclose(sk.solvers.tucker_to_tensor(core, factors), T)
    True
    """
    axes = _as_axes(T, axes)
    ranks = [None] * len(axes) if ranks is None else _as_ranks(T, ranks, axes, "hosvd")
    factors = [_leading_left(unfold(T, a), r) for a, r in zip(axes, ranks)]
    core = multi_mode_dot(T, factors, modes=axes, adjoint=True)
    return core, factors


def truncated_hosvd(T: torch.Tensor, ranks, *, axes=None):
    """Truncated HOSVD: :func:`hosvd` keeping ``ranks`` singular vectors per mode.

    Returns
    -------
    tuple[torch.Tensor, list[torch.Tensor]]
        The core and the factor matrices (see :func:`hosvd`).

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(0)
    >>> U = [torch.linalg.qr(torch.randn(n, 2, dtype=torch.float64, generator=g))[0] for n in (6, 7, 8)]
    >>> T = sk.solvers.tucker_to_tensor(torch.randn(2, 2, 2, dtype=torch.float64, generator=g), U)
    >>> core, factors = sk.solvers.truncated_hosvd(T, (2, 2, 2))
    >>> torch.allclose(sk.solvers.tucker_to_tensor(core, factors), T)
    True
    """
    return hosvd(T, ranks, axes=axes)


@dataclasses.dataclass(frozen=True)
class TuckerProblem:
    """Decompose ``T`` with multilinear ranks ``ranks`` over ``axes`` (None: all modes)."""

    T: torch.Tensor
    ranks: object
    axes: object = None


@dataclasses.dataclass(frozen=True)
class HOOIState:
    x: torch.Tensor          #: core
    factors: tuple
    energy: torch.Tensor     #: ‖core‖² / ‖T‖² (0-d, on the device)
    ref: torch.Tensor        #: the energy at the previous check
    change: torch.Tensor | None  #: |energy − ref| at a check, None between checks
    k: int
    tnorm2: torch.Tensor     #: ‖T‖² (clamped away from 0)


class HOOI:
    """Higher-order orthogonal iteration as an init/step solver (see :func:`tucker`).

    ``init`` is the truncated HOSVD, ``step`` one sweep over the modes.  The fit change is formed
    every ``check_every`` sweeps against the previous check (as :func:`tucker` does).
    """

    def __init__(self, *, tol: float = 1e-10, max_iter: int = 100, check_every: int = 1):
        self.tol, self.max_iter, self.check_every = tol, int(max_iter), max(1, int(check_every))

    def default_stop(self):
        return _fit_stop(self.max_iter, self.tol)

    def _prep(self, problem):
        axes = _as_axes(problem.T, problem.axes)
        return axes, _as_ranks(problem.T, problem.ranks, axes, "tucker")

    def init(self, problem: TuckerProblem, x0=None):
        T = problem.T
        axes, ranks = self._prep(problem)
        core, factors = hosvd(T, ranks, axes=axes)
        tnorm2 = torch.linalg.vector_norm(T) ** 2
        tnorm2 = torch.clamp(tnorm2, min=torch.finfo(tnorm2.dtype).tiny)
        e = torch.linalg.vector_norm(core) ** 2 / tnorm2
        return HOOIState(x=core, factors=tuple(factors), energy=e, ref=e, change=None, k=0, tnorm2=tnorm2)

    def step(self, problem: TuckerProblem, s: HOOIState) -> HOOIState:
        T = problem.T
        axes, ranks = self._prep(problem)
        factors = list(s.factors)
        for i, (a, r) in enumerate(zip(axes, ranks)):
            others = [None if j == i else U for j, U in enumerate(factors)]
            Y = multi_mode_dot(T, others, modes=axes, adjoint=True)
            factors[i] = _leading_left(unfold(Y, a), r)
        core = mode_dot(Y, factors[-1].mH, axes[-1])
        e = torch.linalg.vector_norm(core) ** 2 / s.tnorm2
        k = s.k + 1
        if _is_check(k, self.check_every, self.max_iter):
            return HOOIState(x=core, factors=tuple(factors), energy=e, ref=e, change=torch.abs(e - s.ref), k=k,
                             tnorm2=s.tnorm2)
        return HOOIState(x=core, factors=tuple(factors), energy=e, ref=s.ref, change=None, k=k, tnorm2=s.tnorm2)

    def measure(self, problem, state, prev):
        out = {"energy": float(state.energy)}
        if state.change is not None:
            out["fit_change"] = float(state.change)
        return out

    def objective(self, problem, state):
        return math.sqrt(max(0.0, 1.0 - float(state.energy)))


def tucker(T: torch.Tensor, ranks, *, tol: float = 1e-10, max_iter: int = 100, axes=None,
           check_every: int = 1, stop: Stop | None = None, callbacks=(), record_objective: bool = False):
    """Tucker decomposition by higher-order orthogonal iteration (HOOI).

    Parameters
    ----------
    T : Tensor, shape (I_1, ..., I_D), real or complex
    ranks : int or sequence of int
        Multilinear ranks ``(R_1, …, R_D)`` of the decomposed modes.
    tol : float
        Stop when the explained energy ``‖core‖² / ‖T‖²`` (= 1 − relative
        squared error) changes by less than ``tol`` between checks.
    max_iter : int
        Maximum number of sweeps over the modes.
    axes : sequence of int, optional
        Modes to decompose (default all); the others are kept uncompressed
        and the factors are shared along them (partial Tucker, e.g. over
        snapshots).
    check_every : int
        Evaluate the stopping rule every k sweeps (each check synchronises
        a CUDA device with the host once).
    stop, callbacks, record_objective
        The driver's keyword tail (:func:`~sensekit.solvers.solve`, solver :class:`HOOI`; problem
        :class:`TuckerProblem`): ``stop`` replaces ``MaxIter(max_iter) | FitChange(tol)``; callbacks
        ``cb(info, state)`` see ``iter``, ``energy`` and ``fit_change`` at each check; the objective is
        the relative error ``‖T − T̂‖/‖T‖ = √(1 − energy)``.

    Returns
    -------
    core : Tensor, shape (R_1, ..., R_D)
    factors : list of Tensor, shapes (I_n, R_n), orthonormal columns

    Notes
    -----
    Solves ``max_{U_n: U_nᴴU_n = I} ‖T ×₁ U₁ᴴ … ×_D U_Dᴴ‖_F``, equivalently
    ``min ‖T − core ×₁ U₁ … ×_D U_D‖_F`` with ``core = T ×_n U_nᴴ``.  Starts
    from the truncated HOSVD; each sweep sets, for every mode n, ``U_n`` to the
    ``R_n`` leading left singular vectors of ``(T ×_{m≠n} U_mᴴ)_(n)``.  The
    explained energy increases monotonically.

    References
    ----------
    L. De Lathauwer, B. De Moor, J. Vandewalle, "On the best rank-1 and
    rank-(R1, R2, ..., RN) approximation of higher-order tensors", SIAM J.
    Matrix Anal. Appl. 21(4):1324–1342, 2000.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(0)
    >>> U = [torch.linalg.qr(torch.randn(n, 2, dtype=torch.complex128, generator=g))[0] for n in (6, 7, 8)]
    >>> T = sk.solvers.tucker_to_tensor(torch.randn(2, 2, 2, dtype=torch.complex128, generator=g), U)
    >>> core, factors = sk.solvers.tucker(T, (2, 2, 2))
    >>> float((sk.solvers.tucker_to_tensor(core, factors) - T).norm() / T.norm()) < 1e-12
    True
    """
    res = solve(HOOI(tol=tol, max_iter=max_iter, check_every=check_every), TuckerProblem(T, ranks, axes),
                stop=stop, callbacks=callbacks, check_every=check_every, record_objective=record_objective)
    return res.state.x, list(res.state.factors)


# ----------------------------------------------------------------------------- CP
def cp_to_tensor(weights: torch.Tensor, factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Rebuild ``Σ_r w_r a_{1,r} ∘ a_{2,r} ∘ … ∘ a_{D,r}``.

    Parameters
    ----------
    weights : Tensor, shape (R,), real
    factors : sequence of Tensor, shapes (I_d, R), real or complex

    Returns
    -------
    Tensor, shape (I_1, ..., I_D)
    """
    shape = [f.shape[0] for f in factors]
    dt = factors[0].dtype
    if len(factors) == 1:
        return factors[0] @ weights.to(dt)
    lead = factors[0] * weights.to(dt)
    return (lead @ khatri_rao(list(factors[1:])).mT).reshape(shape)


def _mttkrp(T, factors, n):
    """``T_(n) · conj(⊙_{m≠n} A_m)`` without unfolding (copying) ``T``.

    ``T`` is viewed as ``(P, I_n, Q)`` (modes before / after n); one GEMM
    contracts the trailing modes with their Khatri–Rao product, an
    elementwise product and a sum contract the leading ones.
    """
    conj = [f.conj() if f.is_complex() else f for f in factors]
    P = math.prod(T.shape[:n])
    Q = math.prod(T.shape[n + 1:])
    W = T.reshape(P, T.shape[n], Q)
    if Q == 1:  # last mode: one GEMM, arranged so that T is read in its memory order
        return (khatri_rao(conj[:n]).mT @ W[:, :, 0]).mT
    W = W @ khatri_rao(conj[n + 1:])                           # (P, I_n, R)
    if P > 1:
        return (W * khatri_rao(conj[:n]).unsqueeze(1)).sum(0)
    return W[0]


def _cp_init(T, rank, init, generator):
    if isinstance(init, (list, tuple)):
        if len(init) != T.ndim or any(tuple(f.shape) != (T.shape[i], rank) for i, f in enumerate(init)):
            raise ValueError(f"cp_als: init factors must have shapes {[(s, rank) for s in T.shape]}")
        return [f.to(dtype=T.dtype) if f.dtype != T.dtype else f for f in init]
    if init not in ("svd", "random"):
        raise ValueError(f"cp_als: init must be 'svd', 'random' or a list of factors, got {init!r}")
    factors = []
    for n, size in enumerate(T.shape):
        if init == "svd":
            U = _leading_left(unfold(T, n), min(rank, size))
            if rank > size:  # more components than the mode has dimensions: pad with random columns
                extra = randn((size, rank - size), dtype=T.dtype, device=T.device, generator=generator)
                U = torch.cat([U, extra], dim=1)
        else:
            U = randn((size, rank), dtype=T.dtype, device=T.device, generator=generator)
        factors.append(U)
    return factors


def _cp_error(T, tnorm, weights, factors, grams, mt_last):
    """‖T − T̂‖ from Gram matrices and the last MTTKRP (no reconstruction) while the
    error is large; by an exact reconstruction once cancellation could matter."""
    w = weights.to(grams[0].dtype)
    G = grams[0]
    for g in grams[1:]:
        G = G * g
    model2 = (w.conj() @ G @ w).real
    inner = (w * (factors[-1].conj() * mt_last).sum(0)).sum().real
    err2 = torch.clamp(tnorm ** 2 - 2 * inner + model2, min=0.0)
    # err² carries an absolute rounding error ~ eps‖T‖²: trust it only while err² ≥ √eps ‖T‖²
    # (err ≥ 1.2e-4‖T‖ in float64), where the error of err stays far below any sensible tol
    if float(err2) > torch.finfo(err2.dtype).eps ** 0.5 * float(tnorm) ** 2:
        return torch.sqrt(err2)
    return torch.linalg.vector_norm(T - cp_to_tensor(weights, factors))


@dataclasses.dataclass(frozen=True)
class CPProblem:
    """Rank-``rank`` CP decomposition of ``T``; ``init`` and ``generator`` as in :func:`cp_als`."""

    T: torch.Tensor
    rank: int
    init: object = "svd"
    generator: torch.Generator | None = None


@dataclasses.dataclass(frozen=True)
class CPALSState:
    x: torch.Tensor          #: weights (R,) (the driver's change and NaN/Inf checks look at them: cheap)
    factors: tuple           #: (I_n, R), unit-norm columns
    grams: tuple
    fit: float | None        #: 1 − ‖T − T̂‖/‖T‖ at the last check (None before the first)
    change: float | None     #: |fit − previous fit| at a check, None otherwise
    k: int
    tnorm: torch.Tensor      #: ‖T‖


class CPALS:
    """CP by alternating least squares as an init/step solver (see :func:`cp_als`).

    ``step`` is one sweep over the modes; every ``check_every`` sweeps (and at ``max_iter``) it
    evaluates the fit (one host synchronisation) and its change since the previous check.
    """

    def __init__(self, *, tol: float = 1e-10, max_iter: int = 500, check_every: int = 1):
        self.tol, self.max_iter, self.check_every = tol, int(max_iter), max(1, int(check_every))

    def default_stop(self):
        return _fit_stop(self.max_iter, self.tol)

    def init(self, problem: CPProblem, x0=None):
        T, rank = problem.T, int(problem.rank)
        if rank < 1:
            raise ValueError(f"cp_als: rank must be >= 1, got {rank}")
        if T.ndim < 2:
            raise ValueError(f"cp_als: needs a tensor with at least 2 modes, got shape {tuple(T.shape)}")
        factors = _cp_init(T, rank, problem.init if x0 is None else x0, problem.generator)
        rdt = T.real.dtype if T.is_complex() else T.dtype
        return CPALSState(x=torch.ones(rank, dtype=rdt, device=T.device), factors=tuple(factors),
                          grams=tuple(A.mH @ A for A in factors), fit=None, change=None, k=0,
                          tnorm=torch.linalg.vector_norm(T))

    def step(self, problem: CPProblem, s: CPALSState) -> CPALSState:
        T = problem.T
        tiny = torch.finfo(s.x.dtype).tiny
        factors, grams, weights = list(s.factors), list(s.grams), s.x
        for n in range(T.ndim):
            W = torch.ones_like(grams[0])
            for m in range(T.ndim):
                if m != n:
                    W = W * grams[m]
            W = W.conj() if W.is_complex() else W
            mt = _mttkrp(T, factors, n)
            A = mt @ torch.linalg.pinv(W, hermitian=True)
            weights = torch.linalg.vector_norm(A, dim=0)
            A = A / torch.clamp(weights, min=tiny).to(A.dtype)
            factors[n] = A
            grams[n] = A.mH @ A
        k = s.k + 1
        fit, change = s.fit, None
        if _is_check(k, self.check_every, self.max_iter):
            err = _cp_error(T, s.tnorm, weights, factors, grams, mt) / torch.clamp(s.tnorm, min=tiny)
            new = 1.0 - float(err)
            change = abs(new - fit) if fit is not None else None
            fit = new
        return CPALSState(x=weights, factors=tuple(factors), grams=tuple(grams), fit=fit, change=change, k=k,
                          tnorm=s.tnorm)

    def measure(self, problem, state, prev):
        out = {"fit": state.fit}
        if state.change is not None:
            out["fit_change"] = state.change
        return out

    def objective(self, problem, state):  # relative error ‖T − T̂‖/‖T‖ (one reconstruction)
        T = problem.T
        return float(torch.linalg.vector_norm(T - cp_to_tensor(state.x, state.factors))
                     / torch.clamp(torch.linalg.vector_norm(T), min=torch.finfo(state.x.dtype).tiny))


def cp_als(T: torch.Tensor, rank: int, *, tol: float = 1e-10, max_iter: int = 500,
           generator: torch.Generator | None = None, init="svd", check_every: int = 1, stop: Stop | None = None,
           callbacks=(), record_objective: bool = False):
    """Canonical polyadic (CP / PARAFAC) decomposition by alternating least squares.

    Parameters
    ----------
    T : Tensor, shape (I_1, ..., I_D), real or complex
    rank : int
        Number of rank-one components R.
    tol : float
        Stop when the relative fit ``1 − ‖T − T̂‖/‖T‖`` changes by less than
        ``tol`` between checks.
    max_iter : int
        Maximum number of ALS sweeps.
    generator : torch.Generator, optional
        Random draws of the initialisation (``init="random"``, or the extra
        columns of the SVD initialisation when ``rank > I_n``).
    init : {"svd", "random"} or list of Tensor
        ``"svd"``: leading left singular vectors of each unfolding (HOSVD
        initialisation); ``"random"``: Gaussian factors; or explicit factors of
        shapes ``(I_n, R)``.
    check_every : int
        Evaluate the fit every k sweeps (each check costs one reconstruction
        and one host synchronisation).
    stop, callbacks, record_objective
        The driver's keyword tail (:func:`~sensekit.solvers.solve`, solver :class:`CPALS`; problem
        :class:`CPProblem`): ``stop`` replaces ``MaxIter(max_iter) | FitChange(tol)`` (the first check
        never stops: it has no previous fit); callbacks ``cb(info, state)`` see ``iter``, ``fit`` and
        ``fit_change``; the objective is the relative error ``‖T − T̂‖/‖T‖``.

    Returns
    -------
    weights : Tensor, shape (R,), real, non-negative, sorted in decreasing order
    factors : list of Tensor, shapes (I_n, R), columns of unit ℓ2 norm, dtype of ``T``

    Notes
    -----
    Solves ``min_{w, A_n} ‖T − Σ_r w_r a_{1,r} ∘ … ∘ a_{D,r}‖_F`` (no
    conjugation in the model, so complex factors are estimated as they are).
    Each sweep solves, for n = 1..D, the linear least-squares problem in
    ``A_n`` with the others fixed:
    ``A_n = T_(n) conj(K_n) · pinv(conj(⊛_{m≠n} A_mᴴA_m))`` (⊛ the Hadamard
    product) where ``K_n = ⊙_{m≠n} A_m`` (Khatri–Rao); the product
    ``T_(n) conj(K_n)`` (MTTKRP) is computed on reshaped views of ``T``
    without unfolding copies.  The fit is evaluated from the Gram matrices
    while the squared relative error exceeds √eps (1.2e-4 relative error
    in float64) and by an exact reconstruction below, where the cancellation in ``‖T‖² − 2Re⟨T, T̂⟩ + ‖T̂‖²`` would
    otherwise hide fit changes of order ``tol``.  After each update
    the columns of ``A_n`` are normalised and their norms become the weights.
    The CP model is unique only up to permutation and scaling of the
    components (Kruskal's condition).

    References
    ----------
    J. D. Carroll, J.-J. Chang, "Analysis of individual differences in
    multidimensional scaling via an N-way generalization of Eckart–Young
    decomposition", Psychometrika 35:283–319, 1970.  R. A. Harshman,
    "Foundations of the PARAFAC procedure", UCLA Working Papers in Phonetics
    16, 1970.  T. G. Kolda, B. W. Bader, "Tensor decompositions and
    applications", SIAM Review 51(3):455–500, 2009.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(0)
    >>> A = [torch.randn(n, 2, dtype=torch.complex128, generator=g) for n in (5, 6, 7)]
    >>> T = sk.solvers.cp_to_tensor(torch.ones(2, dtype=torch.float64), A)
    >>> w, f = sk.solvers.cp_als(T, 2)
    >>> float((sk.solvers.cp_to_tensor(w, f) - T).norm() / T.norm()) < 1e-8
    True
    """
    res = solve(CPALS(tol=tol, max_iter=max_iter, check_every=check_every), CPProblem(T, rank, init, generator),
                stop=stop, callbacks=callbacks, check_every=check_every, record_objective=record_objective)
    weights, factors = res.state.x, list(res.state.factors)
    order = torch.argsort(weights, descending=True)
    return weights[order], [A[:, order] for A in factors]
