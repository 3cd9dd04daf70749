"""Sparse recovery: orthogonal matching pursuit, tensor OMP, sparse Bayesian learning.

:func:`omp` and :func:`tensor_omp` live here; :func:`sbl` and :func:`kron_sbl`
(sparse Bayesian learning, plain and Kronecker-structured) live in
:mod:`sensekit.solvers.bayes` and are re-exported.
"""
from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple, Sequence

import torch

from ..linop.tensor import multi_mode_dot
from .base import AnyOf, MaxIter, Stop, solve
from .bayes import SBLResult, KronSBLResult, sbl, kron_sbl

__all__ = ["omp", "tensor_omp", "TensorOMPResult", "sbl", "kron_sbl", "SBLResult", "KronSBLResult",
           "OMP", "OMPProblem", "TensorOMP", "TensorOMPProblem", "AllConverged"]


class AllConverged(Stop):
    """Greedy pursuits: stop once every item's residual is at most ``tol · ‖y‖`` (``info["n_open"] == 0``)."""

    def check(self, info):
        return "residual<=tol for every item" if info.get("n_open") == 0 else None

    def __repr__(self):
        return "AllConverged()"


def _greedy_stop(n, tol):
    return MaxIter(n) | AllConverged() if tol > 0 else MaxIter(n)


def _common_dtype(*ts):
    cplx = any(t.is_complex() for t in ts)
    dt = ts[0].dtype
    if cplx and not dt.is_complex:
        dt = {torch.float32: torch.complex64, torch.float64: torch.complex128}.get(dt, torch.complex64)
    return dt


@dataclasses.dataclass(frozen=True)
class OMPProblem:
    """``y ≈ A x`` with ``x`` k-sparse; build with :meth:`build` (dtype promotion, batching)."""

    A: torch.Tensor          #: (M, N)
    Y: torch.Tensor          #: (B, L, M): B independent items of L vectors sharing a support
    joint: bool
    batch: tuple
    cn2: torch.Tensor        #: (N,) squared column norms (1 for zero columns)

    @classmethod
    def build(cls, A, y, n_atoms=None, joint=False):
        """Validate and promote; returns ``(problem, k)`` with ``k`` the number of atoms (default min(M, N))."""
        if A.ndim != 2:
            raise ValueError(f"omp: A must be a matrix (M, N), got shape {tuple(A.shape)}")
        M, N = A.shape
        need = 2 if joint else 1
        if y.ndim < need or y.shape[-1] != M:
            raise ValueError(f"omp: y of shape {tuple(y.shape)} does not match A with {M} rows")
        k = min(M, N) if n_atoms is None else int(n_atoms)
        if not 1 <= k <= min(M, N):
            raise ValueError(f"omp: n_atoms must be in 1..{min(M, N)}, got {k}")
        dt = _common_dtype(y, A)
        A, y = A.to(dt), y.to(dt)
        batch = tuple(y.shape[:-2] if joint else y.shape[:-1])
        Y = y.reshape(-1, y.shape[-2] if joint else 1, M)
        cn = torch.linalg.vector_norm(A, dim=0)
        cn = torch.where(cn > 0, cn, torch.ones_like(cn))
        return cls(A=A, Y=Y, joint=bool(joint), batch=batch, cn2=cn ** 2), k


class _ScatteredX:
    """The ``x`` field of :class:`OMPState`: given, or scattered from ``coef`` on the first read (a step does not
    pay for it when no check reads it; the value is the same either way)."""

    def __get__(self, obj, objtype=None):
        if obj is None:
            return None             # the field's default: build on first read
        x = obj.__dict__.get("_x")
        if x is None:
            B, s, L = obj.coef.shape
            x = torch.zeros(B, L, obj.n, dtype=obj.coef.dtype, device=obj.coef.device)
            if s:
                x = x.scatter_add(2, obj.support[:, None, :].expand(B, L, s), obj.coef.mT)
            obj.__dict__["_x"] = x
        return x

    def __set__(self, obj, value):
        obj.__dict__["_x"] = value


