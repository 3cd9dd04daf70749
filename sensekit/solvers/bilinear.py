"""Blind gain calibration: unknown positive sensor gains and an unknown signal from random projections.

Model (the gain-calib contract): for snapshot ``l = 1..p`` and sensor ``i = 1..m``

    y[l, i] = d[i] · ⟨a[l, i], x⟩ (+ noise),      A: (p, m, n), y: (p, m), d > 0 (m), x (n)

with a scale ambiguity ``(d, x) → (d / c, c x)`` that every solver here removes by returning
``mean(d) = 1``.  Complex data (complex sensing, gains and signal) are accepted by every solver: the
gradients are then Wirtinger gradients, the pgd gain set is ``{mean(γ) = 1, |γ_i − 1| ≤ ρ}`` (projection
by Dykstra's algorithm), the lsq/spectral scale is fixed by the complex mean of ``1/s``.
Optional subspace priors: ``x = B z`` (``signal_basis`` B, n × k) and ``d = C e``
(``gain_basis`` C, m × h); the bases need not be orthonormal (they are orthonormalised here).

Solvers
-------
:class:`GainPGD` (``method="pgd"``)
    Cambareri & Jacques, "Through the Haze" (arXiv 1610.09028): projected gradient descent on
    ``f(ξ, γ) = 1/(2mp) Σ_l ‖diag(γ) A_l ξ − y_l‖²`` from the back-projection initialisation
    ``ξ₀ = 1/(mp) Σ_l A_lᵀ y_l``, ``γ₀ = 1``; the gain step is projected on ``1⊥`` (keeps
    ``Σγ = m``) and the gains onto ``{Σγ = m, ‖γ − 1‖∞ ≤ ρ}`` (exact Euclidean projection by
    bisection); step sizes ``μ_ξ = μ / (1 + √(n/(mp)))²``, ``μ_γ = μ_ξ m / ‖ξ₀‖²`` (the paper's
    ratio μ_γ/μ_ξ = m/‖ξ₀‖²; the normalisation of μ by the Gaussian bound on the curvature of the
    signal block, so that μ = 1 is stable at every oversampling, is chosen here: with the plain
    μ_ξ = 1 the iteration diverged in our tests for n/(mp) ≥ 0.1).  Default μ = 0.7: with μ = 1
    the iteration fell into a 2-cycle on some instances (1 of 8 at n = 64, m = 64, p = 6; one at
    n = m = 64, p = 12), μ = 0.7 converged on all 48 instances of our scan, μ = 0.5 too at 1.4× the
    iterations.  What could not be verified in the
    paper's text (PAPERS.md, 2nd pass: the gain set, the initialisation, the step ratio) is
    implemented as recalled there and tested (tests/apps/gain_calib).  With a gain basis the
    gains move in ``span(C)`` along the gradient projected on ``{e: 1ᵀCe = const}`` and the box
    is kept by halving the gain step (the exact projection onto ``span(C) ∩ box`` is not a closed
    form; chosen here, "reconstructed").  ``accel="linesearch"`` (an option, not the paper's
    iteration) takes the exact minimiser of f along the projected-gradient direction (a quartic
    in the step) instead of the fixed steps; ``accel="cg"`` (an option too) adds Polak–Ribière+
    conjugate directions (preconditioned by the paper's step ratio, restarted every 50 steps, after
    an active projection and whenever the direction is not a descent one) with the same exact step.
:func:`gain_lsq` (``method="lsq"``)
    Ling & Strohmer, "Self-calibration and bilinear inverse problems via linear least squares"
    (arXiv 1611.04196), Model 1 (repeated measurements): with ``s = 1/d``,
    ``diag(s) y_l − A_l x = 0`` is linear in ``(s, x)``.  The trivial solution is removed by
    fixing ``s_r = 1`` for one reference sensor (``w = e_r`` in the paper's ``⟨w, z⟩ = c``; here r
    = the sensor with the largest measurement energy), the remaining inhomogeneous least-squares
    problem is solved by CGLS on the column-equilibrated system, then ``d = 1/s`` is rescaled to
    ``mean(d) = 1`` (the normalisation).  A signal basis keeps the system linear (x = Bz); a
    gain basis does not (span(C) of d is not a subspace of 1/d), so the lsq/spectral methods
    refuse one unless told to ignore it.
:func:`gain_spectral` (``method="spectral"``)
    The spectral variant: the right singular vector of the smallest singular value of the
    column-equilibrated homogeneous matrix ``[diag(y_l)  −A_l]_l`` (Lanczos with full
    re-orthogonalisation on its Gram operator, matrix-free), sign fixed so that ``Σ s > 0`` and
    scale fixed by ``mean(1/s) = 1``.  The "noise-robust normalisation" is reconstructed as the
    equilibration (unit columns, so the noise on the ``y`` columns does not weight sensors by
    their gains) plus the mean normalisation (instead of a single fixed entry).
:func:`gain_backprojection` (``method="init"``)
    The PGD initialisation alone (``ξ₀``, ``γ = 1``): a baseline, not a recovery method.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from .base import MaxIter, RelChange, solve


# ------------------------------------------------------------------------------------------------ problem
@dataclasses.dataclass
class GainCalProblem:
    """Sensing stack ``A`` (p, m, n), measurements ``y`` (p, m), optional bases (n, k) and (m, h)."""

    A: torch.Tensor
    y: torch.Tensor
    signal_basis: torch.Tensor | None = None
    gain_basis: torch.Tensor | None = None

    def __post_init__(self):
        if self.A.ndim != 3 or self.y.shape != self.A.shape[:2]:
            raise ValueError(f"expected A (p, m, n) and y (p, m); got {tuple(self.A.shape)}, {tuple(self.y.shape)}")
        dt = torch.promote_types(self.A.dtype, self.y.dtype)          # complex gains: everything complex
        self.A, self.y = self.A.to(dt), self.y.to(dt)

    @property
    def shape(self):
        return tuple(self.A.shape)

    def forward(self, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        p, m, n = self.A.shape
        return d[None, :] * (self.A.reshape(p * m, n) @ x).reshape(p, m)


def orthobasis(B: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of span(B) (thin QR; columns that add nothing are dropped).

    Returns
    -------
    torch.Tensor
        The orthonormal columns spanning ``span(B)``.
    """
    Q, R = torch.linalg.qr(B)
    diag = R.diagonal().abs()
    keep = diag > 1e-10 * float(diag.max())
    return Q[:, keep]


