"""Norms with closed-form proximal maps: ℓ1, ℓ2,1 (group), nuclear, squared ℓ2."""
from __future__ import annotations

import torch

from .base import Prox


def _tiny(x):
    return torch.finfo(x.real.dtype).tiny


def abs2(x: torch.Tensor) -> torch.Tensor:
    """Squared modulus ``|x|²`` (real), as ``re² + im²`` for complex ``x``.

    Two elementwise passes over the real and imaginary parts instead of the complex ``abs`` (which goes
    through ``hypot``: 7x slower on CPU, measured on a (2, 8, 96, 96) complex64 array, 1 thread) and a square.
    Like ``x.abs() ** 2`` it overflows for ``|x|`` above ``sqrt(finfo.max)`` (1.8e19 in float32).

    Returns
    -------
    torch.Tensor
        ``|x|²`` in the real dtype of ``x``.
    """
    if x.is_complex():
        re, im = x.real, x.imag
        return torch.addcmul(re.square(), im, im)
    return x.square()


def _modulus(x: torch.Tensor) -> torch.Tensor:
    """``|x|`` of a complex tensor through :func:`abs2` (a fresh tensor)."""
    a = abs2(x)
    return a.sqrt_() if _no_grad(a) else a.sqrt()


def _no_grad(*ts) -> bool:
    """True when autograd records none of ``ts`` (in-place updates of temporaries are then safe)."""
    return not (torch.is_grad_enabled() and any(torch.is_tensor(t) and t.requires_grad for t in ts))


def _ratio_clamped(num, mag, *, at_most_one: bool):
    """``clamp(num / max(mag, tiny), max=1)`` (projection factor) or ``clamp(1 − num / max(mag, tiny), min=0)``
    (shrink factor) of a temporary ``mag``, in place on it when ``num`` is a scalar or a tensor that neither
    enlarges nor promotes it and autograd records neither (otherwise out of place, with the usual broadcasting
    and promotion)."""
    if not _no_grad(num, mag) or (torch.is_tensor(num) and (
            torch.result_type(num, mag) != mag.dtype or torch.broadcast_shapes(num.shape, mag.shape) != mag.shape)):
        f = num / torch.clamp(mag, min=_tiny(mag))
        return torch.clamp(f, max=1.0) if at_most_one else torch.clamp(1 - f, min=0)
    mag = torch.clamp_(mag, min=_tiny(mag))
    f = mag.reciprocal_().mul_(num)
    if at_most_one:
        return f.clamp_(max=1.0)
    return f.neg_().add_(1.0).clamp_(min=0)


def soft_threshold(x: torch.Tensor, t) -> torch.Tensor:
    """Soft thresholding, complex-aware: ``x · max(1 − t/|x|, 0)``.

    ``t`` may be a scalar or a tensor broadcastable to ``x``.

    Returns
    -------
    torch.Tensor
        The thresholded tensor, shaped like ``x``.
    """
    if x.is_complex():
        return x * _ratio_clamped(t, _modulus(x), at_most_one=False)
    return torch.sign(x) * torch.clamp(x.abs() - t, min=0)


class L1(Prox):
    """g(x) = Σ lam_i · abs(x_i) (complex moduli for complex x).

    Parameters
    ----------
    lam : float or Tensor
        One weight, or non-negative weights broadcastable to ``x`` (e.g. zero on
        the coarse wavelet approximation band so that only details are sparse).

    Notes
    -----
    prox: soft thresholding at ``lam·step``; conjugate prox: projection onto the
    (weighted) ℓ∞ ball of radius ``lam`` (radial clipping for complex entries).
    """

    def __init__(self, lam=1.0):
        self.lam = lam if torch.is_tensor(lam) else float(lam)

    def __call__(self, x):
        if torch.is_tensor(self.lam):
            return torch.sum(self.lam * x.abs())
        return self.lam * x.abs().sum()

    def prox(self, x, step):
        return soft_threshold(x, self.lam * step)

    def conj_prox(self, v, sigma):
        if v.is_complex():
            return v * _ratio_clamped(self.lam, _modulus(v), at_most_one=True)
        if torch.is_tensor(self.lam):
            return torch.maximum(torch.minimum(v, self.lam), -self.lam)
        return torch.clamp(v, -self.lam, self.lam)


