"""Matrix sensing measurement operators: y_i = ⟨A_i, X⟩."""
from __future__ import annotations

import torch

from ..core.random import randn
from .base import LinOp, cast_like


class MatrixSensing(LinOp):
    """Linear measurements of a matrix, ``y_i = ⟨A_i, X⟩ = Σ_jk A_i[j, k] X[j, k]``, i = 1..m.

    Acts on ``(*batch, n1, n2)`` and returns ``(*batch, m)``; the adjoint is
    ``Aᴴ(y) = Σ_i conj(A_i) y_i``.  The measurement matrices are one dense
    buffer, so a batch of matrices is one matrix product.

    Parameters
    ----------
    A : Tensor, shape (m, n1, n2), real or complex
        The measurement matrices.

    See Also
    --------
    MatrixSensing.gaussian : i.i.d. Gaussian measurement matrices.
    """

    def __init__(self, A: torch.Tensor):
        A = torch.as_tensor(A)
        if A.ndim != 3:
            raise ValueError(f"MatrixSensing: A must have shape (m, n1, n2), got {tuple(A.shape)}")
        super().__init__(tuple(A.shape[1:]), (A.shape[0],))
        self.register_buffer("A", A, persistent=False)

    @classmethod
    def gaussian(cls, shape, m: int, *, symmetric: bool = False, dtype=torch.float32, device="cpu",
                 generator: torch.Generator | None = None) -> "MatrixSensing":
        """Gaussian sensing: entries of each A_i i.i.d. N(0, 1/m).

        With this scaling ``E‖A(X)‖² = ‖X‖_F²`` (the operator is a near
        isometry on low-rank matrices, the RIP setting).  ``symmetric=True``
        (square shape only) uses ``(G_i + G_iᵀ)/2``, which measures symmetric
        matrices exactly as ``G_i`` does.
        """
        n1, n2 = (shape, shape) if isinstance(shape, int) else tuple(shape)
        if symmetric and n1 != n2:
            raise ValueError("MatrixSensing.gaussian: symmetric sensing needs a square shape")
        G = randn((int(m), n1, n2), dtype=dtype, device=device, generator=generator) / float(m) ** 0.5
        if symmetric:
            G = 0.5 * (G + G.mT)
        return cls(G)

    def _pair(self, x):
        A = cast_like(self.A, x)
        dt = torch.promote_types(A.dtype, x.dtype)
        return x.to(dt), A.to(dt).flatten(1)

    def _forward(self, x):
        x, A = self._pair(x)
        return x.flatten(-2) @ A.T

    def _adjoint(self, y):
        y, A = self._pair(y)
        return (y @ A.conj()).unflatten(-1, self.in_shape)
