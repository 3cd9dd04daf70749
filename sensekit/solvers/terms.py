"""Builders of regularisation terms ``(g, K)`` for :class:`~sensekit.solvers.PrimalDual` problems.

A term is a pair of a proximal function ``g`` and a linear operator ``K``; the
penalty is ``g(K x)``.  These builders spell the common imaging priors once, so
that apps compose them instead of re-deriving operators and norms:

>>> import sensekit as sk
>>> shape = (8, 32, 32)                                   # (T, Y, X)
>>> terms = [sk.solvers.tv_term(shape, 0.01, axes=(-2, -1)),          # isotropic spatial TV
...          sk.solvers.tv_term(shape, 0.02, axes=(-3,)),             # temporal TV
...          sk.solvers.nuclear_term(shape, 0.1, axis=-3)]            # Casorati nuclear norm
>>> [type(g).__name__ for g, _ in terms]
['L21', 'L1', 'Nuclear']
"""
from __future__ import annotations

from ..linop.base import Compose, Identity, LinOp
from ..linop.basic import Select
from ..linop.diff import FiniteDiff
from ..linop.tensor import Unfold
from ..prox.lowrank import LocallyLowRank
from ..prox.norms import L1, L21, Nuclear, SchattenP


def tv_term(shape, lam: float, *, axes=(-2, -1), isotropic: bool = True, boundary: str = "neumann"):
    """Total variation along ``axes`` of an array of trailing shape ``shape``.

    Parameters
    ----------
    shape : tuple of int
        The image shape, e.g. ``(T, Y, X)``.
    lam : float
        Weight.
    axes : tuple of int
        Axes of ``shape`` to differentiate (``(-2, -1)`` spatial, ``(-3,)`` temporal on (T, Y, X)).
    isotropic : bool
        ``lam · Σ_n ‖(∇x)_n‖₂`` over the gradient components (isotropic), or
        ``lam · ‖∇x‖₁`` (anisotropic).  Identical for one axis.
    boundary : {"neumann", "periodic"}
        Boundary of the forward differences (see :class:`~sensekit.linop.FiniteDiff`).

    Returns
    -------
    (g, K) : (Prox, FiniteDiff) with ``‖K‖² ≤ 4·len(axes)``.

    Notes
    -----
    Penalty: ``TV(x) = lam · Σ_n sqrt(Σ_{a ∈ axes} |x[n + e_a] − x[n]|²)`` (isotropic).

    References
    ----------
    L. Rudin, S. Osher, E. Fatemi, "Nonlinear total variation based noise
    removal algorithms", Physica D 60:259–268, 1992.
    """
    D = FiniteDiff(shape, axes=axes, boundary=boundary)
    if isotropic and len(D.axes) > 1:
        return L21(lam, axes=(-len(D.in_shape) - 1,)), D
    return L1(lam), D


def nuclear_term(shape, lam: float, *, axis: int, p: float = 1.0):
    """Nuclear norm (or Schatten-p penalty) of the mode-``axis`` unfolding of ``shape``.

    ``axis=-3`` on ``(T, Y, X)`` gives the Casorati matrix (frames × pixels);
    ``axis=-1`` the ``X × (T·Y)`` unfolding.  The unfolding is unitary, so
    PDHG's dual step is exact singular value clipping.

    Returns
    -------
    (g, K) : (Nuclear or SchattenP, Unfold)
    """
    U = Unfold(shape, mode=axis)
    return (Nuclear(lam) if p == 1 else SchattenP(lam, p)), U


def llr_term(shape, lam: float, *, block=8, shift="random", generator=None):
    """Locally low rank: nuclear norms of the Casorati matrices of the spatial blocks of ``shape`` (..., T, Y, X).

    The operator is the identity, so PDHG's dual step is the Moreau complement of
    block-wise singular value thresholding (:class:`~sensekit.prox.LocallyLowRank`).
    With ``shift="random"`` the block grid moves at every call of the prox (random
    block shifts, Trzasko & Manduca 2011), so the penalty changes from step to step.

    Parameters
    ----------
    shape : tuple of int
        The image-series shape, e.g. ``(T, Y, X)``.
    lam : float
        Weight of the sum of block nuclear norms.
    block : int or (int, int)
        Block side(s).
    shift : "random", None or (int, int)
        Grid offset (see :class:`~sensekit.prox.LocallyLowRank`).
    generator : torch.Generator, optional
        Source of the random offsets.

    Returns
    -------
    tuple[LocallyLowRank, Identity]
        The ``(prox, operator)`` term.
    """
    return LocallyLowRank(lam, block=block, shift=shift, generator=generator), Identity(tuple(shape))


def sparse_term(lam, transform: LinOp):
    """ℓ1 norm of ``transform(x)`` (``lam`` a float or per-coefficient weights).

    Returns
    -------
    tuple[L1, LinOp]
        The ``(prox, transform)`` term.
    """
    return L1(lam), transform


def on_block(term, stacked_shape, index: int, *, axis: int = 0):
    """Let a term act on one block of a stacked variable: ``g(K(x.select(axis, index)))``.

    Returns
    -------
    tuple
        The ``(prox, operator)`` term on the stacked variable.
    """
    g, K = term
    S = Select(stacked_shape, axis=axis, index=index)
    if S.out_shape != K.in_shape:
        raise ValueError(f"on_block: block shape {S.out_shape} differs from the term's input {K.in_shape}")
    return g, Compose(K, S)


__all__ = ["tv_term", "nuclear_term", "llr_term", "sparse_term", "on_block"]
