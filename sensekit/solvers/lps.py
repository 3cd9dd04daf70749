"""Low-rank plus sparse reconstruction from linear measurements (L+S)."""
from __future__ import annotations

import torch

from ..linop.base import Compose, Identity, LinOp
from ..linop.basic import AxisSum
from ..prox.base import BlockSeparable, Transformed
from ..prox.norms import L1, Nuclear
from .base import solve
from .fista import FISTA
from .problems import Composite, LeastSquares


def lowrank_plus_sparse(A: LinOp, y: torch.Tensor, *, unfold: LinOp, lam_l: float, lam_s: float,
                        sparse_transform: LinOp | None = None, x0: torch.Tensor | None = None,
                        step: float | None = None, momentum: bool = True, max_iter: int = 100,
                        tol: float = 1e-5, stop=None, callbacks=(), check_every: int = 1):
    """Low-rank + sparse decomposition of an unknown seen through ``A`` (Otazo et al. 2015).

    Parameters
    ----------
    A : LinOp
        Forward model on the image ``x = L + S`` (``in_shape`` = image shape).
    y : Tensor, shape ``(*batch, *A.out_shape)``
        Measurements.
    unfold : LinOp, unitary
        Maps an image to the matrix whose nuclear norm is penalised (e.g. the
        Casorati matrix ``Unfold((T, Y, X), mode=0)``).
    lam_l, lam_s : float
        Weights of the nuclear and ℓ1 terms (absolute, in the units of ``y``).
    sparse_transform : LinOp, unitary, optional
        Transform in which S is sparse (e.g. a temporal FFT); identity by default.
    x0 : Tensor, optional
        Initial image (``Aᴴy`` by default); L starts at x0 and S at zero.
    step : float, optional
        Gradient step; ``1 / (2‖A‖²)`` by default (the joint Lipschitz constant).
    momentum : bool
        FISTA acceleration (True) or plain proximal gradient as in Otazo's paper.

    Returns
    -------
    L, S : Tensor, same shape as the image
    result : :class:`~sensekit.solvers.Result` (``result.x`` stacks L and S on axis ``-ndim-1``)

    Notes
    -----
    Solves

    .. math:: \\min_{L,S} \\tfrac12\\|A(L+S) - y\\|_2^2 + λ_L \\|C(L)\\|_* + λ_S \\|T S\\|_1

    by (accelerated) proximal gradient on the stacked variable [L; S]: the
    gradient of the data term is the same for both blocks, L takes a singular
    value thresholding step and S a soft-thresholding step in the T domain.

    References
    ----------
    R. Otazo, E. Candès, D. K. Sodickson, "Low-rank plus sparse matrix
    decomposition for accelerated dynamic MRI with separation of background and
    dynamic components", Magn. Reson. Med. 73:1125–1136, 2015.
    """
    shape = A.in_shape
    k = -len(shape) - 1
    stacked = (2,) + shape
    B = Compose(A, AxisSum(stacked, axis=0))
    T = sparse_transform if sparse_transform is not None else Identity(shape)
    g = BlockSeparable([Transformed(Nuclear(lam_l), unfold), Transformed(L1(lam_s), T)], axis=k)
    f = LeastSquares(B, y)
    if x0 is None:
        x0 = A.H(y)
    z0 = torch.stack([x0, torch.zeros_like(x0)], dim=k)
    if step is None:
        step = 1.0 / f.lipschitz()
    res = solve(FISTA(step=step, momentum=momentum, max_iter=max_iter, tol=tol), Composite(f, g), x0=z0,
                stop=stop, callbacks=callbacks, check_every=check_every)
    return res.x.select(k, 0), res.x.select(k, 1), res
