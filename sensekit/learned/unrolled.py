"""Unrolled solvers: K iterations of a core solver's ``step`` with learnable step sizes / thresholds.

A core solver (:mod:`sensekit.solvers`) exposes ``init(problem, x0) -> state`` and
``step(problem, state) -> state``; :func:`sensekit.solvers.solve` drives it.  :class:`Unrolled` drives
the *same* ``step`` a fixed number of times, with

* a learnable step size per iteration: ``step_k = σ_k · step_0``, ``step_0`` the step the solver's
  ``init`` chose (``1/L`` for ISTA/FISTA; the solver's ``step=`` when given), ``σ_k`` positive;
* a learnable threshold per iteration: the prox of iteration k is that of ``θ_k · g`` (for
  ``g = L1(λ)``: soft thresholding at ``step_k · θ_k · λ``), ``θ_k`` positive;
* or a pluggable learned denoiser in place of the prox: ``prox(v) = D_k(v, *context)``, one module
  shared by all iterations or one per iteration.

Positivity is by softplus (``σ = softplus(ρ)``; ``positive="exp"`` gives ``σ = exp(ρ)``); every
quantity in the state stays a tensor, so gradients flow to all parameters through every iteration.
With σ_k = θ_k = 1 and no denoiser the iterates are the plain solver's (tested against
:func:`~sensekit.solvers.solve`).  Any :class:`~sensekit.linop.LinOp` works (the problem's data term is
a :class:`~sensekit.solvers.LeastSquares`); :class:`FunctionOp` wraps a ``forward``/``adjoint`` pair of
callables.

Example (LISTA-like unrolled ISTA with 10 learned steps and thresholds)::

    net = Unrolled(iterations=10)                       # ISTA: FISTA(momentum=False)
    x = net(Composite(LeastSquares(A, y), L1(0.05)))    # differentiable in net's parameters
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import torch
from torch import nn

from ..linop.base import LinOp
from ..prox.base import Prox

__all__ = ["Unrolled", "FunctionOp", "inverse_positive"]


def inverse_positive(value: float, positive: str = "softplus") -> float:
    """The raw parameter ρ whose positive map (softplus or exp) is ``value``.

    Parameters
    ----------
    value : float
        Target value (> 0).
    positive : {"softplus", "exp"}
        The map: ``softplus(ρ) = log(1 + e^ρ)`` or ``exp(ρ)``.

    Returns
    -------
    float
    """
    value = float(value)
    if not value > 0:
        raise ValueError(f"a positive parameter needs a value > 0, got {value}")
    if positive == "exp":
        return math.log(value)
    if positive == "softplus":
        return value + math.log(-math.expm1(-value))     # log(e^v − 1), stable for large v
    raise ValueError(f"unknown positive map {positive!r}; expected softplus or exp")


class FunctionOp(LinOp):
    """A linear operator from a ``forward`` / ``adjoint`` pair of callables.

    Parameters
    ----------
    forward : callable
        ``x ↦ A x``.
    adjoint : callable
        ``y ↦ Aᴴ y``.
    in_shape, out_shape : tuple of int
        Trailing shapes (checked; default ``()``: no check, but then the solver needs a given step,
        since the power iteration for ``1/L`` needs the input shape).
    """

    def __init__(self, forward: Callable, adjoint: Callable, in_shape=(), out_shape=()):
        super().__init__(in_shape, out_shape)
        self._fwd, self._adj = forward, adjoint

    def _forward(self, x):
        return self._fwd(x)

    def _adjoint(self, y):
        return self._adj(y)


class _Weighted(Prox):
    """prox of θ·g with θ a (differentiable) 0-d tensor."""

    def __init__(self, g: Prox, theta: torch.Tensor):
        self.g, self.theta = g, theta

    def __call__(self, x):
        return self.theta * self.g(x)

    def prox(self, x, step):
        return self.g.prox(x, self.theta * step)


class _Denoise(Prox):
    """A learned denoiser in place of a prox: ``prox(v, step) = D(v, *context)`` (step unused)."""

    def __init__(self, module: Callable, context: tuple):
        self.module, self.context = module, context

    def __call__(self, x):   # a learned prior has no value
        return torch.zeros((), dtype=x.real.dtype, device=x.device)

    def prox(self, x, step):
        return self.module(x, *self.context)


class Unrolled(nn.Module):
    """``iterations`` steps of a core solver with learnable per-iteration steps / thresholds (module doc).

    Parameters
    ----------
    solver : object, optional
        A core solver with ``init(problem, x0)`` and ``step(problem, state)`` whose state is a dataclass
        holding its step size in the field ``step_field`` and whose step calls ``problem.g.prox`` on a
        :class:`~sensekit.solvers.Composite` problem; default ``FISTA(momentum=False)`` (ISTA).
    iterations : int
        Number of unrolled iterations K.
    step : float
        Initial step multiplier σ_k (1 = the solver's own step).
    threshold : float
        Initial threshold multiplier θ_k (1 = the problem's own ``g``); unused with a denoiser.
    learn_step, learn_threshold : bool
        Make σ_k / θ_k trainable (else fixed buffers).
    denoiser : nn.Module or sequence of nn.Module, optional
        Replaces the prox: one module shared by all iterations, or K modules (one per iteration);
        called as ``denoiser(v, *context)``.
    positive : {"softplus", "exp"}
        The map from the raw parameters to the positive σ_k, θ_k.
    step_field : str
        Name of the step-size field of the solver's state.
    dtype : torch.dtype
        dtype of the raw parameters.
    """

    def __init__(self, solver=None, *, iterations: int, step: float = 1.0, threshold: float = 1.0,
                 learn_step: bool = True, learn_threshold: bool = True,
                 denoiser: nn.Module | Sequence[nn.Module] | None = None, positive: str = "softplus",
                 step_field: str = "step", dtype: torch.dtype = torch.float32):
        super().__init__()
        if int(iterations) < 1:
            raise ValueError(f"Unrolled needs iterations >= 1, got {iterations}")
        if positive not in ("softplus", "exp"):
            raise ValueError(f"unknown positive map {positive!r}; expected softplus or exp")
        if solver is None:
            from ..solvers.fista import FISTA
            solver = FISTA(momentum=False)
        if not (hasattr(solver, "init") and hasattr(solver, "step")):
            raise TypeError(f"Unrolled: {type(solver).__name__} is not a solver (needs init and step)")
        self.solver, self.iterations, self.positive, self.step_field = solver, int(iterations), positive, step_field
        K = self.iterations
        raw_step = torch.full((K,), inverse_positive(step, positive), dtype=dtype)
        if learn_step:
            self.raw_step = nn.Parameter(raw_step)
        else:
            self.register_buffer("raw_step", raw_step)
        if isinstance(denoiser, (list, tuple, nn.ModuleList)):
            if len(denoiser) != K:
                raise ValueError(f"Unrolled: {len(denoiser)} denoisers for {K} iterations")
            self.denoiser = nn.ModuleList(denoiser)
        else:
            self.denoiser = denoiser
        self.raw_threshold = None
        if denoiser is None:
            raw_th = torch.full((K,), inverse_positive(threshold, positive), dtype=dtype)
            if learn_threshold:
                self.raw_threshold = nn.Parameter(raw_th)
            else:
                self.register_buffer("raw_threshold", raw_th)

    def _pos(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.exp(raw) if self.positive == "exp" else nn.functional.softplus(raw)

    def steps(self) -> torch.Tensor:
        """The step multipliers σ_k, shape (K,)."""
        return self._pos(self.raw_step)

    def thresholds(self) -> torch.Tensor | None:
        """The threshold multipliers θ_k, shape (K,) (None with a denoiser)."""
        return None if self.raw_threshold is None else self._pos(self.raw_threshold)

    def _prox(self, g: Prox, k: int, theta, context: tuple) -> Prox:
        if self.denoiser is None:
            return _Weighted(g, theta[k])
        D = self.denoiser[k] if isinstance(self.denoiser, nn.ModuleList) else self.denoiser
        return _Denoise(D, context)

    def forward(self, problem, x0: torch.Tensor | None = None, *, context: tuple = (),
                return_all: bool = False):
        """Run the K unrolled iterations on ``problem``.

        Parameters
        ----------
        problem : Composite
            ``f + g`` with ``f`` a :class:`~sensekit.solvers.LeastSquares` (any linear operator);
            ``g`` is the prox whose threshold is learned (ignored with a denoiser).
        x0 : Tensor, optional
            Starting point (the solver's default otherwise).
        context : tuple
            Extra arguments passed to the denoiser after the iterate (e.g. a mask image).
        return_all : bool
            Return the list of the K iterates instead of the last one.

        Returns
        -------
        Tensor or list of Tensor
        """
        state = self.solver.init(problem, x0)
        base = getattr(state, self.step_field)
        sigma, theta = self.steps(), self.thresholds()
        out = []
        for k in range(self.iterations):
            state = dataclasses.replace(state, **{self.step_field: sigma[k] * base})
            pk = dataclasses.replace(problem, g=self._prox(problem.g, k, theta, context))
            state = self.solver.step(pk, state)
            out.append(state.x)
        return out if return_all else out[-1]