@dataclasses.dataclass(frozen=True)
class OMPState:
    support: torch.Tensor    #: (B, s) selected atoms, in order
    coef: torch.Tensor       #: (B, s, L)
    R: torch.Tensor          #: (B, L, M) residuals
    done: torch.Tensor       #: (B,) items frozen by the tolerance
    n: int                   #: N, the number of atoms of the dictionary
    x: torch.Tensor = _ScatteredX()   #: (B, L, N) current coefficients (built from support/coef when read)


class OMP:
    """Orthogonal matching pursuit as an init/step solver (one atom per step); see :func:`omp`.

    Default stop ``MaxIter(n_atoms)`` (``| AllConverged()`` when ``tol > 0``); a caller's stop is
    combined with ``MaxIter(n_atoms)``.
    """

    def __init__(self, n_atoms: int, *, tol: float = 0.0):
        self.n_atoms, self.tol = int(n_atoms), float(tol)

    def default_stop(self):
        return _greedy_stop(self.n_atoms, self.tol)

    def guard_stop(self, stop):
        return AnyOf(MaxIter(self.n_atoms), stop)

    def init(self, problem: OMPProblem, x0=None):
        A, Y = problem.A, problem.Y
        B, L, _ = Y.shape
        dev, dt = A.device, A.dtype
        return OMPState(support=torch.empty(B, 0, dtype=torch.long, device=dev),
                        coef=torch.zeros(B, 0, L, dtype=dt, device=dev), R=Y,
                        done=torch.zeros(B, dtype=torch.bool, device=dev), n=A.shape[1])

    def step(self, problem: OMPProblem, s: OMPState) -> OMPState:
        A, Y = problem.A, problem.Y
        B, L, _ = Y.shape
        score = (torch.abs(s.R @ A.conj()) ** 2).sum(-2) / problem.cn2  # (B, N)
        if s.support.shape[1]:
            score = score.scatter(1, s.support, -1.0)
        support = torch.cat([s.support, score.argmax(dim=1, keepdim=True)], dim=1)
        As = A.mT[support].mT                                          # (B, M, s)
        new = torch.linalg.lstsq(As, Y.mT).solution                     # (B, s, L)
        old = torch.cat([s.coef, new.new_zeros(B, 1, L)], dim=1)
        coef = torch.where(s.done[:, None, None], old, new)
        R = torch.where(s.done[:, None, None], s.R, Y - (As @ coef).mT)
        done = s.done
        if self.tol > 0:
            ynorm = torch.linalg.vector_norm(Y, dim=(-2, -1))
            done = done | (torch.linalg.vector_norm(R, dim=(-2, -1)) <= self.tol * ynorm)
        return OMPState(support=support, coef=coef, R=R, done=done, n=s.n)

    def measure(self, problem, state, prev):
        yn = torch.clamp(torch.linalg.vector_norm(problem.Y, dim=(-2, -1)), min=torch.finfo(state.R.real.dtype).tiny)
        rel = torch.linalg.vector_norm(state.R, dim=(-2, -1)) / yn
        return {"residual": float(rel.max()), "n_open": int((~state.done).sum())}

    def objective(self, problem, state):
        return float((torch.abs(state.R) ** 2).sum())


