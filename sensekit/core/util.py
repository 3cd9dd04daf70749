"""Small helpers shared by operators and solvers."""
from __future__ import annotations

import torch


def check_kwargs(name: str, kwargs: dict, allowed) -> None:
    """Raise ``TypeError`` for unknown keyword options (DESIGN.md, principle 5)."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"{name}() got unexpected keyword argument(s) {', '.join(unknown)}; "
                        f"expected some of {', '.join(sorted(allowed))}")


def vdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Inner product ⟨a, b⟩ = Σ conj(a)·b over all entries (a 0-d tensor).

    Returns
    -------
    torch.Tensor
        The 0-d inner product.
    """
    if a.is_complex() or b.is_complex():
        return torch.sum(a.conj() * b)
    return torch.sum(a * b)


def norm(x: torch.Tensor) -> torch.Tensor:
    """Frobenius norm over all entries (real 0-d tensor).

    Returns
    -------
    torch.Tensor
        The 0-d real norm.
    """
    return torch.linalg.vector_norm(x)


def rel_err(x: torch.Tensor, ref: torch.Tensor) -> float:
    """‖x − ref‖ / ‖ref‖ as a Python float.

    Returns
    -------
    float
        The relative error (the denominator clamped away from zero).
    """
    d = torch.linalg.vector_norm(x - ref)
    r = torch.linalg.vector_norm(ref)
    return float(d / torch.clamp(r, min=torch.finfo(r.dtype).tiny))
