"""Reusable contract checks for operators, proximal maps and solvers.

Used by sensekit's own tests and available to plugin authors::

    from sensekit.testing import check_linop
    check_linop(MyOperator(...))
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from .core.random import make_generator, randn
from .core.util import vdot

if TYPE_CHECKING:
    from .linop.base import LinOp

_DOT_TOL = {torch.float32: 1e-5, torch.complex64: 1e-5, torch.float64: 1e-10, torch.complex128: 1e-10}


def _tol(dtype, tol):
    return tol if tol is not None else _DOT_TOL.get(dtype, 1e-5)


def _rel(a, b):
    d = float(torch.linalg.vector_norm(a - b))
    s = max(float(torch.linalg.vector_norm(b)), float(torch.linalg.vector_norm(a)), 1e-30)
    return d / s


def check_linop(op: LinOp, *, dtype: torch.dtype = torch.complex128, device: str | torch.device = "cpu",
                batch: tuple[int, ...] = (2,), tol: float | None = None, seed: int = 0,
                check_autograd: bool = True, shift: float = 0.7) -> dict:
    """Check the operator contract; raise ``AssertionError`` on the first violation.

    Checks: dot test ``⟨Ax, y⟩ = ⟨x, Aᴴy⟩``, linearity, ``A.N = AᴴA``, batching
    (a batch equals its items), device and dtype preservation, autograd's
    vector–Jacobian product equals the adjoint, ``(A.H).H`` = ``A``, and
    ``solve_normal`` inverting ``A.N + shift`` where the operator has one.

    Returns the measured errors (a dict of floats).

    Returns
    -------
    dict
        The measured relative errors by check (``"dot"``, ``"linearity"``, ``"normal"``, ...).
    """
    tol = _tol(dtype, tol)
    g = make_generator(seed)
    op = op.to(device)
    x = randn(tuple(batch) + op.in_shape, dtype=dtype, device=device, generator=g)
    y = randn(tuple(batch) + op.out_shape, dtype=dtype, device=device, generator=g)
    errs = {}
    name = type(op).__name__

    ax = op(x)
    aty = op.H(y)
    assert tuple(ax.shape) == tuple(batch) + op.out_shape, f"{name}: forward shape {tuple(ax.shape)}"
    assert tuple(aty.shape) == tuple(batch) + op.in_shape, f"{name}: adjoint shape {tuple(aty.shape)}"
    assert ax.device == x.device and aty.device == y.device, f"{name}: output left the input's device"
    if dtype.is_complex:
        assert ax.dtype == dtype and aty.dtype == dtype, f"{name}: dtype {dtype} became {ax.dtype}/{aty.dtype}"
    else:
        assert ax.dtype in (dtype, torch.complex64 if dtype == torch.float32 else torch.complex128), \
            f"{name}: dtype {dtype} became {ax.dtype}"

    lhs, rhs = vdot(ax, y.to(ax.dtype)), vdot(x.to(aty.dtype), aty)
    scale = float(torch.linalg.vector_norm(ax) * torch.linalg.vector_norm(y)) + float(
        torch.linalg.vector_norm(x) * torch.linalg.vector_norm(aty)) + 1e-30
    errs["dot"] = abs(complex(lhs) - complex(rhs)) / scale
    assert errs["dot"] < tol, f"{name}: dot test failed, relative error {errs['dot']:.3g} >= {tol:g}"

    x2 = randn(x.shape, dtype=dtype, device=device, generator=g)
    a, b = (0.3 - 1.1j, 2.0 + 0.5j) if dtype.is_complex else (0.3, -2.0)
    errs["linearity"] = _rel(op(a * x + b * x2), a * ax + b * op(x2))
    assert errs["linearity"] < 100 * tol, f"{name}: not linear ({errs['linearity']:.3g})"

    errs["normal"] = _rel(op.N(x), op.H(ax))
    assert errs["normal"] < 100 * tol, f"{name}: A.N differs from AᴴA ({errs['normal']:.3g})"

    errs["double_adjoint"] = _rel(op.H.H(x), ax)
    assert errs["double_adjoint"] < 100 * tol, f"{name}: (A.H).H differs from A"

    if len(batch) and batch[0] > 1:
        errs["batch"] = max(_rel(op(x[i]), ax[i]) for i in range(batch[0]))
        assert errs["batch"] < 100 * tol, f"{name}: batch items differ from single applications"

    if check_autograd:
        xr = x.detach().clone().requires_grad_(True)
        out = op(xr)
        (vjp,) = torch.autograd.grad(out, xr, grad_outputs=y.to(out.dtype))
        errs["autograd"] = _rel(vjp, aty.to(vjp.dtype))
        assert errs["autograd"] < 100 * tol, f"{name}: autograd's VJP differs from the adjoint " \
                                             f"({errs['autograd']:.3g})"

    if op.has_solve_normal:
        z = op.solve_normal(x, shift)
        errs["solve_normal"] = _rel(op.N(z) + shift * z, x)
        assert errs["solve_normal"] < 1000 * tol, f"{name}: solve_normal does not invert A.N + shift " \
                                                  f"({errs['solve_normal']:.3g})"
    return errs


def check_prox(g, x: torch.Tensor, step: float = 0.5, *, n_trials: int = 200, seed: int = 0,
               feasible=None, rtol: float = 1e-6) -> dict:
    """Check that ``p = g.prox(x, step)`` minimises ``g(z) + ‖z − x‖²/(2·step)``.

    Brute force on small inputs: the prox objective at ``p`` must not exceed its
    value at ``n_trials`` perturbations of ``p`` (of several sizes), at random
    points, at ``feasible(random)`` points when ``g`` is an indicator, and at
    the result of a derivative-free scipy minimiser started from ``x``.

    Returns
    -------
    dict
        ``{"objective": the prox objective at p, "best_gap": the largest improvement a trial point found}``.
    """
    from scipy.optimize import minimize

    gen = make_generator(seed)
    p = g.prox(x, step)

    def obj(z):
        return float(g(z)) + float(torch.linalg.vector_norm(z - x) ** 2) / (2 * step)

    f0 = obj(p)
    assert math.isfinite(f0), f"{type(g).__name__}: prox output is infeasible (objective {f0})"
    worst = -math.inf
    cands = []
    for scale in (1e-4, 1e-3, 1e-2, 1e-1, 1.0):
        for _ in range(n_trials // 5):
            cands.append(p + scale * randn(p.shape, dtype=p.dtype, generator=gen))
    if feasible is not None:
        for _ in range(n_trials // 5):
            cands.append(feasible(p + 0.3 * randn(p.shape, dtype=p.dtype, generator=gen)))
    for z in cands:
        fz = obj(z)
        worst = max(worst, f0 - fz)
    # a derivative-free minimiser on the real parametrisation
    shape, cplx = x.shape, x.is_complex()

    def unpack(v):
        t = torch.as_tensor(v, dtype=torch.float64)
        if cplx:
            t = torch.complex(t[: t.numel() // 2], t[t.numel() // 2:])
        return t.reshape(shape).to(x.dtype)

    v0 = x.detach().reshape(-1)
    v0 = torch.cat([v0.real, v0.imag]) if cplx else v0
    res = minimize(lambda v: obj(unpack(v)) if math.isfinite(obj(unpack(v))) else 1e30,
                   np.asarray(v0, dtype=np.float64), method="Powell",
                   options={"xtol": 1e-10, "ftol": 1e-13, "maxfev": 20000})
    f_nm = obj(unpack(res.x))
    worst = max(worst, f0 - f_nm)
    tol = rtol * max(1.0, abs(f0))
    assert worst <= tol, f"{type(g).__name__}: prox is not optimal (a point is better by {worst:.3g})"
    return {"objective": f0, "best_gap": worst}


def check_moreau(g, x: torch.Tensor, step: float = 0.5, tol: float = 1e-10) -> float:
    """Check Moreau's identity ``x = prox_{τg}(x) + τ·prox_{g*/τ}(x/τ)``.

    Returns
    -------
    float
        The relative error of the identity.
    """
    p = g.prox(x, step)
    q = g.conj_prox(x / step, 1.0 / step)
    err = _rel(p + step * q, x)
    assert err < tol, f"{type(g).__name__}: Moreau identity violated ({err:.3g})"
    return err


# ----------------------------------------------------------------------------- host synchronisation
#: operators that make the host wait for the device: a scalar read (float(), .item(), bool(), int()), a
#: data-dependent output shape, or a whole-tensor comparison
_SYNC_OPS = ("_local_scalar_dense", "nonzero", "masked_select", "unique", "equal", "is_nonzero")


class SyncCounter:
    """What :func:`count_host_syncs` saw: ``count`` and the list ``ops`` of operator names."""

    def __init__(self):
        self.ops: list = []

    @property
    def count(self) -> int:
        return len(self.ops)


def count_host_syncs():
    """Context manager counting the host synchronisations inside it (on any device, CPU included).

    On CUDA each of these stalls the host until the GPU has caught up, so a
    solver loop should have none per iteration, only at its ``check_every``
    checks (DESIGN.md).  Counted: scalar reads (``float(t)``, ``t.item()``,
    ``bool(t)``), data-dependent shapes (``nonzero``, boolean-mask indexing,
    ``masked_select``, ``unique``), ``torch.equal``, ``.tolist()`` and ``.numpy()``.

    Returns
    -------
    contextlib.AbstractContextManager
        A context manager yielding the counter (its ``ops`` list names each sync).

    Examples
    --------
    >>> import torch
    >>> from sensekit.testing import count_host_syncs
    >>> x = torch.ones(3)
    >>> with count_host_syncs() as c:
    ...     y = 2 * x
    ...     s = float(y.sum())
    >>> c.count
    1
    """
    import contextlib

    from torch.utils._python_dispatch import TorchDispatchMode

    counter = SyncCounter()

    class _Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.__name__ if hasattr(func, "__name__") else str(func)
            base = str(func).split(".")[1] if str(func).startswith("aten.") else name
            if base.startswith(_SYNC_OPS) or (base == "index" and any(
                    torch.is_tensor(i) and i.dtype == torch.bool for i in (args[1] if len(args) > 1 else ())
                    if i is not None)):
                counter.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    @contextlib.contextmanager
    def _ctx():
        originals = {name: getattr(torch.Tensor, name) for name in ("tolist", "numpy")}

        def wrap(name, fn):
            def inner(self, *a, **k):
                counter.ops.append(f"Tensor.{name}")
                return fn(self, *a, **k)
            return inner

        for name, fn in originals.items():
            setattr(torch.Tensor, name, wrap(name, fn))
        try:
            with _Mode():
                yield counter
        finally:
            for name, fn in originals.items():
                setattr(torch.Tensor, name, fn)

    return _ctx()