def normalise(d: torch.Tensor, x: torch.Tensor):
    """``(d / mean(d), x · mean(d))``: the same measurements, gains of mean 1.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor]
        The rescaled gains (mean 1) and signal.
    """
    c = d.mean()
    return d / c, x * c


def _hi(t: torch.Tensor) -> torch.Tensor:
    """float64 / complex128 (keeps complex values complex)."""
    return t.to(torch.complex128) if t.is_complex() else t.double()


def _rdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Re⟨a, b⟩ (conjugating a), real and complex alike."""
    return torch.vdot(a, b).real if a.is_complex() or b.is_complex() else a @ b


def rel_errors(d: torch.Tensor, x: torch.Tensor, d_ref: torch.Tensor, x_ref: torch.Tensor) -> dict:
    """Relative errors of gains and signal after the mean(gains) = 1 normalisation of both pairs.

    Returns
    -------
    dict
        ``{"rel_err_gains": ..., "rel_err_signal": ...}``.
    """
    d, x = normalise(_hi(d), _hi(x))
    d_ref, x_ref = normalise(_hi(d_ref), _hi(x_ref))
    return {"rel_err_gains": float(torch.linalg.vector_norm(d - d_ref) / torch.linalg.vector_norm(d_ref)),
            "rel_err_signal": float(torch.linalg.vector_norm(x - x_ref) / torch.linalg.vector_norm(x_ref))}


def project_box_mean(v: torch.Tensor, rho: float, total: float | None = None, iters: int = 100) -> torch.Tensor:
    """Euclidean projection of ``v`` onto ``{Σγ = total, 1 − ρ ≤ γ ≤ 1 + ρ}`` (``total`` = len(v)).

    The projection is ``clip(v − t, 1 − ρ, 1 + ρ)`` with the scalar ``t`` found by bisection.

    Returns
    -------
    torch.Tensor
        The projection, shaped like ``v``.
    """
    m = v.shape[0]
    total = float(m if total is None else total)
    lo_b, hi_b = 1.0 - rho, 1.0 + rho
    lo = float(v.min()) - hi_b
    hi = float(v.max()) - lo_b
    for _ in range(iters):
        t = 0.5 * (lo + hi)
        if float((v - t).clamp(lo_b, hi_b).sum()) > total:
            lo = t
        else:
            hi = t
    return (v - 0.5 * (lo + hi)).clamp(lo_b, hi_b)


def project_disc_mean(v: torch.Tensor, rho: float, iters: int = 200, tol: float = 1e-13) -> torch.Tensor:
    """Projection of complex ``v`` onto ``{mean(γ) = 1, |γ_i − 1| ≤ ρ}`` by Dykstra's alternating projections
    (the hyperplane and the product of discs; converges to the Euclidean projection onto the intersection).

    Returns
    -------
    torch.Tensor
        The projection, shaped like ``v``.
    """
    x, pa, pb = v.clone(), torch.zeros_like(v), torch.zeros_like(v)
    for _ in range(iters):
        yv = x + pa
        y = yv - (yv.mean() - 1)                                      # hyperplane mean = 1
        pa = yv - y
        zv = y + pb
        dev = zv - 1
        mag = dev.abs()
        z = 1 + dev * torch.where(mag > rho, rho / mag.clamp_min(1e-300), torch.ones_like(mag))
        pb = zv - z
        if float(torch.linalg.vector_norm(z - x)) <= tol * float(torch.linalg.vector_norm(z)):
            x = z
            break
        x = z
    return x - (x.mean() - 1)


# ------------------------------------------------------------------------------------------------ pgd
#: pgd step rules: the paper's fixed steps, an exact line search along the projected gradient, nonlinear CG
ACCELS = ("none", "linesearch", "cg")
#: accel="cg": restart with the (preconditioned) gradient every this many steps
CG_RESTART = 50


@dataclasses.dataclass
class PGDState:
    z: torch.Tensor          # signal coefficients (k) or the signal (n)
    e: torch.Tensor          # gain coefficients (h) or the gains (m)
    x: tuple                 # (signal (n), gains (m)): what the driver's rel_change sees
    mu_x: float
    mu_g: float
    r_prev: torch.Tensor | None = None   # the residual at the previous iterate (computed by the step anyway)
    cg: tuple | None = None              # accel="cg": (gradient, direction, <g, Mg>, steps since restart)


class GainPGD:
    """Projected gradient descent of Cambareri & Jacques for blind gain calibration (see the module doc).

    Parameters
    ----------
    mu : the step constant μ (μ_ξ = μ / (1 + √(k/(mp)))², μ_γ = μ_ξ m / ‖ξ₀‖², k = n or dim of the signal basis).
    rho : the gain set's bound ‖γ − 1‖∞ ≤ ρ (< 1 keeps the gains positive).
    accel : ``"none"`` (the paper's fixed steps) or ``"linesearch"`` (exact step along the
        projected-gradient direction; an option beyond the paper).
    max_iter, tol : default stop ``MaxIter(max_iter) | RelChange(tol)``.
    """

    def __init__(self, *, mu: float = 0.7, rho: float = 0.99, accel: str = "none", max_iter: int = 2000,
                 tol: float = 1e-10):
        if accel not in ACCELS:
            raise ValueError(f"accel must be one of {', '.join(ACCELS)}, got {accel!r}")
        self.mu, self.rho, self.accel = float(mu), float(rho), accel
        self.max_iter, self.tol = int(max_iter), float(tol)
        self._cache = None

    def default_stop(self):
        return MaxIter(self.max_iter) | RelChange(self.tol) if self.tol > 0 else MaxIter(self.max_iter)

    # the (possibly reduced) operators, computed once per problem
    def _ops(self, pr: GainCalProblem):
        if self._cache is not None and self._cache[0] is pr:
            return self._cache[1]
        p, m, n = pr.A.shape
        A2 = pr.A.reshape(p * m, n)
        B = orthobasis(pr.signal_basis.to(A2)) if pr.signal_basis is not None else None
        AB = A2 @ B if B is not None else A2                         # (pm, k): the signal prior reduces the work
        C = orthobasis(pr.gain_basis.to(A2)) if pr.gain_basis is not None else None
        v = C.mH @ torch.ones(m, dtype=A2.dtype, device=A2.device) if C is not None else None
        ops = {"AB": AB, "B": B, "C": C, "v": v, "p": p, "m": m}
        self._cache = (pr, ops)
        return ops

    def _full(self, ops, z, e):
        x = ops["B"] @ z if ops["B"] is not None else z
        d = ops["C"] @ e if ops["C"] is not None else e
        return x, d

    def init(self, problem: GainCalProblem, x0=None):
        ops = self._ops(problem)
        p, m = ops["p"], ops["m"]
        yv = problem.y.reshape(-1).to(ops["AB"])
        if x0 is not None:
            xs, ds = x0
            z = ops["B"].mH @ xs if ops["B"] is not None else xs.clone()
            e = ops["C"].mH @ ds if ops["C"] is not None else ds.clone()
        else:
            z = (ops["AB"].mH @ yv) / (m * p)                         # back-projection ξ₀
            if ops["C"] is not None:
                v = ops["v"]
                e = v * (m / float(_rdot(v, v)))          # least-norm e with 1ᵀCe = m (C e = 1 if 1 ∈ span C)
            else:
                e = torch.ones(m, dtype=yv.dtype, device=yv.device)   # γ₀ = 1
        nz2 = float(_rdot(z, z))
        if nz2 == 0:
            raise ValueError("the back-projection of the measurements is zero: nothing to calibrate")
        x, d = self._full(ops, z, e)
        mu_x = self.mu / (1.0 + math.sqrt(ops["AB"].shape[1] / (m * p))) ** 2
        return PGDState(z=z, e=e, x=(x, d), mu_x=mu_x, mu_g=mu_x * m / nz2)

    def _grads(self, ops, yv, z, e):
        m, p = ops["m"], ops["p"]
        d = ops["C"] @ e if ops["C"] is not None else e
        u = ops["AB"] @ z                                             # A_l ξ, all l: (pm,)
        r = (d * u.view(p, m)).reshape(-1) - yv
        gz = (ops["AB"].mH @ (d.conj() * r.view(p, m)).reshape(-1)) / (m * p)
        gd = (u.conj() * r).view(p, m).sum(0) / (m * p)              # (Wirtinger gradients when complex)
        if ops["C"] is not None:
            ge = ops["C"].mH @ gd
            v = ops["v"]
            ge = ge - v * (torch.vdot(v, ge) / torch.vdot(v, v))      # keep 1ᵀCe fixed
        else:
            ge = gd - gd.mean()                                       # P_{1⊥}
        return gz, ge, u, r

    def step(self, problem: GainCalProblem, s: PGDState) -> PGDState:
        ops = self._ops(problem)
        yv = problem.y.reshape(-1).to(ops["AB"])
        gz, ge, u, r = self._grads(ops, yv, s.z, s.e)
        dz, de = s.mu_x * gz, s.mu_g * ge
        t = 1.0
        cg_state = None
        if self.accel == "linesearch":
            t = self._exact_step(ops, s, u, r, dz, de)
        elif self.accel == "cg":
            # Polak–Ribière+ with the preconditioner M = diag(μ_ξ, μ_γ): β = ⟨Mg, g − g_prev⟩ / ⟨Mg_prev, g_prev⟩
            gmg = float(_rdot(dz, gz) + _rdot(de, ge))
            beta, k = 0.0, 0
            if s.cg is not None:
                (pgz, pge), (pdz, pde), pgmg, k = s.cg
                beta = max(0.0, float(_rdot(dz, gz - pgz) + _rdot(de, ge - pge)) / max(pgmg, 1e-300))
                if k >= CG_RESTART:
                    beta, k = 0.0, 0
                if beta > 0:
                    ndz, nde = dz + beta * pdz, de + beta * pde
                    if float(_rdot(ndz, gz) + _rdot(nde, ge)) > 0:    # still a descent direction
                        dz, de = ndz, nde
                    else:
                        beta, k = 0.0, 0
            t = self._exact_step(ops, s, u, r, dz, de)
            cg_state = ((gz, ge), (dz, de), gmg, k + 1)
        z = s.z - t * dz
        e = s.e - t * de
        z = s.z - t * dz
        e = s.e - t * de
        if ops["C"] is None:
            if float((e - 1).abs().max()) > self.rho:
                e = project_disc_mean(e, self.rho) if e.is_complex() else project_box_mean(e, self.rho)
                cg_state = None                                       # the projection breaks conjugacy: restart
        else:
            for _ in range(60):                                       # halve the gain step to stay in the box
                if float((ops["C"] @ e - 1).abs().max()) <= self.rho:
                    break
                de = de * 0.5
                e = s.e - t * de
                cg_state = None                                       # a shortened step: restart cg
            else:
                e = s.e
        x, d = self._full(ops, z, e)
        return PGDState(z=z, e=e, x=(x, d), mu_x=s.mu_x, mu_g=s.mu_g, r_prev=r, cg=cg_state)

    def _exact_step(self, ops, s, u, r, dz, de):
        """argmin_t f(z − t dz, e − t de): r(t) = r − t (Δd·u + d·Δu) + t² Δd·Δu, a quartic in t."""
        p = ops["p"]
        d = ops["C"] @ s.e if ops["C"] is not None else s.e
        ddel = ops["C"] @ de if ops["C"] is not None else de
        du = ops["AB"] @ dz
        m = d.shape[0]
        b = (ddel * u.view(p, m) + d * du.view(p, m)).reshape(-1)
        c = (ddel * du.view(p, m)).reshape(-1)
        # f(t) ∝ ‖r − t b + t² c‖²; f'(t)/2 = 2⟨c,c⟩t³ − 3⟨b,c⟩t² + (⟨b,b⟩ + 2⟨r,c⟩)t − ⟨r,b⟩
        cc, bc, bb, rc, rb = (float(v) for v in torch.stack([_rdot(c, c), _rdot(b, c), _rdot(b, b), _rdot(r, c),
                                                             _rdot(r, b)]))
        import numpy as np
        roots = np.roots([2 * cc, -3 * bc, bb + 2 * rc, -rb]) if cc > 0 else np.roots([-3 * bc, bb + 2 * rc, -rb])
        cands = [float(z.real) for z in np.atleast_1d(roots) if abs(z.imag) < 1e-12 * max(1.0, abs(z)) and z.real > 0]
        if not cands:
            return 1.0
        f = [cc * t ** 4 - 2 * bc * t ** 3 + (bb + 2 * rc) * t ** 2 - 2 * rb * t for t in cands]
        return cands[int(np.argmin(f))]

    def measure(self, problem, state, prev):
        """``residual`` = ‖diag(γ) A ξ − y‖ / ‖y‖ at the previous iterate (the step's own residual: no extra pass)."""
        if state.r_prev is None:
            return {}
        yv = problem.y.reshape(-1)
        return {"residual": float(torch.linalg.vector_norm(state.r_prev) / torch.linalg.vector_norm(yv))}

    def objective(self, problem, state):
        x, d = state.x
        r = problem.forward(d, x) - problem.y
        return 0.5 * float((r.abs() ** 2).sum()) / r.numel()


def gain_pgd(problem: GainCalProblem, *, mu: float = 0.7, rho: float = 0.99, accel: str = "none",
             max_iter: int = 2000, tol: float = 1e-10, stop=None, callbacks=(), check_every: int = 1,
             record_objective: bool = False):
    """Run :class:`GainPGD`; returns ``(gains, signal, Result)`` with mean(gains) = 1.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, Result]
        The gains (mean 1), the signal and the solver result.
    """
    solver = GainPGD(mu=mu, rho=rho, accel=accel, max_iter=max_iter, tol=tol)
    res = solve(solver, problem, stop=stop, callbacks=callbacks, check_every=check_every,
                record_objective=record_objective)
    x, d = res.x
    d, x = normalise(d, x)
    return d, x, res


def gain_backprojection(problem: GainCalProblem):
    """The PGD initialisation alone: ``ξ₀ = 1/(mp) Σ_l A_lᵀ y_l`` (in span(B) with a signal basis), gains 1.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor]
        The gains (mean 1) and the back-projected signal.
    """
    solver = GainPGD()
    s = solver.init(problem)
    x, d = s.x
    return normalise(d, x)


# ------------------------------------------------------------------------------------------------ lsq / spectral
class _Linearised:
    """The column-equilibrated operator ``z = (s̃, x̃) ↦ [y_li c_i s̃_i − c_x ⟨a_li B, x̃⟩]_(l,i)``."""

    def __init__(self, problem: GainCalProblem, ignore_gain_basis: bool = False):
        if problem.gain_basis is not None and not ignore_gain_basis:
            raise ValueError("the lsq / spectral linearisation cannot use gain_basis (a subspace of the gains is "
                             "not a subspace of the inverse gains); use method pgd, or set ignore_gain_basis")
        p, m, n = problem.A.shape
        A2 = problem.A.reshape(p * m, n)
        if problem.signal_basis is not None:
            A2 = A2 @ orthobasis(problem.signal_basis.to(A2))
            self.B = orthobasis(problem.signal_basis.to(A2))
        else:
            self.B = None
        self.A2, self.p, self.m, self.k = A2, p, m, A2.shape[1]
        self.y = problem.y.to(A2)
        ny = torch.linalg.vector_norm(self.y, dim=0)                 # (m,) energy of each sensor
        if bool((ny == 0).any()):
            i = int(torch.nonzero(ny == 0)[0])
            raise ValueError(f"sensor {i} measures 0 in every snapshot (a zero gain?): "
                             "its inverse gain is undetermined")
        self.cs = 1.0 / ny
        na = torch.linalg.vector_norm(A2, dim=0)
        self.cx = 1.0 / na.clamp_min(float(na.max()) * 1e-12)
        self.ys = self.y * self.cs[None, :]                           # equilibrated y columns

    @property
    def dim(self):
        return self.m + self.k

    def fwd(self, z):
        s, x = z[:self.m], z[self.m:]
        return (self.ys * s[None, :]).reshape(-1) - self.A2 @ (self.cx * x)

    def adj(self, r):
        R = r.reshape(self.p, self.m)
        return torch.cat([(self.ys.conj() * R).sum(0), -self.cx * (self.A2.mH @ r)])

    def unscale(self, z):
        s = z[:self.m] * self.cs
        x = z[self.m:] * self.cx
        if self.B is not None:
            x = self.B @ x
        return s, x


def _finish(s, x, info):
    """``d = 1/s`` (s made positive; complex: nonzero), rescaled to mean(d) = 1, and the signal with it."""
    if s.is_complex():
        bad = int((s == 0).sum())
        info["zero_inverse_gains"] = bad
        if bad:
            s = torch.where(s == 0, torch.full_like(s, 1e-6 * float(s.abs().max())), s)
        d, x = normalise(1.0 / s, x)
        return d, x, info
    if float(s.sum()) < 0:
        s, x = -s, -x
    bad = int((s <= 0).sum())
    info["nonpositive_inverse_gains"] = bad
    if bad:   # the estimate put some inverse gains at or below 0: reported, and floored to keep d finite
        s = s.clamp_min(1e-6 * float(s.abs().max()))
    d = 1.0 / s
    d, x = normalise(d, x)
    return d, x, info


def _cgls(fwd, adj, b, dim, *, max_iter, tol, dtype, device, callbacks=()):
    """CGLS for min ‖F z − b‖ (F given by fwd/adj); stops at ‖Fᵀr‖ ≤ tol ‖Fᵀb‖."""
    z = torch.zeros(dim, dtype=dtype, device=device)
    r = b.clone()
    s = adj(r)
    p = s.clone()
    gamma = float(_rdot(s, s))
    g0 = math.sqrt(gamma)
    it = 0
    hist = []
    while it < max_iter and math.sqrt(gamma) > tol * g0:
        q = fwd(p)
        alpha = gamma / float(_rdot(q, q))
        z = z + alpha * p
        r = r - alpha * q
        s = adj(r)
        gnew = float(_rdot(s, s))
        p = s + (gnew / gamma) * p
        gamma = gnew
        it += 1
        info = {"iter": it, "residual": math.sqrt(gamma) / g0}
        if it % 10 == 0:
            hist.append(info)
        for cb in callbacks:
            cb(info, None)
    return z, it, hist


def gain_lsq(problem: GainCalProblem, *, max_iter: int = 2000, tol: float = 1e-12, ignore_gain_basis: bool = False,
             callbacks=()):
    """Ling–Strohmer linear least squares in (1/d, x): returns ``(gains, signal, info)``, mean(gains) = 1.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, dict]
        The gains (mean 1), the signal and solver information.
    """
    L = _Linearised(problem, ignore_gain_basis)
    ref = int(torch.argmax(1.0 / L.cs))                              # the reference sensor: largest energy
    # s̃_ref is fixed to 1/cs_ref (s_ref = 1): move its column to the right-hand side
    keep = torch.ones(L.dim, dtype=torch.bool, device=L.y.device)
    keep[ref] = False
    e = torch.zeros(L.dim, dtype=L.y.dtype, device=L.y.device)
    e[ref] = 1.0 / float(L.cs[ref])
    b = -L.fwd(e)

    def fwd(zr):
        z = torch.zeros(L.dim, dtype=zr.dtype, device=zr.device)
        z[keep] = zr
        return L.fwd(z)

    def adj(r):
        return L.adj(r)[keep]

    zr, it, hist = _cgls(fwd, adj, b, L.dim - 1, max_iter=max_iter, tol=tol, dtype=L.y.dtype, device=L.y.device,
                         callbacks=callbacks)
    z = e.clone()
    z[keep] = zr
    s, x = L.unscale(z)
    info = {"iterations": it, "history": hist, "reference_sensor": ref,
            "stop_reason": f"cgls residual<{tol:g}" if it < max_iter else f"max_iter={max_iter}"}
    return _finish(s, x, info)


def _lanczos_smallest(op, dim, *, max_iter, tol, dtype, device, generator=None):
    """Smallest eigenpair of the PSD operator ``op`` (Lanczos, full re-orthogonalisation)."""
    g = torch.Generator(device="cpu")
    g.manual_seed(12345)
    q = torch.randn(dim, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)
    if q.is_complex():
        q = q + 1j * torch.randn(dim, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)
    q = q / torch.linalg.vector_norm(q)
    Q = [q]
    alphas, betas = [], []
    theta, vec, it, converged = None, None, 0, False
    for it in range(1, max_iter + 1):
        w = op(Q[-1])
        a = float(_rdot(Q[-1], w))
        alphas.append(a)
        Qm = torch.stack(Q, 1)
        w = w - Qm @ (Qm.mH @ w)
        w = w - Qm @ (Qm.mH @ w)                                     # twice is enough
        b = float(torch.linalg.vector_norm(w))
        T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if len(betas):
            off = torch.tensor(betas, dtype=torch.float64)
            T = T + torch.diag(off, 1) + torch.diag(off, -1)
        ev, evec = torch.linalg.eigh(T)
        theta = float(ev[0])
        resid = abs(b * float(evec[-1, 0]))
        scale = max(abs(float(ev[-1])), 1e-300)
        if resid <= tol * scale or b <= 1e-14 * scale or it == dim:
            converged = True                                         # (a full Krylov space is exact)
            break
        betas.append(b)
        Q.append(w / b)
    Qm = torch.stack(Q[:len(alphas)], 1)
    vec = Qm @ evec[:, 0].to(dtype=dtype, device=device)
    return theta, vec, it, converged


def gain_spectral(problem: GainCalProblem, *, max_iter: int = 500, tol: float = 1e-12,
                  ignore_gain_basis: bool = False):
    """Ling–Strohmer spectral variant: the smallest right singular vector of the equilibrated linearised system.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, dict]
        The gains (mean 1), the signal and solver information.
    """
    L = _Linearised(problem, ignore_gain_basis)
    theta, z, it, converged = _lanczos_smallest(lambda v: L.adj(L.fwd(v)), L.dim, max_iter=min(max_iter, L.dim),
                                                tol=tol, dtype=L.y.dtype, device=L.y.device)
    s, x = L.unscale(z)
    info = {"iterations": it, "smallest_singular_value": math.sqrt(max(theta, 0.0)),
            "stop_reason": f"lanczos residual<{tol:g}" if converged else f"max_iter={max_iter}"}
    return _finish(s, x, info)


METHODS = {
    "pgd": "projected gradient descent of Cambareri & Jacques (back-projection start, mean-1 positive gains)",
    "lsq": "Ling & Strohmer linear least squares in (1/d, x), one inverse gain fixed, then mean(d) = 1",
    "spectral": "Ling & Strohmer spectral method: smallest singular vector of the equilibrated linear system",
    "init": "baseline: the PGD back-projection initialisation alone (gains 1)",
}
