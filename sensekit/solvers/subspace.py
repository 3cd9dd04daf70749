"""Subspace methods for uniform linear arrays / uniformly sampled 1-D harmonics.

Model: ``x_l[m] = Σ_k s_{l,k} exp(j2π f_k m) + n_l[m]``, m = 0..M−1, for
snapshots l = 1..L; ``f_k`` are spatial (or normalised temporal) frequencies in
cycles per sample, ``f ∈ [−½, ½)``.  For an array with element spacing ``d``
wavelengths and angle θ from broadside, ``f = d sin θ``.

Every function takes covariance matrices ``R`` of shape ``(*batch, M, M)``
(complex Hermitian, e.g. from :func:`sample_covariance`) and works on all
batch items at once; results follow the input's device and dtype.
"""
from __future__ import annotations

import math

import torch

_CRITERIA = ("aic", "mdl")


# ----------------------------------------------------------------------------- covariance
def forward_backward(R: torch.Tensor) -> torch.Tensor:
    """Forward–backward average ``½(R + J R̄ J)`` (J the exchange matrix).

    Parameters
    ----------
    R : Tensor, shape ``(*batch, M, M)``, complex

    Returns
    -------
    torch.Tensor
        The averaged covariance, shaped like ``R``.

    Notes
    -----
    For a centro-symmetric array the steering vectors satisfy ``J ā = e^{-jφ} a``,
    so averaging with the backward covariance keeps the signal subspace,
    doubles the effective number of snapshots and decorrelates pairs of
    coherent sources.
    """
    return 0.5 * (R + R.conj().flip(-2, -1))


def spatial_smoothing(R: torch.Tensor, subarray: int) -> torch.Tensor:
    """Average the covariances of the ``M − m + 1`` overlapping subarrays of size ``m``.

    Parameters
    ----------
    R : Tensor, shape ``(*batch, M, M)``
    subarray : int
        Subarray size m (1 ≤ m ≤ M); up to ``M − m + 1`` coherent sources
        become resolvable, at the cost of aperture.

    Returns
    -------
    Tensor, shape ``(*batch, m, m)``

    References
    ----------
    T.-J. Shan, M. Wax, T. Kailath, "On spatial smoothing for direction-of-arrival
    estimation of coherent signals", IEEE Trans. ASSP 33(4):806–811, 1985.
    """
    M = R.shape[-1]
    m = int(subarray)
    if not 1 <= m <= M:
        raise ValueError(f"spatial_smoothing: subarray must be in 1..{M}, got {m}")
    K = M - m + 1
    out = R[..., 0:m, 0:m]
    for k in range(1, K):
        out = out + R[..., k:k + m, k:k + m]
    return out / K


def sample_covariance(x: torch.Tensor, *, fb: bool = False, subarray: int | None = None) -> torch.Tensor:
    """Sample covariance of snapshots, optionally forward–backward averaged and smoothed.

    Parameters
    ----------
    x : Tensor, shape ``(*batch, L, M)``, real or complex
        L snapshots of M sensors (or samples) each.
    fb : bool
        Apply :func:`forward_backward` averaging.
    subarray : int, optional
        Apply :func:`spatial_smoothing` with subarrays of this size (works with
        a single snapshot).

    Returns
    -------
    Tensor, shape ``(*batch, M, M)`` or ``(*batch, m, m)``
        ``R = (1/L) Σ_l x_l x_lᴴ`` (then smoothed and/or FB averaged).

    Examples
    --------
    >>> import torch
    >>> from sensekit.solvers import sample_covariance
    >>> x = torch.exp(2j * torch.pi * 0.1 * torch.arange(8.0)).reshape(1, 8)
    >>> R = sample_covariance(x, subarray=5)
    >>> R.shape, bool(torch.allclose(R, R.mH))
    (torch.Size([5, 5]), True)
    """
    if x.ndim < 2:
        raise ValueError(f"sample_covariance: x must be (*batch, L, M), got shape {tuple(x.shape)}")
    R = x.mT @ x.conj() / x.shape[-2]
    if subarray is not None:
        R = spatial_smoothing(R, subarray)
    if fb:
        R = forward_backward(R)
    return R