class L21(Prox):
    """Group norm g(x) = lam · Σ_groups ‖x_group‖₂, groups spanning ``axes``.

    With ``x = D u`` stacked as ``(n_dirs, *shape)`` and ``axes=(-4,)`` for a
    3-d ``shape``, this is isotropic total variation.

    Parameters
    ----------
    lam : float
    axes : int or tuple of int
        Axes (negative, counted from the end) that make one group.
    """

    def __init__(self, lam: float = 1.0, axes=(-1,)):
        self.lam = float(lam)
        self.axes = (axes,) if isinstance(axes, int) else tuple(axes)

    def _gnorm(self, x):
        s = torch.sum(abs2(x), dim=self.axes, keepdim=True)
        return s.sqrt_() if _no_grad(s) else s.sqrt()

    def __call__(self, x):
        return self.lam * self._gnorm(x).sum()

    def prox(self, x, step):
        return x * _ratio_clamped(self.lam * step, self._gnorm(x), at_most_one=False)

    def conj_prox(self, v, sigma):
        return v * _ratio_clamped(self.lam, self._gnorm(v), at_most_one=True)


def svt(x: torch.Tensor, t) -> torch.Tensor:
    """Singular value soft thresholding of the last two dims (batched).

    ``t`` is a scalar or a tensor of shape ``batch`` (one threshold per matrix).

    Returns
    -------
    torch.Tensor
        The thresholded matrices, shaped like ``x``.
    """
    U, s, Vh = _svd(x)
    if torch.is_tensor(t) and t.ndim > 0:
        t = t.unsqueeze(-1)
    s = torch.clamp(s - t, min=0)
    return (U * s.unsqueeze(-2).to(U.dtype)) @ Vh


class Nuclear(Prox):
    """Nuclear norm of each matrix in the last two dims: g(X) = lam · Σ σ_i(X).

    Batched over leading dims (the value sums over the batch).  Combine with
    :class:`~sensekit.prox.Transformed` and :class:`~sensekit.linop.Unfold` for
    the nuclear norm of a tensor unfolding (e.g. a Casorati matrix).

    Notes
    -----
    prox: singular value thresholding at ``lam·step`` (Cai, Candès & Shen 2010);
    conjugate prox: singular values clipped at ``lam`` (projection onto the
    spectral-norm ball).
    """

    def __init__(self, lam: float = 1.0):
        self.lam = float(lam)

    def __call__(self, x):
        return self.lam * torch.linalg.svdvals(x).sum()

    def prox(self, x, step):
        return svt(x, self.lam * step)

    def conj_prox(self, v, sigma):
        U, s, Vh = _svd(v)
        s = torch.clamp(s, max=self.lam)
        return (U * s.unsqueeze(-2).to(U.dtype)) @ Vh


def _svd(x):
    """Thin SVD of the last two dims; a wide or tall matrix goes through its small Gram matrix.

    For an m × n matrix with m ≪ n (a Casorati matrix: frames × pixels) the
    eigendecomposition of the m × m Gram matrix X Xᴴ costs O(m² n) instead of
    a full SVD; it is accurate for the singular values that matter to a
    threshold (relative error ~ eps·σ_max²/σ_i²) and is used only when the
    aspect ratio is at least 8.
    """
    m, n = x.shape[-2], x.shape[-1]
    if max(m, n) < 8 * min(m, n):
        return torch.linalg.svd(x, full_matrices=False)
    wide = m <= n
    xh = x.mH if x.is_complex() else x.transpose(-2, -1)
    gram = x @ xh if wide else xh @ x                   # (k × k), k = min(m, n)
    evals, evecs = torch.linalg.eigh(gram)
    evals, evecs = evals.flip(-1), evecs.flip(-1)       # descending, like torch.linalg.svd
    s = torch.sqrt(torch.clamp(evals, min=0))
    inv = torch.where(s > s.amax(dim=-1, keepdim=True) * 1e-6, 1.0 / torch.clamp(s, min=_tiny(s)),
                      torch.zeros_like(s))
    if wide:   # x = U S Vh with U = evecs, Vh = S⁻¹ Uᴴ x
        uh = evecs.mH if evecs.is_complex() else evecs.transpose(-2, -1)
        vh = (uh @ x) * inv.unsqueeze(-1).to(x.dtype)
        return evecs, s, vh
    u = (x @ evecs) * inv.unsqueeze(-2).to(x.dtype)    # x = U S Vh with V = evecs
    vh = evecs.mH if evecs.is_complex() else evecs.transpose(-2, -1)
    return u, s, vh