def omp(A: torch.Tensor, y: torch.Tensor, n_atoms: int | None = None, *, tol: float = 0.0,
        joint: bool = False, stop: Stop | None = None, callbacks=(), check_every: int | None = None,
        record_objective: bool = False) -> torch.Tensor:
    """Orthogonal matching pursuit, batched over independent problems.

    Parameters
    ----------
    A : Tensor, shape (M, N), real or complex
        Dictionary (columns need not be normalised).
    y : Tensor, shape (batch..., M), or (batch..., L, M) with ``joint=True``
        Measurements.  Each batch item is an independent problem with its own
        support; with ``joint=True`` the L vectors of an item share one support
        (simultaneous OMP for multiple measurement vectors).
    n_atoms : int, optional
        Number of atoms to select (the sparsity); default ``min(M, N)``.
    tol : float
        Stop an item early once ``‖residual‖ ≤ tol · ‖y‖`` (its solution is
        frozen while the others go on).  A positive ``tol`` costs one host
        synchronisation per selected atom; ``tol = 0`` none.
    joint : bool
        Shared support across the second-to-last axis of ``y``.
    stop, callbacks, check_every, record_objective
        The driver's keyword tail (:func:`~sensekit.solvers.solve`, solver :class:`OMP`; one
        iteration = one atom): ``stop`` is combined with ``MaxIter(n_atoms)`` (never more atoms);
        callbacks ``cb(info, state)`` see ``iter``, ``residual`` (largest ‖r‖/‖y‖ over items) and
        ``n_open``; ``check_every`` defaults to 1 when ``tol > 0`` and to ``n_atoms`` (a single check,
        no host synchronisation before the end) otherwise; the objective is ``Σ‖r‖²``.

    Returns
    -------
    x : Tensor, shape (batch..., N) or (batch..., L, N)
        Sparse coefficients; dtype of ``y`` (complex if either input is).

    Notes
    -----
    Greedy approximation of ``min ‖y − A x‖₂ s.t. ‖x‖₀ ≤ k``: at each step
    pick the atom most correlated with the residual,
    ``j = argmax_n Σ_l |a_nᴴ r_l|² / ‖a_n‖²``, then refit the coefficients on
    all selected atoms by least squares (so the residual stays orthogonal to
    them).  Exact recovery of every k-sparse vector is guaranteed when the
    mutual coherence satisfies ``μ(A) < 1/(2k − 1)`` (Tropp 2004); random
    Gaussian dictionaries with ``M ≳ 2k log N`` succeed with high
    probability.

    References
    ----------
    Y. C. Pati, R. Rezaiifar, P. S. Krishnaprasad, "Orthogonal matching
    pursuit: recursive function approximation with applications to wavelet
    decomposition", Asilomar 1993.  J. A. Tropp, A. C. Gilbert, M. J. Strauss,
    "Algorithms for simultaneous sparse approximation. Part I: Greedy
    pursuit", Signal Processing 86(3):572–588, 2006.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(0)
    >>> A = torch.randn(30, 80, dtype=torch.float64, generator=g)
    >>> x = torch.zeros(80, dtype=torch.float64)
    >>> x[[3, 17, 60]] = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    >>> torch.allclose(sk.solvers.omp(A, A @ x, 3), x)
    True
    """
    problem, k = OMPProblem.build(A, y, n_atoms, joint)
    if check_every is None:
        check_every = 1 if tol > 0 else k
    res = solve(OMP(k, tol=tol), problem, stop=stop, callbacks=callbacks, check_every=check_every,
                record_objective=record_objective)
    x, L, N = res.state.x, problem.Y.shape[1], problem.A.shape[1]
    return x.reshape(*problem.batch, L, N) if joint else x.reshape(*problem.batch, N)


class TensorOMPResult(NamedTuple):
    """What :func:`tensor_omp` returns."""

    indices: torch.Tensor   #: (P, D) long: the selected atom of each mode, in selection order
    coef: torch.Tensor      #: (snapshots..., P): core entries at the selected index tuples
    core: torch.Tensor      #: (snapshots..., N_1, ..., N_D): zero outside the selected index grid
    residual: torch.Tensor  #: (snapshots..., M_1, ..., M_D)


