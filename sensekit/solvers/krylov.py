"""The conjugate-gradient recursion on a callable, without a driver (inner solves of other solvers).

It depends on nothing else in :mod:`sensekit.solvers`, so that problems (``LeastSquares.normal_solve``)
and solvers (``CG``, ``HQS``) can all import it without a cycle.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from ..core.util import vdot


@dataclasses.dataclass(frozen=True)
class CGState:
    x: torch.Tensor
    r: torch.Tensor
    p: torch.Tensor
    rs: torch.Tensor       # ⟨r, r⟩ (0-d, real)
    bnorm2: torch.Tensor   # ‖b‖² (0-d, real)


def _cg_step(A: Callable, s: CGState) -> CGState:
    Ap = A(s.p)
    pAp = vdot(s.p, Ap).real
    tiny = torch.finfo(pAp.dtype).tiny
    alpha = s.rs / torch.clamp(pAp, min=tiny)
    alpha = torch.where(s.rs > 0, alpha, torch.zeros_like(alpha))  # converged exactly: stay put
    x = s.x + alpha.to(s.x.dtype) * s.p
    r = s.r - alpha.to(s.r.dtype) * Ap
    rs = vdot(r, r).real
    beta = rs / torch.clamp(s.rs, min=tiny)
    p = r + beta.to(r.dtype) * s.p
    return CGState(x=x, r=r, p=p, rs=rs, bnorm2=s.bnorm2)


def cg_iterate(A: Callable, b: torch.Tensor, *, x0=None, max_iter: int = 20, tol: float = 0.0,
               check_every: int = 5) -> torch.Tensor:
    """A few CG steps on a callable ``A`` with no driver (inner solves).

    Stops early only when ``tol > 0``, testing ‖r‖ ≤ tol·‖b‖ every
    ``check_every`` steps: each test is one host synchronisation, so a CUDA
    inner solve does not stall on every step.  A converged iterate stays put
    (the step length is zero once the residual vanishes).

    Returns
    -------
    torch.Tensor
        The approximate solution.
    """
    x = torch.zeros_like(b) if x0 is None else x0
    r = b - A(x) if x0 is not None else b.clone()
    s = CGState(x=x, r=r, p=r, rs=vdot(r, r).real, bnorm2=vdot(b, b).real)
    check_every = max(1, int(check_every))
    for k in range(1, max_iter + 1):
        s = _cg_step(A, s)
        if tol > 0 and k % check_every == 0 and k < max_iter and bool(s.rs <= tol ** 2 * s.bnorm2):
            break
    return s.x