# ----------------------------------------------------------------------------- model order
def model_order(eigvals: torch.Tensor, n_snapshots: int, *, criterion: str = "mdl") -> torch.Tensor:
    """Number of sources from covariance eigenvalues by AIC or MDL (Wax & Kailath).

    Parameters
    ----------
    eigvals : Tensor, shape ``(*batch, M)``, real
        Eigenvalues of the sample covariance (any order).
    n_snapshots : int
        Number of snapshots N behind the covariance.
    criterion : {"mdl", "aic"}

    Returns
    -------
    Tensor, shape ``(*batch,)``, long: the estimated order k̂ ∈ {0, …, M−1}.

    Notes
    -----
    With ``λ_1 ≥ … ≥ λ_M`` and, for a candidate k, ``g_k`` and ``a_k`` the
    geometric and arithmetic means of ``λ_{k+1..M}``:
    ``AIC(k) = −2N(M−k) log(g_k/a_k) + 2k(2M−k)`` and
    ``MDL(k) = −N(M−k) log(g_k/a_k) + ½ k(2M−k) log N``; k̂ minimises the
    criterion.  MDL is consistent; AIC tends to overestimate at high SNR.
    After forward–backward averaging or smoothing the eigenvalues no longer
    follow the Wishart law the criteria assume; passing the number of
    averaged snapshots is the usual approximation.

    References
    ----------
    M. Wax, T. Kailath, "Detection of signals by information theoretic
    criteria", IEEE Trans. ASSP 33(2):387–392, 1985.

    Examples
    --------
    >>> import torch
    >>> from sensekit.solvers import model_order
    >>> int(model_order(torch.tensor([50.0, 20.0, 1.02, 0.99, 1.01, 0.98]), 100))
    2
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"model_order: criterion must be one of {_CRITERIA}, got {criterion!r}")
    lam = torch.sort(eigvals.real if eigvals.is_complex() else eigvals, dim=-1, descending=True).values
    lam = torch.clamp(lam, min=torch.finfo(lam.dtype).tiny)
    M, N = lam.shape[-1], float(n_snapshots)
    ks = torch.arange(M, device=lam.device, dtype=lam.dtype)
    logl = torch.log(lam)
    # tail sums over λ_{k+1..M} for k = 0..M−1
    tail_log = torch.flip(torch.cumsum(torch.flip(logl, (-1,)), -1), (-1,))
    tail = torch.flip(torch.cumsum(torch.flip(lam, (-1,)), -1), (-1,))
    cnt = M - ks
    loglik = -N * (tail_log - cnt * torch.log(tail / cnt))   # −N (M−k) log(g/a) ≥ 0
    free = ks * (2 * M - ks)
    crit = 2 * loglik + 2 * free if criterion == "aic" else loglik + 0.5 * free * math.log(N)
    return crit.argmin(dim=-1)


# ----------------------------------------------------------------------------- estimators
def _as_output(f, spacing):
    if spacing is None:
        return f
    return torch.asin(torch.clamp(f / float(spacing), -1.0, 1.0))


def _subspaces(R, n_sources):
    M = R.shape[-1]
    k = int(n_sources)
    if not 1 <= k < M:
        raise ValueError(f"n_sources must be in 1..{M - 1} for {M}×{M} covariances, got {k}")
    _, V = torch.linalg.eigh(R)           # ascending eigenvalues
    return V[..., M - k:], V[..., :M - k]


def _steering(f, M):
    m = torch.arange(M, device=f.device, dtype=f.dtype)
    return torch.exp(2j * math.pi * f.unsqueeze(-1) * m)


def music_spectrum(R: torch.Tensor, n_sources: int, grid: torch.Tensor) -> torch.Tensor:
    """MUSIC pseudo-spectrum ``P(f) = 1 / ‖E_nᴴ a(f)‖²`` on a frequency grid.

    Parameters
    ----------
    R : Tensor, shape ``(*batch, M, M)``, complex
    n_sources : int
    grid : Tensor, shape (G,), real: spatial frequencies in cycles per sample.

    Returns
    -------
    Tensor, shape ``(*batch, G)``, real
    """
    _, En = _subspaces(R, n_sources)
    a = _steering(grid.to(R.real.dtype), R.shape[-1]).to(R.dtype)           # (G, M)
    q = torch.abs(torch.matmul(a.conj(), En)) ** 2                          # (*batch, G, M−k)
    return 1.0 / torch.clamp(q.sum(-1), min=torch.finfo(q.dtype).tiny)


def music(R: torch.Tensor, n_sources: int, *, grid_size: int | None = None, refine: bool = True,
          spacing: float | None = None) -> torch.Tensor:
    """MUSIC frequency estimates: the largest peaks of the pseudo-spectrum, refined by Newton steps.

    Parameters
    ----------
    R : Tensor, shape ``(*batch, M, M)``, complex
    n_sources : int
        Number of sources k (the noise subspace has dimension M − k).
    grid_size : int, optional
        Points of the search grid on [−½, ½) (default ``64·M``).
    refine : bool
        Polish each peak with 8 Newton steps on ``Q(f) = a(f)ᴴ E_nE_nᴴ a(f)``
        (off-grid estimates; no host synchronisation).
    spacing : float, optional
        Element spacing d in wavelengths: return angles ``arcsin(f/d)`` in
        radians instead of frequencies.

    Returns
    -------
    Tensor, shape ``(*batch, k)``, real, sorted ascending.

    Notes
    -----
    With the eigendecomposition ``R = E_sΛ_sE_sᴴ + E_nΛ_nE_nᴴ``, steering
    vectors of the sources are orthogonal to the noise subspace ``E_n``;
    the estimates are the k largest local maxima of ``1/‖E_nᴴ a(f)‖²``.
    The Newton refinement minimises ``Q`` with
    ``Q' = 2Re(a'ᴴ E_nE_nᴴ a)``, ``Q'' = 2Re(a''ᴴ E_nE_nᴴ a + a'ᴴ E_nE_nᴴ a')``,
    steps limited to one grid cell.

    References
    ----------
    R. O. Schmidt, "Multiple emitter location and signal parameter
    estimation", IEEE Trans. Antennas Propag. 34(3):276–280, 1986.

    Examples
    --------
    >>> import torch
    >>> from sensekit.solvers import music, sample_covariance
    >>> g = torch.Generator().manual_seed(0)
    >>> s = torch.randn(50, 2, dtype=torch.complex128, generator=g)
    >>> x = s @ torch.exp(2j * torch.pi * torch.tensor([[-0.2], [0.15]]) * torch.arange(10, dtype=torch.float64))
    >>> music(sample_covariance(x), 2)
    tensor([-0.2000,  0.1500], dtype=torch.float64)
    """
    M = R.shape[-1]
    k = int(n_sources)
    G = int(grid_size) if grid_size is not None else 64 * M
    rdt = R.real.dtype
    grid = torch.arange(G, device=R.device, dtype=rdt) / G - 0.5
    P = music_spectrum(R, k, grid)
    peak = (P >= torch.roll(P, 1, -1)) & (P > torch.roll(P, -1, -1))
    score = torch.where(peak, P, torch.zeros_like(P))
    f = grid[torch.topk(score, k, dim=-1).indices]
    if refine:
        _, En = _subspaces(R, k)
        Pn = En @ En.mH
        m = torch.arange(M, device=R.device, dtype=rdt)
        w = (2j * math.pi * m).to(R.dtype)
        for _ in range(8):
            a = _steering(f, M).to(R.dtype)                  # (*batch, k, M)
            da, dda = a * w, a * w * w
            Pa = torch.matmul(a, Pn.mT)                       # rows: (Pn a)ᵀ
            Pda = torch.matmul(da, Pn.mT)
            q1 = 2 * (da.conj() * Pa).sum(-1).real
            q2 = 2 * ((dda.conj() * Pa).sum(-1).real + (da.conj() * Pda).sum(-1).real)
            step = torch.where(q2 > 0, q1 / torch.where(q2 > 0, q2, torch.ones_like(q2)), torch.zeros_like(q2))
            f = f - torch.clamp(step, -1.0 / G, 1.0 / G)
        f = torch.remainder(f + 0.5, 1.0) - 0.5
    return _as_output(torch.sort(f, dim=-1).values, spacing)


def root_music(R: torch.Tensor, n_sources: int, *, spacing: float | None = None) -> torch.Tensor:
    """Root-MUSIC frequency estimates.

    Parameters
    ----------
    R : Tensor, shape ``(*batch, M, M)``, complex
    n_sources : int
    spacing : float, optional
        Element spacing in wavelengths: return angles (radians) instead.

    Returns
    -------
    Tensor, shape ``(*batch, k)``, real, sorted ascending.

    Notes
    -----
    ``Q(z) = Σ_{k=−(M−1)}^{M−1} c_k z^k`` with ``c_k`` the sum of the k-th
    diagonal of ``E_nE_nᴴ`` equals ``a(f)ᴴE_nE_nᴴa(f)`` on ``z = e^{j2πf}``.
    Its roots come in pairs ``(z, 1/z̄)``; the k roots inside the unit circle
    closest to it give ``f = arg(z)/(2π)``.  Roots are the eigenvalues of the
    companion matrix of ``z^{M−1}Q(z)``.  A noiseless double root on the
    circle is found to about √eps.

    References
    ----------
    A. J. Barabell, "Improving the resolution performance of
    eigenstructure-based direction-finding algorithms", ICASSP 1983.
    B. D. Rao, K. V. S. Hari, "Performance analysis of root-MUSIC", IEEE
    Trans. ASSP 37(12):1939–1949, 1989.

    Examples
    --------
    >>> import torch
    >>> from sensekit.solvers import root_music, sample_covariance
    >>> g = torch.Generator().manual_seed(0)
    >>> s = torch.randn(50, 2, dtype=torch.complex128, generator=g)
    >>> x = s @ torch.exp(2j * torch.pi * torch.tensor([[-0.2], [0.15]]) * torch.arange(10, dtype=torch.float64))
    >>> root_music(sample_covariance(x), 2)
    tensor([-0.2000,  0.1500], dtype=torch.float64)
    """
    M = R.shape[-1]
    k = int(n_sources)
    _, En = _subspaces(R, k)
    C = En @ En.mH
    # coefficients of z^{M−1} Q(z), highest degree first: c_{M−1}, …, c_{−(M−1)}
    coef = torch.stack([torch.diagonal(C, offset=o, dim1=-2, dim2=-1).sum(-1)
                        for o in range(M - 1, -M, -1)], dim=-1)
    n = 2 * M - 2
    comp = torch.zeros(*coef.shape[:-1], n, n, dtype=coef.dtype, device=coef.device)
    comp[..., 0, :] = -coef[..., 1:] / coef[..., :1]
    idx = torch.arange(n - 1, device=coef.device)
    comp[..., idx + 1, idx] = 1.0
    z = torch.linalg.eigvals(comp)
    dist = torch.where(torch.abs(z) <= 1.0, 1.0 - torch.abs(z), torch.full_like(z.real, math.inf))
    pick = torch.topk(-dist, k, dim=-1).indices
    f = torch.angle(torch.gather(z, -1, pick)) / (2 * math.pi)
    return _as_output(torch.sort(f, dim=-1).values, spacing)


def _unitary_q(M: int, dtype, device) -> torch.Tensor:
    """Left Π-real unitary matrix Q_M (Π Q̄ = Q) of Haardt & Nossek."""
    n = M // 2
    Q = torch.zeros(M, M, dtype=dtype, device=device)
    I = torch.eye(n, dtype=dtype, device=device)
    P = I.flip(-1)
    Q[:n, :n], Q[:n, M - n:] = I, 1j * I
    Q[M - n:, :n], Q[M - n:, M - n:] = P, -1j * P
    if M % 2:
        Q[n, n] = math.sqrt(2.0)
    return Q / math.sqrt(2.0)


def unitary_esprit(R: torch.Tensor, n_sources: int, *, spacing: float | None = None) -> torch.Tensor:
    """Unitary ESPRIT: real-valued ESPRIT with built-in forward–backward averaging.

    Parameters
    ----------
    R : Tensor, shape ``(*batch, M, M)``, complex
    n_sources : int
    spacing : float, optional
        Element spacing in wavelengths: return angles (radians) instead.

    Returns
    -------
    Tensor, shape ``(*batch, k)``, real, sorted ascending.

    Notes
    -----
    With the left Π-real unitary matrices ``Q_M`` (``Π_M Q̄_M = Q_M``),
    ``Re(Q_Mᴴ R Q_M) = Q_Mᴴ R_fb Q_M`` is the real transform of the
    forward–backward averaged covariance; its k principal eigenvectors form
    the real signal subspace ``E_s``.  The shift invariance
    ``J₁ a e^{jμ} = J₂ a`` of the maximal overlapping subarrays becomes the
    real relation ``tan(μ/2) K₁ d = K₂ d`` with ``K₁ = Re(Q_{M−1}ᴴ J₂ Q_M)``,
    ``K₂ = Im(Q_{M−1}ᴴ J₂ Q_M)``.  Solve ``K₁E_s Υ ≈ K₂E_s`` by least
    squares; the eigenvalues ω of Υ give ``μ = 2 arctan ω`` and
    ``f = μ/(2π)``.  All heavy work is real-valued.

    References
    ----------
    M. Haardt, J. A. Nossek, "Unitary ESPRIT: how to obtain increased
    estimation accuracy with a reduced computational burden", IEEE Trans.
    Signal Process. 43(5):1232–1242, 1995.

    Examples
    --------
    >>> import torch
    >>> from sensekit.solvers import unitary_esprit, sample_covariance
    >>> g = torch.Generator().manual_seed(0)
    >>> s = torch.randn(50, 2, dtype=torch.complex128, generator=g)
    >>> x = s @ torch.exp(2j * torch.pi * torch.tensor([[-0.2], [0.15]]) * torch.arange(10, dtype=torch.float64))
    >>> unitary_esprit(sample_covariance(x), 2)
    tensor([-0.2000,  0.1500], dtype=torch.float64)
    """
    M = R.shape[-1]
    k = int(n_sources)
    if not 1 <= k < M:
        raise ValueError(f"n_sources must be in 1..{M - 1} for {M}×{M} covariances, got {k}")
    cdt = R.dtype if R.is_complex() else (torch.complex128 if R.dtype == torch.float64 else torch.complex64)
    R = R.to(cdt)
    QM, Qm = _unitary_q(M, cdt, R.device), _unitary_q(M - 1, cdt, R.device)
    Rr = (QM.mH @ R @ QM).real
    Es = torch.linalg.eigh(Rr)[1][..., M - k:]
    G = Qm.mH @ QM[1:, :]                      # Q_{M−1}ᴴ J₂ Q_M
    K1, K2 = G.real, G.imag
    ups = torch.linalg.lstsq(K1 @ Es, K2 @ Es).solution
    omega = torch.linalg.eigvals(ups).real
    f = torch.atan(omega) / math.pi             # μ/(2π) with μ = 2 arctan ω
    return _as_output(torch.sort(f, dim=-1).values, spacing)


def esprit(R: torch.Tensor, n_sources: int, *, spacing: float | None = None) -> torch.Tensor:
    """Least-squares ESPRIT (complex) on the maximal overlapping subarrays.

    ``Ψ = (J₁E_s)⁺ J₂E_s``; ``f = arg(eig Ψ)/(2π)``.  See :func:`unitary_esprit`
    for the real-valued, forward–backward averaged variant.

    Returns
    -------
    torch.Tensor
        The ``(..., n_sources)`` normalised frequencies in ascending order; with ``spacing``,
        the angles ``asin(f / spacing)`` in radians.

    References
    ----------
    R. Roy, T. Kailath, "ESPRIT—estimation of signal parameters via
    rotational invariance techniques", IEEE Trans. ASSP 37(7):984–995, 1989.

    Examples
    --------
    >>> import torch
    >>> from sensekit.solvers import esprit, sample_covariance
    >>> x = torch.exp(2j * torch.pi * torch.tensor([[0.3]]) * torch.arange(6.0))
    >>> esprit(sample_covariance(x), 1)
    tensor([0.3000])
    """
    Es, _ = _subspaces(R, n_sources)
    psi = torch.linalg.lstsq(Es[..., :-1, :], Es[..., 1:, :]).solution
    f = torch.angle(torch.linalg.eigvals(psi)) / (2 * math.pi)
    return _as_output(torch.sort(f, dim=-1).values, spacing)