@dataclasses.dataclass(frozen=True)
class TensorOMPProblem:
    """``Y ≈ core ×_d D_d`` with few index tuples; build with :meth:`build`."""

    Y: torch.Tensor
    mats: tuple
    norms2: torch.Tensor     #: (N_1, ..., N_D) ∏‖d‖² of every atom

    @classmethod
    def build(cls, Y, dictionaries, n_atoms):
        """Validate and promote; returns ``(problem, P)``."""
        mats = list(dictionaries)
        d = len(mats)
        if Y.ndim < d or any(m.ndim != 2 or m.shape[0] != Y.shape[Y.ndim - d + i] for i, m in enumerate(mats)):
            raise ValueError(f"tensor_omp: dictionaries {[tuple(m.shape) for m in mats]} do not match the "
                             f"trailing dims of Y {tuple(Y.shape)}")
        P = int(n_atoms)
        sizes = [m.shape[1] for m in mats]
        if not 1 <= P <= math.prod(sizes):
            raise ValueError(f"tensor_omp: n_atoms must be in 1..{math.prod(sizes)}, got {P}")
        dt = _common_dtype(Y, *mats)
        Y = Y.to(dt)
        mats = [m.to(dt) for m in mats]
        norms2 = None
        for m in mats:
            n2 = torch.linalg.vector_norm(m, dim=0) ** 2
            n2 = torch.where(n2 > 0, n2, torch.ones_like(n2))
            norms2 = n2 if norms2 is None else (norms2.unsqueeze(-1) * n2).reshape(*norms2.shape, -1)
        return cls(Y=Y, mats=tuple(mats), norms2=norms2.reshape(sizes)), P


@dataclasses.dataclass(frozen=True)
class TensorOMPState:
    x: torch.Tensor          #: core (snapshots..., N_1, ..., N_D), zero outside the selected grid
    R: torch.Tensor          #: residual
    masks: tuple             #: per-mode selected columns
    taken: torch.Tensor      #: (∏N,) selected index tuples
    picked: tuple            #: (D,) index tensors, in selection order
    done: bool | torch.Tensor


class TensorOMP:
    """Tensor OMP as an init/step solver (one index tuple per step); see :func:`tensor_omp`."""

    def __init__(self, n_atoms: int, *, tol: float = 0.0):
        self.n_atoms, self.tol = int(n_atoms), float(tol)

    def default_stop(self):
        return _greedy_stop(self.n_atoms, self.tol)

    def guard_stop(self, stop):
        return AnyOf(MaxIter(self.n_atoms), stop)

    def init(self, problem: TensorOMPProblem, x0=None):
        Y, dev = problem.Y, problem.Y.device
        sizes = problem.norms2.shape
        d = len(problem.mats)
        return TensorOMPState(x=torch.zeros(*Y.shape[:Y.ndim - d], *sizes, dtype=Y.dtype, device=dev), R=Y,
                              masks=tuple(torch.zeros(n, dtype=torch.bool, device=dev) for n in sizes),
                              taken=torch.zeros(math.prod(sizes), dtype=torch.bool, device=dev), picked=(),
                              done=torch.zeros((), dtype=torch.bool, device=dev))

    def step(self, problem: TensorOMPProblem, s: TensorOMPState) -> TensorOMPState:
        Y, mats, norms2 = problem.Y, list(problem.mats), problem.norms2
        d = len(mats)
        snap = tuple(range(Y.ndim - d))
        C = multi_mode_dot(s.R, mats, ndim=d, adjoint=True)
        score = (torch.abs(C) ** 2).sum(dim=snap) / norms2 if snap else torch.abs(C) ** 2 / norms2
        score = torch.where(s.taken, torch.full_like(score.reshape(-1), -1.0), score.reshape(-1))
        flat = score.argmax()
        taken = s.taken.index_fill(0, flat.reshape(1), True)
        idx = torch.stack(torch.unravel_index(flat, tuple(norms2.shape)))
        masks = [mk.index_fill(0, i.reshape(1), True) for mk, i in zip(s.masks, idx)]
        sub = [m * mk.to(m.real.dtype) for m, mk in zip(mats, masks)]
        core = multi_mode_dot(Y, [torch.linalg.pinv(a) for a in sub], ndim=d)
        R = Y - multi_mode_dot(core, sub, ndim=d)
        done = s.done
        if self.tol > 0:
            done = torch.linalg.vector_norm(R) <= self.tol * torch.linalg.vector_norm(Y)
        return TensorOMPState(x=core, R=R, masks=tuple(masks), taken=taken, picked=s.picked + (idx,), done=done)

    def measure(self, problem, state, prev):
        yn = float(torch.linalg.vector_norm(problem.Y))
        r = float(torch.linalg.vector_norm(state.R))
        return {"residual": r / yn if yn > 0 else 0.0, "n_open": 0 if bool(state.done) else 1}

    def objective(self, problem, state):
        return float((torch.abs(state.R) ** 2).sum())


