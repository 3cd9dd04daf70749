"""Sparse recovery: orthogonal matching pursuit, tensor OMP, sparse Bayesian learning.

:func:`omp` and :func:`tensor_omp` live here; :func:`sbl` and :func:`kron_sbl`
(sparse Bayesian learning, plain and Kronecker-structured) live in
:mod:`sensekit.solvers.bayes` and are re-exported.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch

from ..linop.tensor import multi_mode_dot
from .bayes import SBLResult, KronSBLResult, sbl, kron_sbl

__all__ = ["omp", "tensor_omp", "TensorOMPResult", "sbl", "kron_sbl", "SBLResult", "KronSBLResult"]


def _common_dtype(*ts):
    cplx = any(t.is_complex() for t in ts)
    dt = ts[0].dtype
    if cplx and not dt.is_complex:
        dt = {torch.float32: torch.complex64, torch.float64: torch.complex128}.get(dt, torch.complex64)
    return dt


def omp(A: torch.Tensor, y: torch.Tensor, n_atoms: int | None = None, *, tol: float = 0.0,
        joint: bool = False) -> torch.Tensor:
    """Orthogonal matching pursuit, batched over independent problems.

    Parameters
    ----------
    A : Tensor, shape (M, N), real or complex
        Dictionary (columns need not be normalised).
    y : Tensor, shape (*batch, M), or (*batch, L, M) with ``joint=True``
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

    Returns
    -------
    x : Tensor, shape (*batch, N) or (*batch, L, N)
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
    batch = y.shape[:-2] if joint else y.shape[:-1]
    Y = y.reshape(-1, y.shape[-2] if joint else 1, M)               # (B, L, M)
    B = Y.shape[0]
    cn = torch.linalg.vector_norm(A, dim=0)
    cn = torch.where(cn > 0, cn, torch.ones_like(cn))
    At = A.mT                                                       # (N, M): rows are atoms
    ynorm = torch.linalg.vector_norm(Y, dim=(-2, -1))
    R = Y
    support = torch.empty(B, 0, dtype=torch.long, device=A.device)
    coef = torch.zeros(B, 0, Y.shape[1], dtype=dt, device=A.device)
    done = torch.zeros(B, dtype=torch.bool, device=A.device)
    neg = torch.tensor(-1.0, dtype=cn.dtype, device=A.device)
    for _ in range(k):
        score = (torch.abs(R @ A.conj()) ** 2).sum(-2) / cn ** 2     # (B, N)
        if support.shape[1]:
            score = score.scatter(1, support, neg.expand(B, support.shape[1]))
        support = torch.cat([support, score.argmax(dim=1, keepdim=True)], dim=1)
        As = At[support].mT                                        # (B, M, s)
        new = torch.linalg.lstsq(As, Y.mT).solution                 # (B, s, L)
        old = torch.cat([coef, new.new_zeros(B, 1, Y.shape[1])], dim=1)
        coef = torch.where(done[:, None, None], old, new)
        R = torch.where(done[:, None, None], R, Y - (As @ coef).mT)
        if tol > 0:
            done = done | (torch.linalg.vector_norm(R, dim=(-2, -1)) <= tol * ynorm)
            if bool(done.all()):
                break
    x = torch.zeros(B, Y.shape[1], N, dtype=dt, device=A.device)
    x = x.scatter_add(2, support[:, None, :].expand(B, Y.shape[1], support.shape[1]), coef.mT)
    return x.reshape(*batch, Y.shape[1], N) if joint else x.reshape(*batch, N)


class TensorOMPResult(NamedTuple):
    """What :func:`tensor_omp` returns."""

    indices: torch.Tensor   #: (P, D) long: the selected atom of each mode, in selection order
    coef: torch.Tensor      #: (*snapshots, P): core entries at the selected index tuples
    core: torch.Tensor      #: (*snapshots, N_1, ..., N_D): zero outside the selected index grid
    residual: torch.Tensor  #: (*snapshots, M_1, ..., M_D)


def tensor_omp(Y: torch.Tensor, dictionaries: Sequence[torch.Tensor], n_atoms: int, *,
               tol: float = 0.0) -> TensorOMPResult:
    """Tensor OMP over a Kronecker-structured dictionary ``D_1 ⊗ … ⊗ D_D``.

    Parameters
    ----------
    Y : Tensor, shape (*snapshots, M_1, ..., M_D), real or complex
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
    dev = Y.device
    snap = tuple(range(Y.ndim - d))
    norms2 = None
    for m in mats:
        n2 = torch.linalg.vector_norm(m, dim=0) ** 2
        n2 = torch.where(n2 > 0, n2, torch.ones_like(n2))
        norms2 = n2 if norms2 is None else (norms2.unsqueeze(-1) * n2).reshape(*norms2.shape, -1)
    norms2 = norms2.reshape(sizes)
    masks = [torch.zeros(n, dtype=torch.bool, device=dev) for n in sizes]
    taken = torch.zeros(math.prod(sizes), dtype=torch.bool, device=dev)
    ynorm = torch.linalg.vector_norm(Y)
    R, picked = Y, []
    for _ in range(P):
        C = multi_mode_dot(R, mats, ndim=d, adjoint=True)
        score = (torch.abs(C) ** 2).sum(dim=snap) / norms2 if snap else torch.abs(C) ** 2 / norms2
        score = torch.where(taken, torch.full_like(score.reshape(-1), -1.0), score.reshape(-1))
        flat = score.argmax()
        taken = taken.index_fill(0, flat.reshape(1), True)
        idx = torch.stack(torch.unravel_index(flat, tuple(sizes)))
        picked.append(idx)
        masks = [mk.index_fill(0, i.reshape(1), True) for mk, i in zip(masks, idx)]
        sub = [m * mk.to(m.real.dtype) for m, mk in zip(mats, masks)]
        core = multi_mode_dot(Y, [torch.linalg.pinv(s) for s in sub], ndim=d)
        R = Y - multi_mode_dot(core, sub, ndim=d)
        if tol > 0 and bool(torch.linalg.vector_norm(R) <= tol * ynorm):
            break
    indices = torch.stack(picked)
    coef = core[(...,) + tuple(indices.T)]
    return TensorOMPResult(indices=indices, coef=coef, core=core, residual=R)