def _rebuild(u, s, vh):
    return (u * s.unsqueeze(-2).to(u.dtype)) @ vh


class SchattenP(Prox):
    """Schatten-p quasi-norm penalty of each matrix in the last two dims: lam/p · Σ σ_i(X)^p.

    For ``p = 1`` this is the nuclear norm and ``prox`` is exact singular value
    thresholding.  For ``0 < p < 1`` the penalty is non-convex and ``prox``
    applies the generalised p-shrinkage of each singular value,
    ``σ ← max(σ − lam·step·σ^(p−1), 0)`` (Chartrand 2012), the thresholding rule
    used by k-t SLR (Lingala et al. 2011); it is a descent step for the
    penalty, not an exact minimiser, so use it only inside algorithms written
    for it (e.g. :class:`~sensekit.solvers.HQS` with continuation).

    References
    ----------
    R. Chartrand, "Nonconvex splitting for regularized low-rank + sparse
    decomposition", IEEE Trans. Signal Process. 60(11):5810–5819, 2012.
    S. G. Lingala, Y. Hu, E. DiBella, M. Jacob, "Accelerated dynamic MRI
    exploiting sparsity and low-rank structure: k-t SLR", IEEE TMI 30(5):1042–1054, 2011.
    """

    def __init__(self, lam: float = 1.0, p: float = 1.0):
        if not 0 < p <= 1:
            raise ValueError(f"SchattenP: p must be in (0, 1], got {p}")
        self.lam, self.p = float(lam), float(p)

    def __call__(self, x):
        s = torch.linalg.svdvals(x)
        return self.lam * torch.sum(s if self.p == 1 else s ** self.p / self.p)

    def prox(self, x, step):
        u, s, vh = _svd(x)
        t = self.lam * step
        if self.p == 1:
            s = torch.clamp(s - t, min=0)
        else:
            s = torch.clamp(s - t * torch.clamp(s, min=_tiny(s)) ** (self.p - 1), min=0)
        return _rebuild(u, s, vh)

    def conj_prox(self, v, sigma):
        if self.p != 1:
            raise NotImplementedError("SchattenP with p < 1 is non-convex: it has no conjugate prox")
        u, s, vh = _svd(v)
        return _rebuild(u, torch.clamp(s, max=self.lam), vh)


class SquaredL2(Prox):
    """g(x) = lam/2 · ‖x − b‖² (``b`` defaults to 0)."""

    def __init__(self, lam: float = 1.0, b: torch.Tensor | None = None):
        self.lam, self.b = float(lam), b

    def __call__(self, x):
        r = x if self.b is None else x - self.b
        return 0.5 * self.lam * torch.sum(r.abs() ** 2)

    def prox(self, x, step):
        t = self.lam * step
        if self.b is None:
            return x / (1 + t)
        return torch.add(x, self.b, alpha=t).div_(1 + t)

    def conj_prox(self, v, sigma):
        """prox of σ·g* in closed form: ``(v − σ b) / (1 + σ/lam)`` (0 when ``lam = 0``).

        With ``g* (u) = ‖u‖²/(2 lam) + Re⟨u, b⟩`` this is the same map as Moreau's
        ``v − σ prox_{g/σ}(v/σ)``, in two elementwise passes instead of six.

        Returns
        -------
        torch.Tensor
            ``prox_{σ g*}(v)``, shaped like ``v``.
        """
        if self.lam == 0:
            return torch.zeros_like(v)
        c = 1.0 + sigma / self.lam
        if self.b is None:
            return v / c
        if torch.is_tensor(sigma):
            return (v - sigma * self.b) / c
        return torch.sub(v, self.b, alpha=sigma).div_(c)