def tensor_omp(Y: torch.Tensor, dictionaries: Sequence[torch.Tensor], n_atoms: int, *,
               tol: float = 0.0, stop: Stop | None = None, callbacks=(), check_every: int | None = None,
               record_objective: bool = False) -> TensorOMPResult:
    """Tensor OMP over a Kronecker-structured dictionary ``D_1 ⊗ … ⊗ D_D``.

    Parameters
    ----------
    Y : Tensor, shape (snapshots..., M_1, ..., M_D), real or complex
        Leading dimensions are snapshots that share the selected atoms (their
        correlations are summed in power).
    dictionaries : sequence of Tensor, shapes (M_d, N_d)
        Per-mode dictionaries (e.g. steering vectors on candidate angles,
        delays, Dopplers).
    n_atoms : int
        Number P of index tuples (paired atoms) to select.
    tol : float
        Stop early once ``‖residual‖ ≤ tol · ‖Y‖`` (one host synchronisation
        per atom when positive).
    stop, callbacks, check_every, record_objective
        The driver's keyword tail (:func:`~sensekit.solvers.solve`, solver :class:`TensorOMP`, one
        iteration = one index tuple), as in :func:`omp`: ``stop`` is combined with
        ``MaxIter(n_atoms)``; ``info`` has ``residual`` (‖R‖/‖Y‖) and ``n_open``; ``check_every``
        defaults to 1 when ``tol > 0`` and to ``n_atoms`` otherwise; the objective is ``‖R‖²``.

    Returns
    -------
    TensorOMPResult
        ``(indices, coef, core, residual)``.

    Notes
    -----
    Greedy model ``Y ≈ Σ_p c_p d_{1,i_p} ∘ d_{2,j_p} ∘ …``.  Each step
    correlates the residual with every atom through mode products with the
    conjugate transposes, ``C = R ×₁ D₁ᴴ ×₂ D₂ᴴ …`` (never forming the
    Kronecker dictionary), selects the index tuple maximising
    ``Σ_snapshots |C|² / ∏‖d‖²``, and refits a Tucker core on the union of
    selected indices per mode, ``B = Y ×₁ D₁,S₁⁺ ×₂ D₂,S₂⁺ …``, updating the
    residual ``R = Y − B ×₁ D₁,S₁ ×₂ D₂,S₂ …``.  The union is held as column
    masks, so shapes never change and nothing is synchronised with the host
    (unless ``tol > 0``).  This is the input-based fusion (pairing) stage of
    PLAIN (Tahir, Svoboda, Rupp).

    References
    ----------
    B. Tahir, P. Svoboda, M. Rupp, "PLAIN: Scalable estimation architecture
    for integrated sensing and communication", arXiv:2503.21242, 2025.
    C. F. Caiafa, A. Cichocki, "Computing sparse representations of
    multidimensional signals using Kronecker bases", Neural Computation
    25(1):186–220, 2013.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(0)
    >>> D = [torch.randn(8, 12, dtype=torch.complex128, generator=g) for _ in range(3)]
    >>> X = torch.zeros(12, 12, 12, dtype=torch.complex128)
    >>> X[1, 2, 3], X[5, 7, 9] = 2.0, 1.0j
    >>> Y = sk.linop.Kron(D)(X)
    >>> res = sk.solvers.tensor_omp(Y, D, 2)
    >>> sorted(map(tuple, res.indices.tolist()))
    [(1, 2, 3), (5, 7, 9)]
    """
    problem, P = TensorOMPProblem.build(Y, dictionaries, n_atoms)
    if check_every is None:
        check_every = 1 if tol > 0 else P
    res = solve(TensorOMP(P, tol=tol), problem, stop=stop, callbacks=callbacks, check_every=check_every,
                record_objective=record_objective)
    s = res.state
    indices = torch.stack(s.picked)
    coef = s.x[(...,) + tuple(indices.T)]
    return TensorOMPResult(indices=indices, coef=coef, core=s.x, residual=s.R)
