"""Coil sensitivity estimation from the (time-averaged) centre of k-space."""
from __future__ import annotations

import torch

from sensekit.linop import ifftc


def time_averaged_kspace(kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average each k-space location over the frames in which it was sampled.

    Parameters
    ----------
    kspace : Tensor, shape (T, C, Y, X), complex
    mask : Tensor of bool, shape (T, Y, X)

    Returns
    -------
    Tensor, shape (C, Y, X): the time-averaged k-space (zero where never sampled).
    """
    m = mask.to(kspace.real.dtype)
    count = m.sum(dim=0)
    total = (kspace * m[:, None]).sum(dim=0)
    return torch.where(count > 0, total / torch.clamp(count, min=1), torch.zeros_like(total))


def lowres_maps(kspace: torch.Tensor, mask: torch.Tensor, *, calib: int = 24, eps: float = 1e-3) -> torch.Tensor:
    """Coil maps from low-resolution coil images of the time-averaged k-space centre.

    The central ``calib × calib`` block of the time-averaged k-space is
    Hann-windowed and transformed to low-resolution coil images ``I_c``; the
    maps are ``I_c / sqrt(Σ_c |I_c|² + (eps·max)²)`` so that Σ_c |S_c|² ≈ 1 on
    the object and falls to 0 where there is no signal.

    Returns
    -------
    Tensor, shape (C, Y, X), complex
    """
    k = time_averaged_kspace(kspace, mask)
    C, Y, X = k.shape
    cy, cx = min(calib, Y), min(calib, X)
    wy = torch.hann_window(cy + 2, periodic=False, dtype=k.real.dtype, device=k.device)[1:-1]
    wx = torch.hann_window(cx + 2, periodic=False, dtype=k.real.dtype, device=k.device)[1:-1]
    win = torch.zeros(Y, X, dtype=k.real.dtype, device=k.device)
    y0, x0 = Y // 2 - cy // 2, X // 2 - cx // 2
    win[y0:y0 + cy, x0:x0 + cx] = wy[:, None] * wx[None, :]
    low = ifftc(k * win, dim=(-2, -1))
    r2 = torch.sum(low.abs() ** 2, dim=0)
    floor = (eps * torch.sqrt(r2.max())) ** 2
    return low / torch.sqrt(r2 + floor)


def _patch_rows(sampled: torch.Tensor, ry: int, rx: int, kernel: int) -> torch.Tensor:
    """Which ``kernel × kernel`` patches of the central ``ry × rx`` block lie entirely on sampled locations."""
    Y, X = sampled.shape
    y0, x0 = Y // 2 - ry // 2, X // 2 - rx // 2
    s = sampled[y0:y0 + ry, x0:x0 + rx]
    if ry < kernel or rx < kernel:
        return torch.zeros(0, 0, dtype=torch.bool, device=sampled.device)
    return s.unfold(0, kernel, 1).unfold(1, kernel, 1).all(dim=-1).all(dim=-1)


def _central_run(full_rows: torch.Tensor) -> int:
    """Length of the run of True values that contains the centre index n // 2."""
    n = full_rows.numel()
    c = n // 2
    if not bool(full_rows[c]):
        return 0
    lo = c
    while lo > 0 and bool(full_rows[lo - 1]):
        lo -= 1
    hi = c
    while hi < n - 1 and bool(full_rows[hi + 1]):
        hi += 1
    return hi - lo + 1


def fitted_kernel(mask: torch.Tensor, *, calib: int = 24, kernel: int = 6) -> int:
    """The ESPIRiT kernel side used for this mask: ``kernel``, reduced so that the fully sampled centre spans
    at least about twice the kernel in each direction (a kernel as wide as the calibration region leaves too
    few shifted patches to separate signal from null space); 0 when not even a 3 × 3 kernel fits."""
    sampled = mask.any(dim=0)
    Y, X = sampled.shape
    side = 0                     # largest fully sampled centred square
    while side < min(Y, X) and bool(sampled[Y // 2 - (side + 1) // 2: Y // 2 - (side + 1) // 2 + side + 1,
                                            X // 2 - (side + 1) // 2: X // 2 - (side + 1) // 2 + side + 1].all()):
        side += 1
    if side == 0:
        return 0
    rows = sampled[:, X // 2 - side // 2: X // 2 - side // 2 + side].all(dim=1)
    cols = sampled[Y // 2 - side // 2: Y // 2 - side // 2 + side, :].all(dim=0)
    k = min(kernel, _central_run(rows) // 2, _central_run(cols) // 2)
    return k if k >= 3 else 0


def calibration_matrix(kspace: torch.Tensor, mask: torch.Tensor, *, calib: int = 24, kernel: int = 6):
    """The ESPIRiT/GRAPPA calibration matrix: the fully sampled ``kernel × kernel`` patches of the centre.

    The search starts with the central ``calib × calib`` block (clipped to the
    grid) and, while the matrix has fewer rows than columns (C·kernel²), grows
    the block by two samples per axis up to the whole grid — so a fully sampled
    readout through a few autocalibration lines is used in full, while a
    generous 2-D calibration block stays at ``calib``.  Only patches lying
    entirely on sampled locations are rows.

    Parameters
    ----------
    kspace : Tensor, shape (T, C, Y, X), complex — averaged over frames first (dynamic data).
    mask : Tensor of bool, shape (T, Y, X)

    Returns
    -------
    A : Tensor, shape (P, C·kernel²), complex — one row per patch; columns ordered
        (coil, ky offset, kx offset).
    region : tuple (ry, rx) — the size of the central block used.
    """
    k = time_averaged_kspace(kspace, mask)
    sampled = mask.any(dim=0)
    C, Y, X = k.shape
    ry, rx = min(calib, Y), min(calib, X)
    while True:
        full = _patch_rows(sampled, ry, rx, kernel)
        if int(full.sum()) >= C * kernel * kernel or (ry == Y and rx == X):
            break
        ry, rx = min(ry + 2, Y), min(rx + 2, X)
    if full.numel() == 0:
        return k.new_zeros(0, C * kernel * kernel), (ry, rx)
    y0, x0 = Y // 2 - ry // 2, X // 2 - rx // 2
    r = torch.view_as_real(k[:, y0:y0 + ry, x0:x0 + rx])           # (C, ry, rx, 2)
    pat = r.unfold(1, kernel, 1).unfold(2, kernel, 1)               # (C, py, px, 2, k, k)
    pat = pat.permute(1, 2, 0, 4, 5, 3)[full]                       # (P, C, k, k, 2)
    return torch.view_as_complex(pat.contiguous()).reshape(pat.shape[0], C * kernel * kernel), (ry, rx)


def espirit_maps(kspace: torch.Tensor, mask: torch.Tensor, *, calib: int = 24, kernel: int = 6,
                 thresh: float = 0.02, crop: float = 0.9, chunk: int = 32) -> torch.Tensor:
    """ESPIRiT coil sensitivities (one set of maps) from the autocalibration region.

    Parameters
    ----------
    kspace : Tensor, shape (T, C, Y, X), complex
        Centred k-space, zero where not sampled; dynamic data are averaged over
        frames (each location over the frames that sampled it) before calibration.
    mask : Tensor of bool, shape (T, Y, X)
    calib : int
        Side of the central k-space block searched for calibration patches.
    kernel : int
        Side of the k-space kernel; reduced (not below 3) when the fully sampled
        centre is narrower than twice the kernel (see :func:`fitted_kernel`).
    thresh : float
        Keep the right singular vectors of the calibration matrix whose singular
        value is at least ``thresh`` times the largest (the signal subspace V∥).
    crop : float
        Pixels whose largest eigenvalue is below ``crop`` get zero maps (no
        signal there: the data are not explained by any sensitivity).
    chunk : int
        Image rows processed at once (bounds the memory of the per-pixel
        C×C matrices).

    Returns
    -------
    Tensor, shape (C, Y, X), complex, same dtype/device as ``kspace``: unit
    norm over coils inside the support, phase relative to the first principal
    component of the calibration data (smooth, no coil-0 singularities).

    Notes
    -----
    With ``A`` the calibration matrix (one row per fully sampled patch), its
    SVD ``A = U Σ Vᴴ`` and ``V∥`` the rows kept by ``thresh``, consistency of
    every patch with the subspace, ``x_patch = V∥ V∥ᴴ x_patch``, averaged over
    the kernel positions is a k-space convolution ``x = W * x``.  In image space
    this is a per-pixel C×C matrix

        M(r) = (1/K²) Σ_d w(d) e^{+i2π r·d/N},   w(d) = Σ_{q−q'=d} (V∥V∥ᴴ)[(·,q), (·,q')],

    and the sensitivities are its eigenvectors with eigenvalue 1:
    ``M(r) s(r) = s(r)``.  ``M`` is evaluated as a separable DFT of the
    (2K−1)² taps of ``w`` (no FFT at image size, no loop over pixels) and
    diagonalised with a batched ``torch.linalg.eigh``.

    References
    ----------
    M. Uecker, P. Lai, M. J. Murphy, P. Virtue, M. Elad, J. M. Pauly,
    S. S. Vasanawala, M. Lustig, "ESPIRiT — an eigenvalue approach to
    autocalibrating parallel MRI: where SENSE meets GRAPPA", Magn. Reson. Med.
    71(3):990–1001, 2014.
    """
    from sensekit.io.errors import InputError

    T, C, Y, X = kspace.shape
    kernel = fitted_kernel(mask, calib=calib, kernel=kernel)
    if kernel == 0:
        raise InputError("ESPIRiT: the centre of k-space has no fully sampled block of at least 6×6 samples "
                         "(autocalibration region); use coil_method=lowres or supply sens_maps")
    A, region = calibration_matrix(kspace, mask, calib=calib, kernel=kernel)
    P = A.shape[0]
    if 2 * P < C * kernel * kernel:
        raise InputError(f"ESPIRiT: only {P} fully sampled {kernel}×{kernel} k-space patches, fewer than half "
                         f"the {C * kernel * kernel} columns (coils × kernel²); it needs a larger fully "
                         f"sampled autocalibration region (or use a smaller espirit_kernel, coil_method=lowres, "
                         f"or supply sens_maps)")
    _, s, Vh = torch.linalg.svd(A, full_matrices=False)
    if float(s[0]) == 0:
        raise InputError("ESPIRiT: the calibration region of k-space is all zero")
    n = int((s >= thresh * s[0]).sum())
    V = Vh[:n].T   # rows of A lie in the row space of Vh: column patches satisfy x = (V V^H) x  (C·K², n)
    K = kernel
    # projector onto the signal subspace, indexed [(c, q), (c', q')]
    Pm = (V @ V.conj().T).reshape(C, K * K, C, K * K).permute(0, 2, 1, 3)   # (C, C, q, q')
    # w(d) = Σ_{q − q' = d} P[c, c', q, q'], d in [−(K−1), K−1]²
    qy, qx = torch.meshgrid(torch.arange(K), torch.arange(K), indexing="ij")
    qy, qx = qy.flatten().to(kspace.device), qx.flatten().to(kspace.device)
    dy = (qy[:, None] - qy[None, :] + K - 1).flatten()
    dx = (qx[:, None] - qx[None, :] + K - 1).flatten()
    D = 2 * K - 1
    w = torch.zeros(C, C, D * D, dtype=A.dtype, device=A.device)
    w.index_add_(2, dy * D + dx, Pm.reshape(C, C, -1))
    w = w.reshape(C, C, D, D) / (K * K)
    # separable DFT of the taps onto the centred image grid: M(r) = Σ_d w(d) e^{+i2π r·d / N}
    rdt = A.real.dtype
    d = torch.arange(-(K - 1), K, dtype=rdt, device=A.device)
    ry = torch.arange(Y, dtype=rdt, device=A.device) - Y // 2
    rx = torch.arange(X, dtype=rdt, device=A.device) - X // 2
    Ey = torch.exp(2j * torch.pi * ry[:, None] * d[None, :] / Y).to(A.dtype)    # (Y, D)
    Ex = torch.exp(2j * torch.pi * rx[:, None] * d[None, :] / X).to(A.dtype)    # (X, D)
    wx = torch.einsum("abde,xe->abdx", w, Ex)                        # (C, C, D, X)
    # phase reference: the first principal component of the coils in the calibration data
    coil_pc = torch.linalg.svd(A.reshape(P, C, K * K).permute(1, 0, 2).reshape(C, -1),
                               full_matrices=False)[0][:, 0]          # (C,)
    maps = torch.empty(Y, X, C, dtype=A.dtype, device=A.device)
    for y0 in range(0, Y, chunk):
        M = torch.einsum("yd,abdx->yxab", Ey[y0:y0 + chunk], wx)     # (rows, X, C, C)
        M = 0.5 * (M + M.conj().transpose(-1, -2))                   # exact Hermitian for eigh
        evals, evecs = torch.linalg.eigh(M)
        v = evecs[..., -1]                                           # (rows, X, C), eigenvalue max
        ref = torch.einsum("c,yxc->yx", coil_pc.conj(), v)
        v = v * torch.exp(-1j * torch.angle(ref))[..., None]
        maps[y0:y0 + chunk] = v * (evals[..., -1] >= crop)[..., None]
    return maps.permute(2, 0, 1).to(kspace.dtype).contiguous()


#: Coil-map estimators selectable by mri-recon's ``coil_method`` option.
COIL_METHODS = {
    "espirit": "ESPIRiT eigenvector maps from the autocalibration region (Uecker et al. 2014)",
    "lowres": "low-resolution coil images of the windowed k-space centre divided by their root sum of squares",
}
